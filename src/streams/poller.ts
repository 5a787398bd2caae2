/**
 * One readiness poller shared by every socket of a node.
 *
 * Why this design: libzt's blocking calls would freeze the JS thread, and one
 * blocking call per socket on a worker thread would cost one OS thread per
 * idle connection (libzt allows ~1024 sockets). So sockets are non-blocking;
 * reads and writes are tried directly on the JS thread, and only when one
 * would block does the socket wait here. A single `zts_bsd_poll` call, run off
 * the JS thread, covers every waiting socket.
 *
 * libzt cannot wake a thread blocked in `zts_bsd_poll` (no loopback interface
 * for a wake pipe), so a socket that starts waiting while a poll is in flight
 * is picked up when that poll returns. Polls therefore use a short timeout
 * (1 ms) that doubles up to 20 ms while nothing happens, and drops back to
 * 1 ms as soon as a new socket starts waiting: the added latency is at most
 * one timeout, and an idle node makes at most 50 polls a second.
 *
 * A socket is never closed while a poll that includes it is in flight:
 * `release()` defers the close until that poll returns.
 *
 * @module
 */
import { NodeStateError } from "../errors.ts";
import { POLLFD_SIZE, SOCK, type SocketCalls } from "../ffi/sockets.ts";

const MIN_TIMEOUT_MS = 1;
const MAX_TIMEOUT_MS = 20;
const PROBLEM = SOCK.POLLERR | SOCK.POLLHUP | SOCK.POLLNVAL;

interface Waiter {
  readonly events: number;
  resolve(revents: number): void;
  reject(reason: unknown): void;
}

/** Shared readiness poller of one node's sockets. */
export class ReadinessPoller {
  readonly #calls: SocketCalls;
  readonly #waiters = new Map<number, Set<Waiter>>();
  readonly #inFlight = new Set<number>();
  readonly #deferredClose = new Map<number, () => void>();
  #buf = new Uint8Array(POLLFD_SIZE * 64);
  #running = false;
  #timeout = MIN_TIMEOUT_MS;
  #closedReason: unknown;
  /** Polls made, for tests and benchmarks. */
  polls = 0;

  constructor(calls: SocketCalls) {
    this.#calls = calls;
  }

  /**
   * Resolves with the poll flags once `fd` is ready for `events` (or has an
   * error or hang-up); rejects with `signal.reason` when aborted.
   */
  wait(fd: number, events: number, signal?: AbortSignal): Promise<number> {
    if (this.#closedReason !== undefined) return Promise.reject(this.#closedReason);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<number>((resolve, reject) => {
      let set = this.#waiters.get(fd);
      if (!set) this.#waiters.set(fd, set = new Set());
      const onAbort = () => {
        this.#remove(fd, waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        events,
        resolve: (r) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      set.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#timeout = MIN_TIMEOUT_MS;
      if (!this.#running) this.#run();
    });
  }

  /** Rejects every wait on `fd` (its socket is being closed). */
  cancel(fd: number, reason: unknown): void {
    const set = this.#waiters.get(fd);
    if (!set) return;
    this.#waiters.delete(fd);
    for (const w of set) w.reject(reason);
  }

  /** Runs `close` now, or once the poll in flight that includes `fd` returns. */
  release(fd: number, close: () => void): void {
    if (this.#inFlight.has(fd)) this.#deferredClose.set(fd, close);
    else close();
  }

  /** Rejects all waits and refuses new ones (the node is stopping). */
  shutdown(reason: unknown): void {
    this.#closedReason = reason;
    for (const fd of [...this.#waiters.keys()]) this.cancel(fd, reason);
  }

  #remove(fd: number, waiter: Waiter): void {
    const set = this.#waiters.get(fd);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) this.#waiters.delete(fd);
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#waiters.size > 0) {
        const fds = [...this.#waiters.keys()];
        if (this.#buf.length < fds.length * POLLFD_SIZE) this.#buf = new Uint8Array(fds.length * POLLFD_SIZE * 2);
        const view = new DataView(this.#buf.buffer);
        fds.forEach((fd, i) => {
          let events = 0;
          for (const w of this.#waiters.get(fd)!) events |= w.events;
          view.setInt32(i * POLLFD_SIZE, fd, true);
          view.setInt16(i * POLLFD_SIZE + 4, events, true);
          view.setInt16(i * POLLFD_SIZE + 6, 0, true);
          this.#inFlight.add(fd);
        });
        const timeout = this.#timeout;
        let ready: number;
        try {
          this.polls++;
          ready = await this.#calls.poll(this.#buf, fds.length, timeout);
        } finally {
          this.#inFlight.clear();
          for (const [fd, close] of this.#deferredClose) {
            this.#deferredClose.delete(fd);
            close();
          }
        }
        if (ready < -1) {
          // ZTS_ERR_SERVICE: the node's service is gone; nothing will become ready again.
          this.shutdown(new NodeStateError("NODE_STOPPED", "The node stopped: its sockets are closed."));
          return;
        }
        // -1 (EBADF): some entry is not an open socket; lwIP marks it POLLNVAL and its
        // waiters are woken below to find out, like any other readiness.
        if (ready === 0 || (ready === -1 && !fds.some((_, i) => view.getInt16(i * POLLFD_SIZE + 6, true) !== 0))) {
          this.#timeout = Math.min(MAX_TIMEOUT_MS, this.#timeout * 2);
          continue;
        }
        this.#timeout = MIN_TIMEOUT_MS;
        fds.forEach((fd, i) => {
          const revents = view.getInt16(i * POLLFD_SIZE + 6, true);
          if (revents === 0) return;
          const set = this.#waiters.get(fd);
          if (!set) return;
          for (const w of [...set]) {
            if ((w.events & revents) !== 0 || (revents & PROBLEM) !== 0) {
              set.delete(w);
              w.resolve(revents);
            }
          }
          if (set.size === 0) this.#waiters.delete(fd);
        });
        // Let the woken sockets run (read, write, wait again) before the next poll
        // starts, so they are in it instead of waiting out its timeout.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    } finally {
      this.#running = false;
    }
  }
}
