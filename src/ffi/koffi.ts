/**
 * The Node FFI backend: loads libzt with [koffi](https://koffi.dev) behind
 * the same {@link NativeLibrary} interface as the Deno backend (`deno.ts`),
 * so everything above `src/ffi/` is shared unchanged. Node-only; the npm
 * build registers it in `mod_node.ts`.
 *
 * How it maps the Deno backend's guarantees onto koffi:
 *
 * - **Event callback from libzt's thread.** A koffi callback called from a
 *   foreign thread is queued to the JS thread (a thread-safe function) and the
 *   calling thread waits until the JS handler has returned, exactly like
 *   `Deno.UnsafeCallback.threadSafe`: libzt's event pointer stays valid while
 *   the handler copies it. koffi's queue never keeps Node alive, so while a
 *   handler is registered a timer keeps the process running (the node is up);
 *   `releaseEventHandler()` drops that timer. The callback itself is never
 *   unregistered: libzt's thread may still hold the pointer.
 * - **Blocking calls off the JS thread.** `blocking` symbols (`zts_node_stop`,
 *   `zts_node_free`, `zts_bsd_poll`) run with koffi's `.async`, which uses
 *   libuv's threadpool. That pool is shared with Node's own `fs`, `dns`,
 *   `crypto` and `zlib` work and has `UV_THREADPOOL_SIZE` threads (default 4),
 *   read once when the pool starts, which in Node 20 is while the ES module
 *   loader reads the app's files, before any module code runs: a library
 *   cannot enlarge it, only the environment of the process can
 *   (`UV_THREADPOOL_SIZE=20 node app.mjs`). The readiness poller keeps up to
 *   {@link MAX_POLLS} polls in flight, each holding a thread for up to its timeout. So this
 *   backend never runs more blocking calls at once than
 *   {@link blockingCallLimit} of the pool (the pool minus the threads kept for
 *   Node's own work); further calls wait their turn in JS (a poll that must
 *   wait first looks without waiting, so a socket that is ready already
 *   goes on at once). When that leaves
 *   fewer threads than the poller's polls (any pool below 4 + MAX_POLLS), each poll is
 *   cut to {@link SHARED_POLL_TIMEOUT_MS}, so that a waiting socket gets a
 *   thread within milliseconds. Either way the event loop never stalls and
 *   Node's own I/O keeps threads; a pool of 4 + MAX_POLLS gives rxzt all its polls.
 * - **libzt stays loaded.** koffi unloads libraries at Node's teardown, while
 *   libzt's threads still run after `zts_node_stop`; see {@link pinLibrary}.
 *
 * @module
 */
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import koffi, { type LibraryHandle, type TypeObject } from "koffi";
import { LibraryLoadError } from "../errors.ts";
import { Semaphore } from "../semaphore.ts";
import { Worker } from "node:worker_threads";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  type ChildOutput,
  type HostInfo,
  MAX_POLLS,
  type NativeLibrary,
  type RawEvent,
  type ReceiveWorker,
  type ReceiveWorkerInit,
} from "./backend.ts";
import { findLibrary } from "./discover.ts";
import { copyEvent } from "./event_copy.ts";
import { SERVICE_STATE } from "./layout.ts";
import { inScratchDirectory } from "./scratch.ts";
import { type BoundSymbols, type CType, SYMBOLS } from "./symbols.ts";

/** libuv's own default threadpool size. */
const UV_DEFAULT_THREADS = 4;

/** libuv's threadpool size in this process (what libuv read at start: the environment, or 4). */
export function threadpoolSize(env: string | undefined = process.env.UV_THREADPOOL_SIZE): number {
  if (env === undefined) return UV_DEFAULT_THREADS;
  // As libuv reads it: atoi(), 0 (or no number) means 1, at most 1024.
  const n = parseInt(env, 10);
  return Number.isFinite(n) && n >= 1 ? Math.min(1024, n) : 1;
}

/**
 * How many blocking libzt calls may run at once for a libuv threadpool of
 * `poolSize` threads: the pool minus what Node keeps for its own work (a
 * quarter of the pool, at least 1 and at most 4; a pool of 1 is shared).
 *
 * @example
 * ```ts
 * blockingCallLimit(20); // 16: four threads stay free for fs, dns, crypto
 * blockingCallLimit(4); // 3 (Node's default pool)
 * ```
 */
