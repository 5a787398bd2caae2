/**
 * The JS thread's side of a node's I/O thread: starts it, hands it the
 * connections to read (and takes them back before their sockets close), gets
 * each connection's receive ring, wakes the thread when it must look at new
 * work, and stops it before libzt stops.
 *
 * @module
 */
import { delay } from "../delay.ts";
import { NodeStateError, ZeroTierError } from "../errors.ts";
import { SOCK, type SocketCalls } from "../ffi/sockets.ts";
import {
  allocateControl,
  COMMAND,
  type Command,
  CONTROL,
  PHASE,
  pushCommand,
  readCounters,
  type ReceiveCounters,
  WAKE,
} from "./receive_control.ts";
import type { ReceiveWorker } from "../ffi/backend.ts";
import type { ReceiveMessage, ReceiveTuning } from "./receive_loop.ts";
import { RING_THREAD_FAILED, RingReader, viewRing } from "./receive_ring.ts";

/** Starts an I/O thread over a control block (the FFI backend's `startReceiveWorker`). */
export type StartReceiveWorker = (
  control: SharedArrayBuffer,
  tuning: ReceiveTuning,
) => ReceiveWorker;

/**
 * When the I/O thread wakes a parked reader on the JS thread (the
 * `receiveThread` start option's defaults): once 256 KiB arrived, or 2 ms
 * after its previous wake-up, whichever comes first; data after a quiet
 * spell wakes it at once. Measured with `deno task bench` (see the README's
 * Benchmark).
 *
 * @example
 * ```ts ignore
 * const node = await ZeroTierNode.start({ receiveThread: { ...DEFAULT_RECEIVE_TUNING, wakeWithinMs: 5 } });
 * ```
 */
export const DEFAULT_RECEIVE_TUNING: ReceiveTuning = Object.freeze({
  wakeAfterBytes: 256 * 1024,
  wakeWithinMs: 2,
});

/** How long `stop()` waits for the thread to leave its loop before ending it anyway. */
const STOP_GRACE_MS = 2000;

/** The JS thread's handle on a node's I/O thread. */
export class ReceiveThread {
  readonly #control: Int32Array;
  readonly #calls: SocketCalls;
  readonly #worker: ReceiveWorker;
  readonly #rings = new Map<number, { resolve(r: RingReader): void; reject(e: unknown): void }>();
  /** The connections handed to the thread, with their readers once the rings came. */
  readonly #attached = new Map<number, RingReader | undefined>();
  readonly #detaching = new Map<number, () => void>();
  readonly #overflow: Command[] = [];
  #failure: unknown;
  #stopped?: Promise<void>;
  #markStopped!: () => void;
  readonly #stoppedMessage = new Promise<void>((resolve) => (this.#markStopped = resolve));

  constructor(
    start: StartReceiveWorker,
    calls: SocketCalls,
    tuning: ReceiveTuning = DEFAULT_RECEIVE_TUNING,
  ) {
    const buffer = allocateControl();
    this.#control = new Int32Array(buffer);
    this.#calls = calls;
    this.#worker = start(buffer, tuning);
    this.#worker.onMessage((m) => this.#onMessage(m as ReceiveMessage));
    this.#worker.onError((e) => this.#fail(e));
  }

  /** Why the thread failed, once it did. */
  get failure(): unknown {
    return this.#failure;
  }

