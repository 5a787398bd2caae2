/**
 * @internal What a node holds right now, for leak tests (not part of the API).
 *
 * @module
 */
import type { ReceiveCounters } from "../streams/receive_control.ts";
import type { ReceiveThread } from "../streams/receive_thread.ts";
import type { EventPump } from "./event_pump.ts";
import type { ZeroTierNode } from "./node.ts";

/** @internal Counts of what a node holds, for leak tests. */
export interface NodeInternals {
  /** Subscribers of each internal subject (events, online, networks, peers, peer updates). */
  readonly subscribers: Readonly<Record<string, number>>;
  /** Sockets tracked (as `openSockets`). */
  readonly sockets: number;
  /** Raw events received but not yet delivered. */
  readonly pendingEvents: number;
  /** libzt sockets the I/O thread holds for itself (its wake socket: 0 or 1). */
  readonly ioThreadSockets: number;
  /** Connections the I/O thread reads ahead now. */
  readonly readingConnections: number;
  /** What the I/O thread did so far (absent without one). */
  readonly receiveCounters?: ReceiveCounters;
  /** The I/O thread's control block and each ring's header now (absent without one). */
  readonly receiveState?: {
    control: Record<string, number>;
    rings: { fd: number; state: string }[];
  };
}

/** @internal The counts of a node made of `pump`, `sockets` open sockets and `receiver`. */
export function describeInternals(
  pump: EventPump,
  sockets: number,
  receiver: ReceiveThread | undefined,
): NodeInternals {
  return {
    subscribers: pump.subscribers,
    sockets,
    pendingEvents: pump.pending,
    ioThreadSockets: receiver?.wakeSocketOpen ? 1 : 0,
    readingConnections: receiver?.attached ?? 0,
    receiveCounters: receiver?.counters,
    receiveState: receiver ? { control: receiver.controlState, rings: receiver.rings } : undefined,
  };
}

let internalsOf: (node: ZeroTierNode) => NodeInternals;

/** @internal Called once by `ZeroTierNode`, which alone can read its private fields. */
export function exposeInternals(read: (node: ZeroTierNode) => NodeInternals): void {
  internalsOf = read;
}

/**
 * @internal What a node holds right now (for leak tests; not part of the API).
 *
 * @example
 * ```ts
 * console.log(nodeInternals(node).subscribers.events);
 * ```
 */
export function nodeInternals(node: ZeroTierNode): NodeInternals {
  return internalsOf(node);
}
