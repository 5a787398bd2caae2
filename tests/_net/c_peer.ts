/**
 * A libzt peer written in C against libzt's own API (bench/zt_bench.c),
 * built at run time against the user's libzt and run in a test network's
 * namespace: the benchmark's baseline, and tier 3's check of rxzt against
 * libzt itself rather than only against rxzt.
 *
 * @module
 */
import type { Host } from "./netns.ts";
import { withTimeout } from "./agent_client.ts";

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

const dirname = (p: string) => p.replace(/\/[^/]*$/, "") || "/";

/** The header's directory: LIBZT_INCLUDE, else <dir of LIBZT_PATH>/../include. */
function findInclude(libPath: string): string {
  const candidates = [Deno.env.get("LIBZT_INCLUDE"), `${dirname(libPath)}/../include`].filter((
    x,
  ): x is string => !!x);
  for (const dir of candidates) {
    try {
      Deno.statSync(`${dir}/ZeroTierSockets.h`);
      return dir;
    } catch { /* next */ }
  }
  throw new Error(
    `ZeroTierSockets.h not found (looked in ${
      candidates.join(", ")
    }): set LIBZT_INCLUDE to the directory ` +
      "holding libzt's header, which the C baseline is compiled against.",
  );
}

/**
 * Builds bench/zt_bench.c (a libzt peer written against libzt's own C API)
 * against the user's libzt `libzt`, into `dir`; returns the binary's path.
 *
 * @example
 * ```ts ignore
 * const bin = await buildCPeer(Deno.env.get("LIBZT_PATH")!, await Deno.makeTempDir());
 * ```
 */
export async function buildCPeer(libzt: string, dir: string): Promise<string> {
  const libPath = await Deno.realPath(libzt).catch(() => libzt);
  const include = findInclude(libzt);
  const libDir = dirname(libPath);
  const base = libPath.slice(libDir.length + 1);
  const link = base === "libzt.so" || base === "libzt.dylib" ? "-lzt" : `-l:${base}`;
  const out = `${dir}/zt_bench`;
  const src = new URL("../../bench/zt_bench.c", import.meta.url).pathname;
  const args = ["-O2", "-o", out, src, `-I${include}`, `-L${libDir}`, link, `-Wl,-rpath,${libDir}`];
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command("cc", { args, stdout: "piped", stderr: "piped" }).output();
  } catch (err) {
    throw new Error(`cannot run cc to build the C baseline: ${(err as Error).message}`);
  }
  if (!result.success) {
    throw new Error(`cc ${args.join(" ")} failed:\n${new TextDecoder().decode(result.stderr)}`);
  }
  return out;
}

/**
 * A zt_bench process in a namespace: its JSON stdout lines and its stderr.
 *
 * @example
 * ```ts ignore
 * const server = new CProcess("zt_bench server", host, bin, [planet, network, "server", "7100"]);
 * const ready = await server.next<{ address: string }>(60_000);
 * ```
 */
export class CProcess {
  readonly #proc: Deno.ChildProcess;
  readonly #out: AsyncGenerator<string>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  stderr = "";
  readonly exited: Promise<Deno.CommandStatus>;

  constructor(
    readonly name: string,
    host: Host,
    bin: string,
    args: string[],
    env: Record<string, string> = {},
  ) {
    const proc = new Deno.Command("ip", {
      args: ["netns", "exec", host.ns, bin, ...args],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#proc = proc;
    this.#stdin = proc.stdin.getWriter();
    this.exited = proc.status;
    this.#out = lines(proc.stdout);
    (async () => {
      for await (const line of lines(proc.stderr)) this.stderr += line + "\n";
    })().catch(() => {});
  }

  /** Writes one line to its stdin (a client with ZT_BENCH_STEP=1 starts a transfer). */
  async send(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  /** The next JSON line on stdout. */
  async next<T>(limitMs: number): Promise<T> {
    const r = await withTimeout(this.#out.next(), limitMs, this.name).catch((err) => {
      throw new Error(`${err.message}\n${this.name} stderr:\n${this.stderr}`);
    });
    if (r.done) {
      const status = await this.exited;
      throw new Error(
        `${this.name} exited (code ${status.code}) without a result; stderr:\n${this.stderr}`,
      );
    }
    return JSON.parse(r.value) as T;
  }

  kill() {
    try {
      this.#proc.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}
