/**
 * Readiness polling shared by every socket of a node.
 *
 * Why this design: libzt's blocking calls would freeze the JS thread, and one
 * blocking call per socket on a worker thread would cost one OS thread per
 * idle connection (libzt allows ~1024 sockets). So sockets are non-blocking;
 * reads and writes are tried directly on the JS thread, and only when one
 * would block does the socket wait here, in a `zts_bsd_poll` call that runs
 * off the JS thread.
 *
 * libzt cannot wake a thread blocked in `zts_bsd_poll` (no loopback interface
 * for a wake pipe). So instead of one poll that new sockets would have to
 * wait out, a socket that starts waiting while no poll in flight covers it
 * gets a poll of its own at once, covering every socket not yet covered: a
 * bounded pool of at most {@link MAX_POLLS} concurrent polls. Busy sockets
 * therefore add no timeout latency, and polls can use a long timeout
 * ({@link POLL_TIMEOUT_MS}), so an idle node makes few polls. Only when all
 * polls of the pool are in flight does a new waiter wait for one to return.
 *
 * A socket is never closed while a poll that includes it is in flight:
 * `release()` defers the close until the last such poll returns.
 *
 * @module
 */
import { NodeStateError } from "../errors.ts";
import { MAX_POLLS } from "../ffi/backend.ts";
import { pollfdBytes, revents as reventsAt, setPollfd } from "../ffi/pollfd.ts";
import { SOCK, type SocketCalls } from "../ffi/sockets.ts";

/** Timeout of each poll: the most a deferred close waits. */
export const POLL_TIMEOUT_MS = 100;
const PROBLEM = SOCK.POLLERR | SOCK.POLLHUP | SOCK.POLLNVAL;

interface Waiter {
  readonly events: number;
  resolve(revents: number): void;
  reject(reason: unknown): void;
}

/** Shared readiness polling of one node's sockets. */
export class ReadinessPoller {
  readonly #calls: SocketCalls;
  readonly #waiters = new Map<number, Set<Waiter>>();
  /** How many polls in flight include each fd. */
  readonly #covered = new Map<number, number>();
  readonly #deferredClose = new Map<number, () => void>();
  readonly #inFlight = new Set<Promise<void>>();
  #launchScheduled = false;
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
      if (!this.#covered.get(fd)) this.#scheduleLaunch();
    });
  }

  /** Rejects every wait on `fd` (its socket is being closed). */
  cancel(fd: number, reason: unknown): void {
    const set = this.#waiters.get(fd);
    if (!set) return;
    this.#waiters.delete(fd);
    for (const w of set) w.reject(reason);
  }

  /** Runs `close` now, or once the last poll in flight that includes `fd` returns. */
  release(fd: number, close: () => void): void {
    if (this.#covered.get(fd)) this.#deferredClose.set(fd, close);
    else close();
  }

  /** Rejects all waits and refuses new ones (the node is stopping). */
  shutdown(reason: unknown): void {
    this.#closedReason = reason;
    for (const fd of [...this.#waiters.keys()]) this.cancel(fd, reason);
  }

  /** Resolves once no poll is in flight (and deferred closes have run). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  #remove(fd: number, waiter: Waiter): void {
    const set = this.#waiters.get(fd);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) this.#waiters.delete(fd);
  }

  // Batches the registrations of one turn of the event loop into one poll.
  #scheduleLaunch(): void {
    if (this.#launchScheduled) return;
    this.#launchScheduled = true;
    queueMicrotask(() => {
      this.#launchScheduled = false;
      this.#launch();
    });
  }

  #launch(): void {
    if (this.#closedReason !== undefined || this.#inFlight.size >= MAX_POLLS) return;
    const fds = [...this.#waiters.keys()].filter((fd) => !this.#covered.get(fd));
    if (fds.length === 0) return;
    const poll = this.#poll(fds);
    this.#inFlight.add(poll);
    poll.finally(() => {
      this.#inFlight.delete(poll);
      // Waiters left uncovered (the pool was full, or they came back): poll again.
      this.#launch();
    });
  }

  async #poll(fds: number[]): Promise<void> {
    const buf = new Uint8Array(pollfdBytes(fds.length));
    const view = new DataView(buf.buffer);
    fds.forEach((fd, i) => {
      let events = 0;
      for (const w of this.#waiters.get(fd) ?? []) events |= w.events;
      setPollfd(view, i, fd, events);
      this.#covered.set(fd, (this.#covered.get(fd) ?? 0) + 1);
    });
    let ready: number;
    try {
      this.polls++;
      ready = await this.#calls.poll(buf, fds.length, POLL_TIMEOUT_MS);
    } finally {
      for (const fd of fds) {
        const n = (this.#covered.get(fd) ?? 1) - 1;
        if (n > 0) {
          this.#covered.set(fd, n);
          continue;
        }
        this.#covered.delete(fd);
        const close = this.#deferredClose.get(fd);
        if (close) {
          this.#deferredClose.delete(fd);
          close();
        }
      }
    }
    if (ready < -1) {
      // ZTS_ERR_SERVICE: the node's service is gone; nothing will become ready again.
      this.shutdown(
        new NodeStateError("NODE_STOPPED", "The node stopped: its sockets are closed."),
      );
      return;
    }
    // ready -1 (EBADF): some entry is not an open socket; lwIP marks it POLLNVAL and its
    // waiters are woken below to find out, like any other readiness.
    fds.forEach((fd, i) => {
      const revents = reventsAt(view, i);
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
    // No yield to the timer queue here: Deno's timers tick in milliseconds, which would
    // cost every wake a millisecond. Sockets that wait again are batched by #scheduleLaunch.
  }
}
