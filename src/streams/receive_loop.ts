/**
 * The loop a node's I/O thread runs: it waits in libzt for data on every
 * connection being read, moves the bytes straight from lwIP into each
 * connection's receive ring, and wakes the JS thread in batches.
 *
 * Why a thread of its own: libzt's lwIP queues at most 128 segments per
 * connection while it advertises a ~1 MB window, so a reader a few
 * milliseconds late makes it drop a whole flight and the sender waits out a
 * ~1.5 s retransmission timeout. A JS thread busy with the app is late all
 * the time; this thread does nothing but read, so lwIP's queue is emptied as
 * fast as a C reader would.
 *
 * Why batched wakes: on a small machine every thread wake-up competes with
 * libzt's own threads, and waking the JS thread for each receive costs more
 * than it saves. So wake-ups adapt to the connection, like a NIC's adaptive
 * interrupt coalescing: while a connection streams (it delivered at least
 * {@link STREAMING_BYTES_PER_MS} since the reader's previous wake-up), a
 * parked reader is woken when {@link ReceiveTuning.wakeAfterBytes} arrived
 * (at most half its ring), or {@link ReceiveTuning.wakeWithinMs} after its
 * previous wake-up, whichever comes first. Slower traffic (request/response,
 * chat, a trickle) wakes it at once, so it pays no delay. A reader that is
 * busy (not parked) is never woken: it finds the bytes when it comes back.
 *
 * Waiting: in one `zts_bsd_poll` over the connections whose rings have room.
 * libzt offers no way to interrupt a poll, so the loop keeps a **wake
 * socket** in every poll: a TCP socket that is never connected. Shutting its
 * receiving side down (`zts_bsd_shutdown(fd, SHUT_RD)`, from the JS thread)
 * makes lwIP report it readable, which ends the poll; the loop then replaces
 * it, never while the JS thread is inside that shutdown (see `WAKE`: lwIP
 * frees a closed socket at once, and a shutdown running meanwhile crashed
 * the process). With nothing to read the loop sleeps in `Atomics.wait` and makes no
 * libzt calls at all.
 *
 * This module is plain TypeScript over {@link ReceiveCalls}; the backends'
 * worker entry points (`src/ffi/receive_worker_*.ts`) supply those calls.
 *
 * @module
 */
import { ERRNO } from "../ffi/codes.ts";
import { pollfdBytes, revents, setPollfd } from "../ffi/pollfd.ts";
import type { ReceiveCalls } from "../ffi/receive_calls.ts";
import { SOCK } from "../ffi/sockets.ts";
import { COMMAND, CONTROL, PHASE, takeCommands, WAKE } from "./receive_control.ts";
import { allocateRing, RING, RING_SERVICE_GONE, ringFill, type RingView } from "./receive_ring.ts";

/** When the JS thread is woken (see the module comment). */
export interface ReceiveTuning {
  /** Wake a parked reader once this many bytes arrived since its last wake-up. */
  readonly wakeAfterBytes: number;
  /** ... or once this many milliseconds passed since its last wake-up. */
  readonly wakeWithinMs: number;
}

/** Messages the I/O thread posts to the JS thread. */
export type ReceiveMessage =
  | { readonly kind: "ring"; readonly fd: number; readonly buffer: SharedArrayBuffer }
  | { readonly kind: "detached"; readonly fd: number }
  | { readonly kind: "stopped" }
  | { readonly kind: "failed"; readonly message: string };

/** Time as the loop sees it (a test supplies its own). */
export interface LoopClock {
  /** Milliseconds, for the wake-up batching. */
  now(): number;
  /** Sleeps while `control[CONTROL.SEQ]` is `seq`, at most `timeoutMs` (Infinity: no limit). */
  sleep(control: Int32Array, seq: number, timeoutMs: number): void;
}

const REAL_CLOCK: LoopClock = {
  now: () => performance.now(),
  sleep: (control, seq, timeoutMs) => void Atomics.wait(control, CONTROL.SEQ, seq, timeoutMs),
};

/** How long a poll waits when nothing is due: only a lost wake-up would need it. */
const IDLE_POLL_MS = 1000;
/** ... and without a wake socket (none could be made), when new work must be seen soon. */
const BLIND_POLL_MS = 10;

/**
 * A connection that delivered at least this many bytes per millisecond (8 MB/s)
 * between two wake-ups of its reader is streaming: its wake-ups are batched.
 */
export const STREAMING_BYTES_PER_MS = 8 * 1024;

