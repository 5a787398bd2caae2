/**
 * The test side of tests/real/agent.ts: one agent process in a namespace,
 * called with JSON-lines commands.
 */
import type { Host } from "./netns.ts";

/** One agent process in a namespace. */
export class Agent {
  #proc: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #next = 1;
  #waiting = new Map<number, (msg: { ok: boolean; result?: unknown; error?: { code: string; message: string } }) => void>();
  readonly exited: Promise<Deno.CommandStatus>;

  constructor(readonly name: string, host: Host) {
    const proc = new Deno.Command("ip", {
      args: ["netns", "exec", host.ns, Deno.execPath(), "run", "-A", "--quiet", new URL("./agent.ts", import.meta.url).pathname],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: { LIBZT_PATH: Deno.env.get("LIBZT_PATH") ?? "" },
    }).spawn();
    this.#proc = proc;
    this.#writer = proc.stdin.getWriter();
    this.exited = proc.status;
    (async () => {
      let buf = "";
      for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const msg = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          this.#waiting.get(msg.id)?.(msg);
          this.#waiting.delete(msg.id);
        }
      }
    })();
  }

  async call<T = Record<string, unknown>>(cmd: string, args: Record<string, unknown> = {}, limitMs = 60_000): Promise<T> {
    const id = this.#next++;
    const reply = new Promise<{ ok: boolean; result?: unknown; error?: { code: string; message: string } }>(
      (resolve) => this.#waiting.set(id, resolve),
    );
    await this.#writer.write(new TextEncoder().encode(JSON.stringify({ id, cmd, ...args }) + "\n"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const msg = await Promise.race([
      reply,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${this.name}: ${cmd} got no answer in ${limitMs} ms`)), limitMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (!msg.ok) throw Object.assign(new Error(`${this.name}: ${cmd}: ${msg.error!.message}`), { code: msg.error!.code });
    return msg.result as T;
  }

  kill() {
    try {
      this.#proc.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}

