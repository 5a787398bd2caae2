/**
 * Tier-2 helpers around the CI test double `tests/native/zts_standin.c`:
 * building it (once per process, into a private temp dir), building other
 * small shared libraries for the loading tests, and binding its `standin_*`
 * control functions.
 *
 * A missing C compiler is a hard failure, never a skip: CI must run tier 2.
 */

/** Source of the stand-in. */
export const STANDIN_SOURCE: string = new URL("../native/zts_standin.c", import.meta.url).pathname;

let workDir: string | undefined;
let standin: string | undefined;

/** A private directory for this process's build artifacts (prefix differs from rxzt's `rxzt-`). */
export function buildDir(): string {
  if (workDir === undefined) {
    const dir = Deno.makeTempDirSync({ prefix: "rxzt_tier2_" });
    workDir = dir;
    // Removing the files is safe while the libraries stay mapped.
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* already gone */ }
    });
  }
  return workDir;
}

function compiler(): string {
  return Deno.env.get("CC") || "cc";
}

/**
 * Compiles a shared library with the system C compiler and returns its path.
 * `source` is a file path, or C code when `code` is set.
 */
export function buildSharedLibrary(
  name: string,
  source: { file: string } | { code: string },
  extraFlags: string[] = [],
): string {
  const dir = buildDir();
  let file: string;
  if ("file" in source) {
    file = source.file;
  } else {
    file = `${dir}/${name}.c`;
    Deno.writeTextFileSync(file, source.code);
  }
  const out = `${dir}/${name}.so`;
  const args = ["-shared", "-fPIC", "-O1", "-pthread", ...extraFlags, "-o", out, file];
  let result: Deno.CommandOutput;
  try {
    result = new Deno.Command(compiler(), { args, stdout: "piped", stderr: "piped" }).outputSync();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        `Tier-2 FFI tests need a C compiler to build the libzt stand-in, but \`${compiler()}\` was not found ` +
          "on PATH. Install one (e.g. `apt-get install build-essential`) or set CC. " +
          "These tests are required in CI and are never skipped.",
      );
    }
    throw err;
  }
  if (!result.success) {
    throw new Error(
      `Building ${name} failed: ${compiler()} ${args.join(" ")}\n${
        new TextDecoder().decode(result.stderr)
      }`,
    );
  }
  return out;
}

/**
 * Path of the stand-in, built on first use in this process:
 * `cc -shared -fPIC -O1 -pthread -o <tmp>/libzt_standin.so tests/native/zts_standin.c`.
 */
export function standinPath(): string {
  standin ??= buildSharedLibrary("libzt_standin", { file: STANDIN_SOURCE });
  return standin;
}

/**
 * Names of the libzt symbols the stand-in exports, read from its source (the
 * README: "the libzt ABI subset rxzt uses"). Independent of rxzt's own table.
 */
export function standinLibztSymbols(): string[] {
  const src = Deno.readTextFileSync(STANDIN_SOURCE);
  const names = new Set<string>();
  for (const m of src.matchAll(/^SD_API\s[^(;=]*?\b(zts_\w+)\s*(?:\(|=)/gm)) names.add(m[1]);
  for (const m of src.matchAll(/^SIMPLE_FLAG_SETTER\((zts_\w+)\s*,/gm)) names.add(m[1]);
  return [...names].sort();
}

const CONTROL = {
  standin_emit: { parameters: ["i32", "u64"], result: "void" },
  standin_emit_burst: { parameters: ["i32", "u64", "i32"], result: "void" },
  standin_dropped_events: { parameters: [], result: "u64" },
  standin_delivered_events: { parameters: [], result: "u64" },
  standin_event_thread_id: { parameters: [], result: "u64" },
  standin_current_thread_id: { parameters: [], result: "u64" },
  standin_handler_thread_is_caller: { parameters: [], result: "i32" },
  standin_set_online: { parameters: ["i32"], result: "void" },
  standin_peer_sequence: { parameters: ["u64", "i32"], result: "void" },
} as const;

/** The stand-in's test-only control API, with plain JS types. */
export interface StandinControl {
  /** One event of `code`; its payload is chosen by the code's kind, `id` names the network/peer. */
  emit(code: number, id?: bigint): void;
  /** `n` events at once; whatever does not fit the 1024-event queue is dropped (and counted). */
  emitBurst(code: number, id: bigint, n: number): void;
  dropped(): bigint;
  delivered(): bigint;
  eventThreadId(): bigint;
  currentThreadId(): bigint;
  handlerThreadIsCaller(): boolean;
  setOnline(online: boolean): void;
  peerSequence(peer: bigint, direct: boolean): void;
}

let control: StandinControl | undefined;

/**
 * Binds the control functions by opening the SAME stand-in file rxzt loads:
 * the dynamic loader hands back the same handle, so the globals are shared.
 */
export function standinControl(): StandinControl {
  if (control) return control;
  const lib = Deno.dlopen(standinPath(), CONTROL);
  const s = lib.symbols;
  const big = (v: number | bigint) => BigInt(v);
  control = {
    emit: (code, id = 0n) => s.standin_emit(code, id),
    emitBurst: (code, id, n) => s.standin_emit_burst(code, id, n),
    dropped: () => big(s.standin_dropped_events()),
    delivered: () => big(s.standin_delivered_events()),
    eventThreadId: () => big(s.standin_event_thread_id()),
    currentThreadId: () => big(s.standin_current_thread_id()),
    handlerThreadIsCaller: () => s.standin_handler_thread_is_caller() === 1,
    setOnline: (online) => s.standin_set_online(online ? 1 : 0),
    peerSequence: (peer, direct) => s.standin_peer_sequence(peer, direct ? 1 : 0),
  };
  return control;
}
