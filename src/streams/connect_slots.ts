/**
 * A bound on the TCP connection attempts one node has in flight.
 *
 * @module
 */
import { Semaphore } from "../semaphore.ts";

/**
 * Most connection attempts one node has in flight at once; more wait their
 * turn (within their timeout). Why: lwIP queues at most 128 connections a
 * listener has not accepted yet and resets the rest, which the client sees as
 * a refusal; a burst of hundreds of connects to one server must not make one.
 *
 * @example
 * ```ts ignore
 * // 200 at once: 64 connect, the others start as those finish.
 * const conns = await Promise.all(
 *   Array.from({ length: 200 }, () => node.connect({ hostname, port, timeout: 60_000 })),
 * );
 * ```
 */
export const MAX_CONNECTS_IN_FLIGHT = 64;

const connectSlots = new WeakMap<object, Semaphore>();

/**
 * @internal Waits for one of the node's connect slots (`host`: the node's
 * socket host); rejects with `signal.reason` when aborted first.
 *
 * @example
 * ```ts ignore
 * await takeConnectSlot(host, signal);
 * try { /* connect *\/ } finally { giveConnectSlot(host); }
 * ```
 */
export function takeConnectSlot(host: object, signal: AbortSignal): Promise<void> {
  let slots = connectSlots.get(host);
  if (!slots) connectSlots.set(host, slots = new Semaphore(MAX_CONNECTS_IN_FLIGHT));
  return slots.acquire(signal);
}

/** @internal Returns a slot: the longest waiter gets it. */
export function giveConnectSlot(host: object): void {
  connectSlots.get(host)!.release();
}
