/**
 * The internal interface between rxzt and a libzt FFI backend (Deno's
 * `Deno.dlopen` or koffi on Node). Everything above `src/ffi/` talks to libzt
 * only through this interface and never sees a pointer.
 *
 * @module
 */
import type { BoundSymbols } from "./symbols.ts";

/**
 * One event as copied out of libzt during its callback: the event code and a
 * private copy of each payload libzt attached. The copies stay valid after
 * the callback returns (libzt frees its own message at that point).
 */
export interface RawEvent {
  /** `ZTS_EVENT_*` code. */
  readonly code: number;
  readonly node?: DataView;
  readonly network?: DataView;
  readonly netif?: DataView;
  readonly route?: DataView;
  readonly peer?: DataView;
  readonly addr?: DataView;
  /** Bytes of `STORE_*` events. */
  readonly cache?: Uint8Array;
}

/** A loaded libzt, as the rest of rxzt sees it. */
export interface NativeLibrary {
  /** Path the library was loaded from. */
  readonly path: string;
  /** The functions of the symbol table, bound. */
  readonly fn: BoundSymbols;
  /**
   * The error number of the calling thread's last failed libzt call: the
   * thread's own C `errno`, which lwIP sets along with its global
   * `zts_errno`. The global is not used where the thread's errno can be read:
   * other threads' calls overwrite it (the I/O thread's receives set it at
   * every end of stream), so a failed send could read another socket's error.
   */
  errno(): number;
  /**
   * Registers `handler` with `zts_init_set_event_handler` and returns libzt's
   * result code. The handler runs on the JavaScript thread while libzt's
   * callback thread waits for it, so it must return quickly.
   */
  setEventHandler(handler: (event: RawEvent) => void): number;
  /**
   * Stops the registered handler from keeping the process alive. The native
   * callback is never freed: libzt's thread may still hold it.
   */
  releaseEventHandler(): void;
  /**
   * Works around a libzt 1.8 start race: `zts_node_start` creates the event
   * thread before it marks callbacks as running, and a thread that looks
   * first exits at once, so the node runs with no events at all (seen here in
   * about 1 start in 5 under load). Setting the mark before the start closes
   * the window. Returns false when the library has no such state to set
   * (not libzt 1.8, or the CI stand-in).
   */
  markCallbacksRunning(): boolean;
  /** Address of a buffer, for the one struct (`zts_root_set_t`) that holds pointers. */
  addressOf(buffer: Uint8Array): bigint;
  /**
   * Runs `fn` with a fresh private (0700) directory holding `files` (0600),
   * then deletes the directory. The working directory of this process is
   * left alone: the root-set signer runs there as a child process.
   */
  inScratchDirectory<T>(files: Record<string, Uint8Array>, fn: (dir: string) => T): T;
  /**
   * Runs the root-set signer (`rootset_child_deno.ts` / `rootset_child_node.js`)
   * in a child process of this runtime whose working directory is `cwd`, with
   * `request` as its argument, and waits for it (`zts_util_sign_root_set`
   * reads its keys from the working directory). Throws a `PermissionError`
   * when the runtime refuses to start it.
   */
  runRootSetSigner(cwd: string, request: string): ChildOutput;
  /** Starts an I/O thread that reads sockets with blocking libzt calls of its own. */
  startReceiveWorker(
    control: SharedArrayBuffer,
    tuning: ReceiveWorkerInit["tuning"],
  ): ReceiveWorker;
}

/**
 * Most `zts_bsd_poll` calls the layers above keep in flight at once (the
 * readiness poller's pool, `src/streams/poller.ts`): each holds a thread of
 * the backend's while it waits, so a backend sizes its threads by it.
 */
export const MAX_POLLS = 16;

/**
 * A node's I/O thread as the backend started it (a Deno `Worker`, a Node
 * worker thread): it opens the same libzt (one process, one library
 * instance) and runs `runReceiveLoop` (`src/streams/receive_loop.ts`).
 */
export interface ReceiveWorker {
  /** Called with every message the thread posts. */
  onMessage(handler: (message: unknown) => void): void;
  /** Called if the thread dies (a load error, a crash). */
  onError(handler: (error: unknown) => void): void;
  /** Ends the thread. */
  terminate(): void;
}

/** What an I/O thread is started with. */
export interface ReceiveWorkerInit {
  /** The library to open: the one this process loaded. */
  readonly path: string;
  /** The control block (`src/streams/receive_control.ts`). */
  readonly control: SharedArrayBuffer;
  /** Wake-up batching (`ReceiveTuning`). */
  readonly tuning: { readonly wakeAfterBytes: number; readonly wakeWithinMs: number };
}

/** What a backend reports of a child process it ran (the root-set signer). */
export interface ChildOutput {
  /** Exit code (null when killed by a signal). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Host facilities a backend needs to find a library, injected for testability. */
export interface HostInfo {
  /** `"linux"`, `"darwin"`, `"windows"`, ... */
  readonly os: string;
  /**
   * Reads an environment variable (undefined when unset). Throws a
   * `PermissionError` when the runtime refuses to read it.
   */
  env(name: string): string | undefined;
  /** Whether a regular file exists at `path`. Throws a `PermissionError` when the runtime refuses to look. */
  isFile(path: string): boolean;
}
