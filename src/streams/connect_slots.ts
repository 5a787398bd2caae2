/**
 * A bound on the TCP connection attempts one node has in flight.
 *
 * @module
 */

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

interface ConnectSlots {
  active: number;
  readonly waiting: (() => void)[];
}
const connectSlots = new WeakMap<object, ConnectSlots>();

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
  if (!slots) connectSlots.set(host, slots = { active: 0, waiting: [] });
  if (slots.active < MAX_CONNECTS_IN_FLIGHT) {
    slots.active++;
    return Promise.resolve();
  }
  const s = slots;
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      const i = s.waiting.indexOf(grant);
      if (i >= 0) s.waiting.splice(i, 1);
      reject(signal.reason);
    };
    const grant = () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    };
    if (signal.aborted) return reject(signal.reason);
    s.waiting.push(grant);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** @internal Returns a slot: the longest waiter gets it. */
export function giveConnectSlot(host: object): void {
  const slots = connectSlots.get(host)!;
  const next = slots.waiting.shift();
  if (next) next(); // the slot passes on
  else slots.active--;
}