interface Reading {
  readonly fd: number;
  readonly ring: RingView;
  /** Bytes written while the reader was parked, since its last wake-up. */
  unwoken: number;
  lastWake: number;
  /** `WRITTEN` at the last wake-up, for the rate. */
  writtenAtWake: number;
  /** Whether the connection streamed between the reader's last two wake-ups. */
  streaming: boolean;
  endTold: boolean;
}

/**
 * Runs the I/O thread's loop until the control block says stop (or libzt's
 * service is gone and the JS thread then says stop). Posts the rings it
 * allocates, detach acknowledgements and a final `stopped`.
 */
export function runReceiveLoop(
  control: Int32Array,
  calls: ReceiveCalls,
  post: (message: ReceiveMessage) => void,
  tuning: ReceiveTuning,
  clock: LoopClock = REAL_CLOCK,
): void {
  const { now, sleep } = clock;
  const tally = (slot: number) => Atomics.add(control, slot, 1);
  const readings = new Map<number, Reading>();
  let pollfds = new Uint8Array(pollfdBytes(16));
  let view = new DataView(pollfds.buffer);
  let serviceGone = false;
  let wakeFd = -1;

  const wake = (r: Reading, now: number) => {
    const written = Atomics.load(r.ring.header, RING.WRITTEN);
    r.streaming =
      ((written - r.writtenAtWake) >>> 0) >= STREAMING_BYTES_PER_MS * (now - r.lastWake);
    r.writtenAtWake = written;
    r.unwoken = 0;
    r.lastWake = now;
    Atomics.add(r.ring.header, RING.SEQ, 1);
    Atomics.notify(r.ring.header, RING.SEQ);
    tally(CONTROL.WAKES);
  };

  const end = (r: Reading, value: number) => {
    if (Atomics.load(r.ring.header, RING.END) === 0) Atomics.store(r.ring.header, RING.END, value);
  };

  // Retires the wake socket, but never while the JS thread is shutting it down (see WAKE):
  // false then, and the caller tries again after its next poll (which returns at once).
  const retireWakeSocket = (): boolean => {
    if (wakeFd < 0) return true;
    for (;;) {
      const held = Atomics.load(control, CONTROL.WAKE_ARMED);
      if (held === WAKE.SHUTTING) return false;
      if (Atomics.compareExchange(control, CONTROL.WAKE_ARMED, held, WAKE.RETIRED) === held) break;
    }
    Atomics.store(control, CONTROL.WAKE_FD, -1);
    calls.close(wakeFd);
    wakeFd = -1;
    return true;
  };

  // Reads what lwIP holds for `r`, at most to the end of its free room.
  const drain = (r: Reading) => {
    const { header, data, capacity } = r.ring;
    for (let pass = 0; pass < 2; pass++) {
      const written = Atomics.load(header, RING.WRITTEN);
      const free = capacity - ((written - Atomics.load(header, RING.READ)) >>> 0);
      if (free === 0) return;
      const at = (written >>> 0) % capacity;
      const len = Math.min(free, capacity - at);
      let n = calls.recv(r.fd, data.subarray(at, at + len));
      tally(CONTROL.RECEIVES);
      if (n === -1) {
        const errno = calls.errno();
        if (errno === ERRNO.EAGAIN || errno === 0) return;
        // Where only libzt's global zts_errno can be read, other threads' calls overwrite
        // it: so a failure is believed only when a second receive fails too or finds the
        // end (lwIP keeps failing a broken connection; a host stack reports it once, then EOF).
        n = calls.recv(r.fd, data.subarray(at, at + len));
        tally(CONTROL.RECEIVES);
        if (n === 0) return end(r, -errno);
        if (n === -1) {
          const again = calls.errno();
          if (again === ERRNO.EAGAIN || again === 0) return;
          return end(r, -errno);
        }
      }
      if (n < -1) {
        serviceGone = true;
        return end(r, RING_SERVICE_GONE);
      }
      if (n === 0) return end(r, 1);
      Atomics.store(header, RING.WRITTEN, (written + n) | 0);
      r.unwoken += n;
      if (n < len) return; // lwIP had no more
    }
  };

  const command = (op: number, fd: number, arg: number) => {
    if (op === COMMAND.ATTACH) {
      const { buffer, ring } = allocateRing(arg);
      readings.set(fd, {
        fd,
        ring,
        unwoken: 0,
        lastWake: 0,
        writtenAtWake: 0,
        streaming: false,
        endTold: false,
      });
      if (serviceGone) Atomics.store(ring.header, RING.END, RING_SERVICE_GONE);
      post({ kind: "ring", fd, buffer });
    } else if (op === COMMAND.DETACH) {
      readings.delete(fd);
      post({ kind: "detached", fd });
    }
  };

  while (Atomics.load(control, CONTROL.STOP) === 0) {
    const seq = Atomics.load(control, CONTROL.SEQ);
    for (const c of takeCommands(control)) command(c.op, c.fd, c.arg);

    // The connections that can take data, and when the next batched wake-up is due.
    const active: Reading[] = [];
    let due = Infinity;
    for (const r of readings.values()) {
      const { header, capacity } = r.ring;
      if (Atomics.load(header, RING.END) !== 0 || serviceGone) continue;
      if (r.unwoken > 0 && r.streaming) due = Math.min(due, r.lastWake + tuning.wakeWithinMs);
      if (ringFill(r.ring) === capacity) {
        // Full: stop reading it until the reader frees half (it wakes us then). Look
        // again after raising the flag, in case the reader took bytes without seeing it.
        Atomics.store(header, RING.FULL, 1);
        if (ringFill(r.ring) === capacity) continue;
        Atomics.compareExchange(header, RING.FULL, 1, 0);
      }
      active.push(r);
    }
    const untilDue = due === Infinity ? -1 : Math.max(0, Math.ceil(due - now()));

    if (active.length === 0) {
      Atomics.store(control, CONTROL.PHASE, PHASE.SLEEPING);
      if (Atomics.load(control, CONTROL.SEQ) === seq) {
        tally(CONTROL.SLEEPS);
        sleep(control, seq, untilDue < 0 ? Infinity : untilDue);
      }
      Atomics.store(control, CONTROL.PHASE, PHASE.BUSY);
    } else {
      if (wakeFd < 0) {
        const fd = calls.socket();
        if (fd >= 0) {
          wakeFd = fd;
          Atomics.store(control, CONTROL.WAKE_FD, fd);
          Atomics.store(control, CONTROL.WAKE_ARMED, WAKE.IDLE);
        }
      }
      const count = active.length + (wakeFd >= 0 ? 1 : 0);
      if (pollfds.byteLength < pollfdBytes(count)) {
        pollfds = new Uint8Array(pollfdBytes(count * 2));
        view = new DataView(pollfds.buffer);
      }
      active.forEach((r, i) => setPollfd(view, i, r.fd, SOCK.POLLIN));
      if (wakeFd >= 0) setPollfd(view, active.length, wakeFd, SOCK.POLLIN);
      // Announce the poll, then look for new commands: the JS thread bumps SEQ before it
      // reads PHASE, so either it sees POLLING (and shuts the wake socket) or we see SEQ.
      Atomics.store(control, CONTROL.PHASE, PHASE.POLLING);
      const idle = wakeFd >= 0 ? IDLE_POLL_MS : BLIND_POLL_MS;
      const timeout = Atomics.load(control, CONTROL.SEQ) !== seq
        ? 0
        : untilDue < 0
        ? idle
        : Math.min(untilDue, idle);
      const ready = calls.poll(pollfds, count, timeout);
      Atomics.store(control, CONTROL.PHASE, PHASE.BUSY);
      tally(CONTROL.POLLS);
      if (ready < -1) {
        serviceGone = true;
        for (const r of active) end(r, RING_SERVICE_GONE);
      } else {
        if (
          wakeFd >= 0 &&
          (revents(view, active.length) !== 0 ||
            Atomics.load(control, CONTROL.WAKE_ARMED) !== WAKE.IDLE)
        ) {
          retireWakeSocket(); // used up: lwIP reports it readable from now on
        }
        active.forEach((r, i) => {
          const ev = revents(view, i);
          if (ev & SOCK.POLLNVAL) end(r, -9); // EBADF: closed under us, which rxzt never does
          else if (ev !== 0) drain(r);
        });
      }
    }

    const t = now();
    for (const r of readings.values()) {
      const { header } = r.ring;
      const ended = Atomics.load(header, RING.END) !== 0;
      if (r.unwoken === 0 && (!ended || r.endTold)) continue;
      if (Atomics.load(header, RING.WAITING) === 0) {
        // Not parked: the reader finds the bytes (and the end) when it comes back.
        r.unwoken = 0;
        if (ended) r.endTold = true;
        continue;
      }
      if (
        ended || !r.streaming ||
        r.unwoken >= Math.min(tuning.wakeAfterBytes, r.ring.capacity / 2) ||
        t >= r.lastWake + tuning.wakeWithinMs
      ) {
        if (ended) r.endTold = true;
        wake(r, t);
      }
    }
  }
  while (!retireWakeSocket()) { /* the JS thread is inside its shutdown: a moment */ }
  post({ kind: "stopped" });
}
