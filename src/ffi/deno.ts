/**
 * The Deno FFI backend: loads libzt with `Deno.dlopen` and receives its events
 * through a thread-safe `Deno.UnsafeCallback`. Deno-only; the npm build uses
 * the koffi backend instead.
 *
 * @module
 */
import { LibraryLoadError, PermissionError } from "../errors.ts";
import type {
  ChildOutput,
  HostInfo,
  NativeLibrary,
  ReceiveWorker,
  ReceiveWorkerInit,
} from "./backend.ts";
import { findLibrary } from "./discover.ts";
import { copyEvent } from "./event_copy.ts";
import { SERVICE_STATE } from "./layout.ts";
import { inScratchDirectory } from "./scratch.ts";
import { type BoundSymbols, type CType, SYMBOLS } from "./symbols.ts";

const NATIVE: Record<CType, Deno.NativeResultType> = {
  void: "void",
  i32: "i32",
  u32: "u32",
  u16: "u16",
  u64: "u64",
  usize: "usize",
  isize: "isize",
  buf: "buffer",
};

/** Whether `err` is Deno refusing an operation for lack of a permission. */
export function isPermissionDenial(err: unknown): boolean {
  return err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied;
}

/** The host as Deno sees it, for library discovery. */
export const denoHost: HostInfo = {
  os: Deno.build.os,
  env(name) {
    try {
      return Deno.env.get(name);
    } catch (cause) {
      if (!isPermissionDenial(cause)) throw cause;
      throw new PermissionError(
        [`--allow-env=${name}`],
        `rxzt cannot read the ${name} environment variable: run Deno with --allow-env=${name}.`,
        { cause },
      );
    }
  },
  isFile(path) {
    try {
      return Deno.statSync(path).isFile;
    } catch (cause) {
      if (!isPermissionDenial(cause)) return false;
      throw new PermissionError(
        [`--allow-read=${path}`],
        `rxzt cannot look for libzt at ${path}: run Deno with --allow-read=${path} ` +
          "(or --allow-read).",
        { cause },
      );
    }
  },
};

function buildDefinitions() {
  const defs: Record<string, Deno.ForeignFunction> = {};
  for (const [name, def] of Object.entries(SYMBOLS)) {
    defs[name] = {
      parameters: def.parameters.map((t) => NATIVE[t] as Deno.NativeType),
      result: NATIVE[def.result],
      nonblocking: def.blocking ?? false,
      optional: true, // missing symbols are collected and reported together
    };
  }
  defs.zts_init_set_event_handler = {
    parameters: ["function"],
    result: "i32",
    optional: true,
  };
  return defs;
}

const EVENT_CALLBACK = { parameters: ["pointer"], result: "void" } as const;

/** A copy of `size` bytes at `address` (the event copier's primitive). */
function copyMemory(address: bigint, size: number): ArrayBuffer {
  const bytes = new Uint8Array(size);
  Deno.UnsafePointerView.copyInto(Deno.UnsafePointer.create(address)!, bytes);
  return bytes.buffer;
}

/**
 * Runs `read` over a second, short-lived handle on the library at `path`
 * (for statics and lookups that need no lasting binding) and closes it; the
 * library stays loaded through its main handle.
 */
function lookUp<T>(
  path: string,
  definitions: Record<string, unknown>,
  read: (symbols: Record<string, unknown>) => T,
): T {
  const handle = Deno.dlopen(path, definitions as Record<string, Deno.ForeignFunction>);
  try {
    return read(handle.symbols as Record<string, unknown>);
  } finally {
    handle.close();
  }
}

/**
 * A reader of the calling thread's C `errno` (found through libzt's own
 * dependencies: `__errno_location` on Linux, `__error` on macOS), bound to
 * the thread that calls this. Falls back to libzt's global `zts_errno`
 * (`globalErrno`) where neither exists.
 */
export function threadErrno(path: string, globalErrno?: Deno.PointerValue): () => number {
  for (const name of ["__errno_location", "__error"]) {
    try {
      const definitions = { [name]: { parameters: [], result: "pointer", optional: true } };
      const ptr = lookUp(path, definitions, (symbols) => {
        const fn = symbols[name] as (() => Deno.PointerValue) | null;
        return fn?.();
      });
      if (ptr) {
        const view = new Deno.UnsafePointerView(ptr);
        return () => view.getInt32();
      }
    } catch { /* not this platform's name */ }
  }
  const view = globalErrno ? new Deno.UnsafePointerView(globalErrno) : undefined;
  return () => view?.getInt32() ?? 0;
}

function markCallbacksRunning(path: string): boolean {
  try {
    const definitions = { [SERVICE_STATE.symbol]: { type: "pointer", optional: true } };
    return lookUp(path, definitions, (symbols) => {
      const ptr = symbols[SERVICE_STATE.symbol] as Deno.PointerValue;
      if (!ptr) return false;
      const state = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, 1));
      state[0] |= SERVICE_STATE.callbacksRunning;
      return true;
    });
  } catch {
    return false;
  }
}

/**
 * rxzt needs `--allow-ffi` without a path: besides `Deno.dlopen(libzt)`
 * (which a path-scoped grant allows) it hands libzt buffers and a callback,
 * and Deno allows `Deno.UnsafePointer` and `Deno.UnsafeCallback` only with
 * unscoped FFI permission. Checked before loading, so that a scoped grant
 * fails here with a clear error rather than at the first pointer.
 */
function checkFfiPermission(path: string): void {
  try {
    Deno.UnsafePointer.of(new Uint8Array(1));
  } catch (cause) {
    if (isPermissionDenial(cause)) throw ffiPermissionError(path, cause);
    throw cause;
  }
}