  /** What the thread has done so far. */
  get counters(): ReceiveCounters {
    return readCounters(this.#control);
  }

  /** Each connection handed to the thread and its ring's state now (for diagnostics). */
  get rings(): { fd: number; state: string }[] {
    return [...this.#attached].map(([fd, reader]) => ({
      fd,
      state: reader?.toString() ?? "ring not yet allocated",
    }));
  }

  /** The control block's state now (for diagnostics). */
  get controlState(): Record<string, number> {
    return Object.fromEntries(
      Object.entries(CONTROL).map(([k, i]) => [k, Atomics.load(this.#control, i)]),
    );
  }

  /** Whether the thread holds its wake socket now (a libzt socket of its own). */
  get wakeSocketOpen(): boolean {
    return Atomics.load(this.#control, CONTROL.WAKE_FD) >= 0;
  }

  /** How many connections the thread reads now. */
  get attached(): number {
    return this.#attached.size;
  }

  /**
   * Starts reading `fd` ahead of the app into a ring of `capacity` bytes;
   * resolves with the ring's reader once the thread allocated it.
   */
  attach(fd: number, capacity: number): Promise<RingReader> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#stopped) return Promise.reject(stoppedError());
    this.#attached.set(fd, undefined);
    return new Promise((resolve, reject) => {
      this.#rings.set(fd, { resolve, reject });
      this.#send({ op: COMMAND.ATTACH, fd, arg: capacity });
    });
  }

  /**
   * Runs `close` once the thread no longer reads `fd`: now if it never did,
   * else after it acknowledged the detach. (A socket must not close while a
   * poll of the thread includes it.)
   */
  release(fd: number, close: () => void): void {
    const detaching = this.#detaching.get(fd);
    if (detaching) { // detached already (the app stopped reading): close after the acknowledgement
      this.#detaching.set(fd, () => {
        detaching();
        close();
      });
      return;
    }
    if (!this.#attached.has(fd)) return close();
    this.#attached.delete(fd);
    this.#rings.get(fd)?.reject(stoppedError());
    this.#rings.delete(fd);
    if (this.#failure !== undefined || this.#stopped) return close();
    this.#detaching.set(fd, close);
    this.#send({ op: COMMAND.DETACH, fd, arg: 0 });
  }

  /** Tells the thread to look at its rings again (a reader freed room in a full one). */
  wake(): void {
    const control = this.#control;
    Atomics.add(control, CONTROL.SEQ, 1);
    Atomics.notify(control, CONTROL.SEQ);
    // Inside a poll the thread cannot see SEQ: end the poll through its wake socket, which the
    // thread does not close while we hold it (SHUTTING), so the fd read after taking it is live.
    if (Atomics.load(control, CONTROL.PHASE) !== PHASE.POLLING) return;
    if (
      Atomics.compareExchange(control, CONTROL.WAKE_ARMED, WAKE.IDLE, WAKE.SHUTTING) !== WAKE.IDLE
    ) return;
    const fd = Atomics.load(control, CONTROL.WAKE_FD);
    if (fd >= 0) this.#calls.shutdown(fd, SOCK.SHUT_RD);
    Atomics.store(control, CONTROL.WAKE_ARMED, WAKE.SHUT);
  }

  /**
   * Stops the thread (before libzt stops: it must not call into a stopped
   * service) and runs the closes that waited for detaches. Safe to call twice.
   */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      Atomics.store(this.#control, CONTROL.STOP, 1);
      this.wake();
      if (this.#failure === undefined) {
        const stopped = new AbortController();
        await Promise.race([
          this.#stoppedMessage,
          delay(STOP_GRACE_MS, { signal: stopped.signal }).catch(() => {}),
        ]);
        stopped.abort(); // the grace timer is not needed any more
      }
      this.#worker.terminate();
      this.#finish(stoppedError());
    })();
    return this.#stopped;
  }

  #send(command: Command): void {
    if (this.#overflow.length > 0 || !pushCommand(this.#control, command)) {
      this.#overflow.push(command);
    }
    this.wake();
  }

  #flushOverflow(): void {
    while (this.#overflow.length > 0 && pushCommand(this.#control, this.#overflow[0])) {
      this.#overflow.shift();
    }
  }

  #onMessage(m: ReceiveMessage): void {
    if (m.kind === "ring") {
      const pending = this.#rings.get(m.fd);
      this.#rings.delete(m.fd);
      if (pending) { // else released before the ring came; the detach follows
        const reader = new RingReader(viewRing(m.buffer), () => this.wake());
        this.#attached.set(m.fd, reader);
        pending.resolve(reader);
      }
    } else if (m.kind === "detached") {
      const close = this.#detaching.get(m.fd);
      this.#detaching.delete(m.fd);
      close?.();
    } else if (m.kind === "stopped") {
      this.#markStopped();
    } else {
      this.#fail(new Error(m.message));
    }
    if (this.#overflow.length > 0) {
      this.#flushOverflow();
      this.wake();
    }
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = new ZeroTierError(
      "RECEIVE_THREAD_FAILED",
      `rxzt's I/O thread failed, so TCP connections cannot be read: ${
        error instanceof Error ? error.message : String(error)
      }. ` +
        "Start the node with { receiveThread: false } to read on the JS thread instead.",
      { cause: error },
    );
    for (const reader of this.#attached.values()) reader?.interrupt(RING_THREAD_FAILED);
    this.#finish(this.#failure);
  }

  // Whatever waited on the thread gets its answer: pending rings fail, pending closes run.
  #finish(reason: unknown): void {
    for (const pending of this.#rings.values()) pending.reject(reason);
    this.#rings.clear();
    for (const close of this.#detaching.values()) close();
    this.#detaching.clear();
    this.#attached.clear();
  }
}

function stoppedError(): NodeStateError {
  return new NodeStateError("NODE_STOPPED", "The node stopped: its sockets are closed.");
}
