/**
 * Driving `_agent.ts` processes (Deno or Node) inside test namespaces, from
 * either runtime: used by the npm tier-3 test and by bench/run.ts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { repoRoot, runtime, siblingScript } from "./_runtime.ts";

/** The runtimes an agent can run in. */
export type AgentRuntime = "deno" | "node";

/**
 * The command that starts an agent in `which` runtime. A Node agent runs the
 * compiled copy in the npm test project (`deno task test:npm` makes it;
 * RXZT_NPM_PROJECT names it), which imports the installed npm package.
 */
export function agentCommand(which: AgentRuntime): string[] {
  if (which === "deno") {
    const deno = runtime === "deno" ? process.execPath : "deno";
    return [
      deno,
      "run",
      "-A",
      "--quiet",
      "--config",
      join(repoRoot, "deno.json"),
      join(repoRoot, "tests/npm/_agent.ts"),
    ];
  }
  if (runtime === "node") return [process.execPath, siblingScript("_agent")];
  const project = process.env.RXZT_NPM_PROJECT ?? join(repoRoot, ".cache/npm_test");
  return ["node", join(project, "tests/_agent.js")];
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { code?: string; message: string };
}

/** One agent process in a namespace, driven by JSON lines. */
export class Agent {
  readonly #proc: ChildProcess;
  readonly #waiting = new Map<number, (msg: Reply) => void>();
  #next = 1;
  /** Resolves with the exit code (or the signal that ended it) once the process ended. */
  readonly exited: Promise<number | string | null>;

  constructor(
    readonly name: string,
    ns: string,
    readonly which: AgentRuntime,
    env: Record<string, string> = {},
  ) {
    const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
    for (const [k, v] of Object.entries(childEnv)) if (v === "") delete childEnv[k]; // "" unsets
    const proc = spawn("ip", ["netns", "exec", ns, ...agentCommand(which)], {
      stdio: ["pipe", "pipe", "pipe"],
      env: childEnv,
    });
    this.#proc = proc;
    this.exited = new Promise((resolve) =>
      proc.on("close", (code, signal) => resolve(code ?? signal))
    );
    let buf = "";
    proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: Reply;
        try {
          msg = JSON.parse(line);
        } catch {
          console.error(`[${name}] ${line}`);
          continue;
        }
        this.#waiting.get(msg.id)?.(msg);
        this.#waiting.delete(msg.id);
      }
    });
    proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      for (const line of chunk.trimEnd().split("\n")) console.error(`[${name} ${which}] ${line}`);
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
    let timer: ReturnType<typeof setTimeout> | undefined;
    const msg = await Promise.race([
      reply,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${this.name}: ${cmd} got no answer in ${limitMs} ms`)),
          limitMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    if (!msg.ok) {
      throw Object.assign(new Error(`${this.name}: ${cmd}: ${msg.error!.message}`), {
        code: msg.error!.code,
      });
    }
    return msg.result as T;
  }

  /** Stops the node, then waits for the process to exit by itself; kills it otherwise. */
  async stop(limitMs = 15_000): Promise<number | string | null> {
    try {
      await this.call("stop", {}, limitMs);
      this.#proc.stdin!.end();
      let timer: ReturnType<typeof setTimeout> | undefined;
      return await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${this.name} did not exit within ${limitMs} ms after stop`)),
            limitMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    } finally {
      this.kill();
    }
  }

  kill(): void {
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) this.#proc.kill("SIGKILL");
  }
}
