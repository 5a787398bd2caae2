/**
 * The driving side of tests/real/agent.ts: one agent process in a namespace,
 * called with JSON-lines commands. Used by the tier-3 tests, the benchmark
 * and the soak.
 */
import type { Host } from "./netns.ts";

type Reply = {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string };
};

/** How to start an agent. */
export interface AgentOptions {
  /** Extra `deno run` flags, e.g. `--cpu-prof` (default none). */
  readonly denoFlags?: readonly string[];
}

/** Lines of a byte stream. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) yield buf;
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

/** One agent process in a namespace. Its stderr, and any stdout line that is not a reply, is printed as `[name] line`. */
export class Agent {
  #proc: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #next = 1;
  #waiting = new Map<number, (msg: Reply) => void>();
  readonly exited: Promise<Deno.CommandStatus>;

  constructor(readonly name: string, host: Host, options: AgentOptions = {}) {
    const agent = new URL("./agent.ts", import.meta.url).pathname;
    const proc = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        host.ns,
        Deno.execPath(),
        "run",
        "-A",
        "--quiet",
        ...(options.denoFlags ?? []),
        agent,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { LIBZT_PATH: Deno.env.get("LIBZT_PATH") ?? "" },
    }).spawn();
    this.#proc = proc;
    this.#writer = proc.stdin.getWriter();
    this.exited = proc.status;
    (async () => {
      for await (const line of lines(proc.stdout)) {
        // Anything else on stdout (e.g. V8's --trace-gc) is passed on.
        if (!line.startsWith("{")) {
          console.error(`[${name}] ${line}`);
          continue;
        }
        const msg = JSON.parse(line) as Reply;
        this.#waiting.get(msg.id)?.(msg);
        this.#waiting.delete(msg.id);
      }
    })().catch(() => {});
    (async () => {
      for await (const line of lines(proc.stderr)) console.error(`[${name}] ${line}`);
    })().catch(() => {});
  }

  async call<T = Record<string, unknown>>(
    cmd: string,
    args: Record<string, unknown> = {},
    limitMs = 60_000,
  ): Promise<T> {
    const id = this.#next++;
    const reply = new Promise<Reply>((resolve) => this.#waiting.set(id, resolve));
    await this.#writer.write(new TextEncoder().encode(JSON.stringify({ id, cmd, ...args }) + "\n"));
    const msg = await withTimeout(reply, limitMs, `${this.name}: ${cmd}`);
    if (!msg.ok) {
      throw Object.assign(new Error(`${this.name}: ${cmd}: ${msg.error!.message}`), {
        code: msg.error!.code,
      });
    }
    return msg.result as T;
  }

  /** Stops the node and waits for the process to exit (so --cpu-prof files get written); kills it otherwise. */
  async stop(): Promise<void> {
    try {
      await this.call("stop", {}, 15_000);
      await withTimeout(this.exited, 15_000, `${this.name}: exit`);
    } catch {
      this.kill();
    }
  }

  kill() {
    try {
      this.#proc.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}
