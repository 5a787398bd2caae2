/**
 * The control block a node's JS thread and its I/O thread share: the I/O
 * thread's state, its wake socket, and a queue of commands (start reading a
 * connection, stop reading it). Commands travel through shared memory, not
 * messages, because the I/O thread spends its life inside blocking libzt
 * calls and never returns to an event loop that could deliver them.
 *
 * @module
 */

/** Int32 slots of the control block. */
export const CONTROL = {
  /** 0 while running; 1 once the JS thread asked the I/O thread to stop. */
  STOP: 0,
  /** Bumped by the JS thread after each command or freed ring. */
  SEQ: 1,
  /** What the I/O thread is doing: {@link PHASE}. */
  PHASE: 2,
  /** The I/O thread's current wake socket (-1: none). */
  WAKE_FD: 3,
  /** Who holds the current wake socket: {@link WAKE}. */
  WAKE_ARMED: 4,
  /** Commands written (JS thread) and taken (I/O thread), running counts. */
  CMD_WRITTEN: 5,
  CMD_TAKEN: 6,
  /** Counters kept by the I/O thread (running, mod 2³²): polls made, receives, reader wake-ups, sleeps. */
  POLLS: 7,
  RECEIVES: 8,
  WAKES: 9,
  SLEEPS: 10,
} as const;

/** What the I/O thread has done so far (for tests and benchmarks). */
export interface ReceiveCounters {
  /** `zts_bsd_poll` calls. */
  readonly polls: number;
  /** `zts_bsd_recv` calls. */
  readonly receives: number;
  /** Times it woke a parked reader on the JS thread. */
  readonly wakes: number;
  /** Times it slept with nothing to read (no libzt call while asleep). */
  readonly sleeps: number;
}

/** The counters of a control block. */
export function readCounters(control: Int32Array): ReceiveCounters {
  const at = (i: number) => Atomics.load(control, i) >>> 0;
  return {
    polls: at(CONTROL.POLLS),
    receives: at(CONTROL.RECEIVES),
    wakes: at(CONTROL.WAKES),
    sleeps: at(CONTROL.SLEEPS),
  };
}

/**
 * Values of `CONTROL.WAKE_ARMED`. lwIP (built without full-duplex netconns)
 * frees a socket's state the moment it is closed, so the I/O thread must
 * never close its wake socket while the JS thread is shutting it down: the
 * JS thread takes it (`IDLE` → `SHUTTING`) before its shutdown and hands it
 * back (`SHUT`) after; the I/O thread retires only an `IDLE` or `SHUT` one
 * (→ `RETIRED`), and a fresh socket starts `IDLE`.
 */
export const WAKE = { IDLE: 0, SHUTTING: 1, SHUT: 2, RETIRED: 3 } as const;

/** Values of `CONTROL.PHASE`. */
export const PHASE = { BUSY: 0, SLEEPING: 1, POLLING: 2 } as const;

/** Command codes. */
export const COMMAND = {
  /** Start reading fd into a new ring of `arg` bytes (the ring comes back as a message). */
  ATTACH: 1,
  /** Stop reading fd and forget its ring (acknowledged by a message). */
  DETACH: 2,
} as const;

const HEADER_INTS = 16;
const COMMAND_INTS = 4;
/** Commands the queue holds; each connection has at most two outstanding. */
export const COMMAND_SLOTS = 8192;

/** A command as the I/O thread reads it. */
export interface Command {
  readonly op: number;
  readonly fd: number;
  readonly arg: number;
}

/** Allocates a control block. */
export function allocateControl(): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer((HEADER_INTS + COMMAND_SLOTS * COMMAND_INTS) * 4);
  const control = new Int32Array(buffer);
  control[CONTROL.WAKE_FD] = -1;
  return buffer;
}

/** Appends a command; false when the queue is full (the caller keeps it and tries later). */
export function pushCommand(control: Int32Array, command: Command): boolean {
  const written = Atomics.load(control, CONTROL.CMD_WRITTEN);
  if (((written - Atomics.load(control, CONTROL.CMD_TAKEN)) >>> 0) >= COMMAND_SLOTS) return false;
  const at = HEADER_INTS + ((written >>> 0) % COMMAND_SLOTS) * COMMAND_INTS;
  control[at] = command.op;
  control[at + 1] = command.fd;
  control[at + 2] = command.arg;
  Atomics.store(control, CONTROL.CMD_WRITTEN, (written + 1) | 0);
  return true;
}

/** Takes every queued command, in order. */
export function takeCommands(control: Int32Array): Command[] {
  const out: Command[] = [];
  let taken = Atomics.load(control, CONTROL.CMD_TAKEN);
  const written = Atomics.load(control, CONTROL.CMD_WRITTEN);
  while (taken !== written) {
    const at = HEADER_INTS + ((taken >>> 0) % COMMAND_SLOTS) * COMMAND_INTS;
    out.push({ op: control[at], fd: control[at + 1], arg: control[at + 2] });
    taken = (taken + 1) | 0;
  }
  Atomics.store(control, CONTROL.CMD_TAKEN, taken);
  return out;
}