export function blockingCallLimit(poolSize: number): number {
  const size = Number.isFinite(poolSize) && poolSize >= 1
    ? Math.floor(poolSize)
    : UV_DEFAULT_THREADS;
  if (size === 1) return 1;
  const reserved = Math.min(UV_DEFAULT_THREADS, Math.max(1, Math.floor(size / 4)));
  return size - reserved;
}

type KoffiFunction = ReturnType<LibraryHandle["func"]>;

const NATIVE: Record<CType, string> = {
  void: "void",
  i32: "int32_t",
  u32: "uint32_t",
  u16: "uint16_t",
  u64: "uint64_t",
  usize: "size_t",
  isize: "intptr_t",
  buf: "void *",
};

/** The host as Node sees it, for library discovery. */
export const nodeHost: HostInfo = {
  os: process.platform === "win32" ? "windows" : process.platform,
  env: (name) => process.env[name],
  isFile(path) {
    try {
      return statSync(path).isFile();
    } catch {
      return false;
    }
  },
};

/** Longest `zts_bsd_poll` when fewer threads than the poller's polls are available. */
export const SHARED_POLL_TIMEOUT_MS = 10;

// One koffi function as the symbol table's binding: u64 results as bigint, blocking calls as Promises.
function bind(
  name: string,
  f: KoffiFunction,
  result: CType,
  blocking: boolean,
  slots: Semaphore,
): (...args: unknown[]) => unknown {
  const big = result === "u64";
  // With fewer threads than polls (a small UV_THREADPOOL_SIZE chosen by the app), a long
  // poll would hold a thread other sockets wait for: keep each poll short instead.
  const clampPoll = name === "zts_bsd_poll" && slots.limit < MAX_POLLS;
  if (blocking) {
    return (...args) => {
      if (clampPoll && slots.exhausted) {
        // No thread free: first look without waiting (on this thread, it returns at once);
        // a socket that is ready already need not wait for a thread.
        const now = f(args[0], args[1], 0) as number;
        if (now !== 0) return Promise.resolve(now);
      }
      return slots.run(() =>
        new Promise((resolve, reject) => {
          if (clampPoll) {
            const t = args[2] as number;
            args[2] = t < 0 ? SHARED_POLL_TIMEOUT_MS : Math.min(t, SHARED_POLL_TIMEOUT_MS);
          }
          f.async(...args, (err: unknown, value: unknown) => {
            if (err) reject(err);
            else resolve(big ? BigInt(value as number | bigint) : value);
          });
        })
      );
    };
  }
  return big ? (...args) => BigInt(f(...args)) : f;
}

/** A copy of `size` bytes at `address` (the event copier's primitive). */
function copyMemory(address: bigint, size: number): ArrayBuffer {
  return koffi.view(address, size).slice(0);
}

// An exported variable's address, or undefined when the library lacks it.
function variable(lib: LibraryHandle, name: string): bigint | undefined {
  try {
    const ptr = lib.symbol(name) as bigint | null;
    return ptr ? ptr : undefined;
  } catch {
    return undefined;
  }
}

let eventProto: TypeObject | undefined;

/** `RTLD_NOW | RTLD_NODELETE` for the platform's dlopen. */
const PIN_FLAGS = process.platform === "darwin" ? 0x2 | 0x80 : 0x2 | 0x1000;

/**
 * Keeps libzt mapped until the process is gone. koffi unloads (dlclose) its
 * libraries when Node tears down, while libzt's own threads (lwIP, the
 * service) still run after `zts_node_stop`: they would then execute unmapped
 * code (seen here as a SIGSEGV at exit in about one run in four). A second
 * dlopen with `RTLD_NODELETE`, never closed, makes the loader keep it.
 * Returns false when libc's dlopen could not be reached.
 */
function pinLibrary(path: string): boolean {
  try {
    const self = koffi.load(null as unknown as string);
    const dlopen = self.func("dlopen", "void *", ["const char *", "int"]);
    return dlopen(path, PIN_FLAGS) !== null;
  } catch {
    return false;
  }
}

/**
 * Loads libzt through koffi.
 *
 * @param libraryPath explicit path; otherwise `LIBZT_PATH`, then the usual locations.
 * @throws {LibraryNotFoundError} when no library is found.
 * @throws {LibraryLoadError} when it cannot be loaded or lacks symbols.
 *
 * @example
 * ```ts
 * import { registerBackend } from "./runtime.ts";
 * registerBackend(openKoffiLibrary);
 * ```
 */