function ffiPermissionError(path: string, cause: unknown): PermissionError {
  return new PermissionError(
    ["--allow-ffi"],
    `rxzt cannot use libzt (${path}) without FFI permission: run Deno with --allow-ffi. ` +
      "It must not be limited to a path (--allow-ffi=<path> is not enough): rxzt passes buffers " +
      "and a callback to libzt, which Deno allows only with --allow-ffi for all libraries.",
    { cause },
  );
}

/**
 * Loads libzt through `Deno.dlopen`.
 *
 * @param libraryPath explicit path; otherwise `LIBZT_PATH`, then the usual locations.
 * @throws {LibraryNotFoundError} when no library is found.
 * @throws {LibraryLoadError} when it cannot be loaded or lacks symbols.
 */
export function openDenoLibrary(libraryPath?: string, host: HostInfo = denoHost): NativeLibrary {
  const path = findLibrary(host, libraryPath);
  let lib: Deno.DynamicLibrary<Record<string, Deno.ForeignFunction>>;
  checkFfiPermission(path);
  try {
    lib = Deno.dlopen(path, buildDefinitions());
  } catch (cause) {
    if (isPermissionDenial(cause)) throw ffiPermissionError(path, cause);
    throw LibraryLoadError.loadFailed(path, cause);
  }
  const symbols = lib.symbols as unknown as Record<string, unknown>;
  // Deno wraps a missing optional nonblocking symbol instead of giving null, so
  // presence is checked with plain dlsym lookups (pointer statics) instead.
  const names = [...Object.keys(buildDefinitions()), "zts_errno"];
  const definitions = Object.fromEntries(
    names.map((n) => [n, { type: "pointer", optional: true }]),
  );
  const { missing, globalErrno } = lookUp(path, definitions, (present) => ({
    missing: names.filter((name) => present[name] == null),
    globalErrno: present.zts_errno as Deno.PointerValue,
  }));
  const errno = threadErrno(path, globalErrno);
  if (missing.length > 0) {
    lib.close();
    throw LibraryLoadError.missingSymbols(path, missing);
  }

  let callback: Deno.UnsafeCallback<typeof EVENT_CALLBACK> | undefined;
  const setEvent = symbols.zts_init_set_event_handler as (cb: Deno.PointerValue) => number;

  return {
    path,
    fn: symbols as unknown as BoundSymbols,
    errno,
    setEventHandler(handler) {
      if (callback) callback.unref();
      callback = Deno.UnsafeCallback.threadSafe(EVENT_CALLBACK, (msgPtr) => {
        // Runs on the JS thread while libzt's callback thread waits: copy, hand over, return.
        const event = copyEvent(msgPtr ? Deno.UnsafePointer.value(msgPtr) : 0n, copyMemory);
        if (event) handler(event);
      });
      return setEvent(callback.pointer);
    },
    markCallbacksRunning() {
      return markCallbacksRunning(path);
    },
    addressOf(buffer) {
      return BigInt(
        Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer as Uint8Array<ArrayBuffer>)),
      );
    },
    inScratchDirectory(files, fn) {
      return inScratchDirectory(() => Deno.makeTempDirSync({ prefix: "rxzt-" }), files, fn);
    },
    runRootSetSigner(cwd, request) {
      return runDenoRootSetSigner(cwd, request);
    },
    releaseEventHandler() {
      // Never close(): libzt's thread may still call the pointer. Unref lets the process exit.
      callback?.unref();
    },
    startReceiveWorker(control, tuning) {
      return startDenoReceiveWorker({ path, control, tuning });
    },
  };
}

/** Starts the I/O thread as a module Worker (it inherits this process's permissions). */
function startDenoReceiveWorker(init: ReceiveWorkerInit): ReceiveWorker {
  const worker = new Worker(new URL("./receive_worker_deno.ts", import.meta.url), {
    type: "module",
    name: "rxzt I/O thread",
  });
  worker.postMessage(init);
  return {
    onMessage(handler) {
      worker.onmessage = (e) => handler(e.data);
    },
    onError(handler) {
      worker.onerror = (e) => {
        e.preventDefault(); // the node's reads fail with a typed error instead of the process dying
        handler(e.error ?? new Error(e.message));
      };
    },
    terminate: () => worker.terminate(),
  };
}

/**
 * The signer's module, beside this one: a `file:` URL in a checkout or a
 * vendored copy, an `https:` URL when rxzt is imported from JSR (Deno then
 * fetches it once and runs it from its module cache, offline too).
 */
export const ROOT_SET_SIGNER_URL: string = new URL("./rootset_child_deno.ts", import.meta.url).href;

/**
 * The permissions the signer runs with: FFI only (unscoped, as here: it passes
 * libzt buffer addresses). `--no-config` keeps a `deno.json` of the scratch
 * directory's parents out of it, `--no-prompt` any permission prompt.
 */
export const ROOT_SET_SIGNER_FLAGS: readonly string[] = [
  "--quiet",
  "--no-prompt",
  "--no-config",
  "--allow-ffi",
];

/** Runs the root-set signer as `deno run` in `cwd` (see `NativeLibrary.runRootSetSigner`). */
function runDenoRootSetSigner(cwd: string, request: string): ChildOutput {
  const deno = Deno.execPath();
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command(deno, {
      args: ["run", ...ROOT_SET_SIGNER_FLAGS, ROOT_SET_SIGNER_URL, request],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
  } catch (cause) {
    if (!isPermissionDenial(cause)) throw cause;
    throw new PermissionError(
      [`--allow-run=${deno}`],
      `rxzt cannot start the process that signs the root set: run Deno with --allow-run=${deno} ` +
        "(or --allow-run). createRootSet signs in a child Deno process (deno run --allow-ffi) " +
        "because libzt keeps the signing keys in the working directory.",
      { cause },
    );
  }
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}
