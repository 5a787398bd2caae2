/**
 * The driving side of an agent (`agent.ts`): one ZeroTier node process in a
 * test network's namespace, in Deno or in Node, called with JSON-lines
 * commands. Works from either runtime; used by the tier-3 tests (tests/real,
 * tests/npm), the benchmark and the soak.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Host } from "./netns.ts";

/** The runtimes an agent can run in. */
export type AgentRuntime = "deno" | "node";

/** How to start an agent. */
export interface AgentOptions {
  /** The agent's runtime. Default: "deno". */
  readonly runtime?: AgentRuntime;
  /** Extra `deno run` flags, e.g. `--cpu-prof` (Deno agents; default none). */
  readonly denoFlags?: readonly string[];
  /** Environment on top of this process's ("" unsets a variable). */
  readonly env?: Readonly<Record<string, string>>;
}

/** How an agent process ended. */
export interface AgentExit {
  /** The exit code, or null when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, or null. */
  readonly signal: string | null;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { code?: string; message: string };
}

const thisRuntime: AgentRuntime = "Deno" in globalThis ? "deno" : "node";

/** The repository (for Node, the compiled tests live elsewhere: RXZT_REPO says where). */
const repoRoot: string = process.env.RXZT_REPO ??
  fileURLToPath(new URL("../..", import.meta.url));

/**
 * The command that starts an agent in `which` runtime. A Node agent runs the
 * compiled copy in the npm test project (`deno task test:npm` makes it;
 * RXZT_NPM_PROJECT names it), which imports the installed npm package.
 */
export function agentCommand(which: AgentRuntime, denoFlags: readonly string[] = []): string[] {
  if (which === "deno") {
    const deno = thisRuntime === "deno" ? process.execPath : "deno";
    return [
      deno,
      "run",
      "-A",
      "--quiet",
      ...denoFlags,
      "--config",
      join(repoRoot, "deno.json"),
      join(repoRoot, "tests/_net/agent.ts"),
    ];
  }
  if (thisRuntime === "node") {
    return [process.execPath, fileURLToPath(new URL("./agent.js", import.meta.url))];
  }
  const project = process.env.RXZT_NPM_PROJECT ?? join(repoRoot, ".cache/npm_test");
  return ["node", join(project, "tests/_net/agent.js")];
}

/** Rejects with "`what`: no answer in `ms` ms" unless `p` settles first. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * One agent process in a namespace, driven by JSON lines. Its stderr, and any
 * stdout line that is not a reply (e.g. V8's `--trace-gc`), is printed as
 * `[name] line`.
 */
export class Agent {
  readonly #proc: ChildProcess;
  readonly #waiting = new Map<number, (msg: Reply) => void>();
  #next = 1;
  /** The agent's runtime. */
  readonly which: AgentRuntime;
  /** Resolves once the process ended. */
  readonly exited: Promise<AgentExit>;

  /** Starts an agent named `name` in `host`'s namespace (a host, or a namespace's name). */
  constructor(readonly name: string, host: Host | string, options: AgentOptions = {}) {
    this.which = options.runtime ?? "deno";
    const childEnv: Record<string, string | undefined> = { ...process.env, ...options.env };
    for (const [k, v] of Object.entries(childEnv)) if (v === "") delete childEnv[k]; // "" unsets
    const ns = typeof host === "string" ? host : host.ns;
    const proc = spawn(
      "ip",
      ["netns", "exec", ns, ...agentCommand(this.which, options.denoFlags)],
      {
        stdio: ["pipe", "pipe", "pipe"],
        env: childEnv,
      },
    );
    this.#proc = proc;
    this.exited = new Promise((resolve) =>
      proc.on("close", (code, signal) => resolve({ code, signal }))
    );
    let buf = "";
    proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: Reply | undefined;
        try {
          msg = line.startsWith("{") ? JSON.parse(line) : undefined;
        } catch { /* not a reply */ }
        if (!msg) {
          console.error(`[${name}] ${line}`);
          continue;
        }
        this.#waiting.get(msg.id)?.(msg);
        this.#waiting.delete(msg.id);
      }
    });
    proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      for (const line of chunk.trimEnd().split("\n")) console.error(`[${name}] ${line}`);
    });
  }

  /** Sends a command and waits (at most `limitMs`) for its reply; a failed command rejects with its error code. */
  async call<T = Record<string, unknown>>(
    cmd: string,
    args: Record<string, unknown> = {},
    limitMs = 60_000,
  ): Promise<T> {
    const id = this.#next++;
    const reply = new Promise<Reply>((resolve) => this.#waiting.set(id, resolve));
    this.#proc.stdin!.write(JSON.stringify({ id, cmd, ...args }) + "\n");
    const msg = await withTimeout(reply, limitMs, `${this.name}: ${cmd}`);
    if (!msg.ok) {
      throw Object.assign(new Error(`${this.name}: ${cmd}: ${msg.error!.message}`), {
        code: msg.error!.code,
      });
    }
    return msg.result as T;
  }

  /**
   * Stops the node, then waits for the process to exit by itself (so
   * `--cpu-prof` files get written): resolves with its exit code (or the
   * signal that ended it); rejects if it did not stop and exit within
   * `limitMs` each. The process is killed either way if still there.
   */
  async stop(limitMs = 15_000): Promise<number | string | null> {
    try {
      await this.call("stop", {}, limitMs);
      this.#proc.stdin!.end();
      const { code, signal } = await withTimeout(this.exited, limitMs, `${this.name}: exit`);
      return code ?? signal;
    } finally {
      this.kill();
    }
  }

  /** Kills the process (SIGKILL) unless it already ended. */
  kill(): void {
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) this.#proc.kill("SIGKILL");
  }
}