export function openKoffiLibrary(libraryPath?: string, host: HostInfo = nodeHost): NativeLibrary {
  const path = findLibrary(host, libraryPath);
  let lib: LibraryHandle;
  try {
    lib = koffi.load(path);
  } catch (cause) {
    throw LibraryLoadError.loadFailed(path, cause);
  }
  // At most this many blocking calls in flight, each holding a libuv thread.
  const slots = new Semaphore(blockingCallLimit(threadpoolSize()));
  const fns: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const [name, def] of Object.entries(SYMBOLS)) {
    try {
      const f = lib.func(name, NATIVE[def.result], def.parameters.map((t) => NATIVE[t]));
      fns[name] = bind(name, f, def.result, def.blocking ?? false, slots);
    } catch {
      missing.push(name); // collected and reported together
    }
  }
  eventProto ??= koffi.proto("void rxzt_zts_event_cb(void *msg)");
  let setEvent: KoffiFunction | undefined;
  try {
    setEvent = lib.func("zts_init_set_event_handler", "int32_t", [koffi.pointer(eventProto)]);
  } catch {
    missing.push("zts_init_set_event_handler");
  }
  const errnoPtr = variable(lib, "zts_errno");
  if (errnoPtr === undefined) missing.push("zts_errno");
  if (missing.length > 0) {
    lib.unload();
    throw LibraryLoadError.missingSymbols(path, missing);
  }
  pinLibrary(path);

  let callback: bigint | undefined;
  let handler: ((event: RawEvent) => void) | undefined;
  let keepAlive: ReturnType<typeof setInterval> | undefined;

  return {
    path,
    fn: fns as unknown as BoundSymbols,
    // The calling thread's errno as koffi saved it after the call (see NativeLibrary.errno).
    errno: () => koffi.errno(),
    setEventHandler(h) {
      handler = h;
      // koffi's thread-safe queue never keeps Node alive; a running node must.
      keepAlive ??= setInterval(() => {}, 1 << 30);
      // One native callback for the library's lifetime, never unregistered (libzt may hold it).
      callback ??= koffi.register((msgPtr: bigint | null) => {
        // Runs on the JS thread while libzt's callback thread waits: copy, hand over, return.
        const event = copyEvent(msgPtr ?? 0n, copyMemory);
        if (event) handler?.(event);
      }, koffi.pointer(eventProto!));
      return setEvent!(callback);
    },
    markCallbacksRunning() {
      const ptr = variable(lib, SERVICE_STATE.symbol);
      if (ptr === undefined) return false;
      const state = new Uint8Array(koffi.view(ptr, 1));
      state[0] |= SERVICE_STATE.callbacksRunning;
      return true;
    },
    addressOf(buffer) {
      return BigInt(koffi.address(buffer));
    },
    inScratchDirectory(files, fn) {
      return inScratchDirectory(() => mkdtempSync(join(tmpdir(), "rxzt-")), files, fn);
    },
    runRootSetSigner(cwd, request) {
      return runNodeRootSetSigner(cwd, request);
    },
    releaseEventHandler() {
      // Never unregister: libzt's thread may still call the pointer. Only stop keeping Node alive.
      if (keepAlive !== undefined) clearInterval(keepAlive);
      keepAlive = undefined;
    },
    startReceiveWorker(control, tuning) {
      return startNodeReceiveWorker({ path, control, tuning });
    },
  };
}

/**
 * Starts the I/O thread as a worker thread (the compiled `receive_worker_node.js`
 * beside this file). It is unref'd: a running node keeps the process alive
 * already, and a stopped one must not be kept alive by it.
 */
function startNodeReceiveWorker(init: ReceiveWorkerInit): ReceiveWorker {
  const worker = new Worker(new URL("./receive_worker_node.js", import.meta.url), {
    workerData: init,
    name: "rxzt I/O thread",
  });
  worker.unref();
  return {
    onMessage: (handler) => void worker.on("message", handler),
    onError: (handler) => void worker.on("error", handler),
    terminate: () => void worker.terminate(),
  };
}

/**
 * Runs the root-set signer (the compiled `rootset_child_node.js` beside this
 * file) with this Node in `cwd` (see `NativeLibrary.runRootSetSigner`).
 * `spawnSync` works on worker threads too.
 */
function runNodeRootSetSigner(cwd: string, request: string): ChildOutput {
  const script = fileURLToPath(new URL("./rootset_child_node.js", import.meta.url));
  const out = spawnSync(process.execPath, [script, request], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  if (out.error) {
    return {
      code: null,
      stdout: "",
      stderr: `${process.execPath} ${script}: ${out.error.message}`,
    };
  }
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
}
