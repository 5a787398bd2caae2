/**
 * Send pacing of one TCP connection: keeps a bulk sender under a byte rate.
 *
 * Why: libzt's TCP advertises a 1 MB receive window but queues at most 128
 * segments (~350 kB) per connection on the receiving side. A sender that
 * keeps the pipe full overflows that queue whenever the receiving
 * application is a few milliseconds late, and each overflow costs a
 * retransmission timeout of ~1.5 s. Under a rate R the queue absorbs a
 * reader gap of ~350 kB / R (4 ms at the default rate) instead of ~2.5 ms at
 * the ~130 MB/s of a LAN.
 *
 * The account is kept in time, not with a timer per packet: each send moves
 * a due time forward by bytes / rate, and a sender that finds libzt's send
 * buffer full sleeps until that due time. Timers are coarse (Deno's fire
 * after ≥ 2 ms, Node's after ≥ 1 ms), so a sleep may overshoot; the account
 * then lets the next refills through without sleeping, and the average stays
 * at the rate in both runtimes. An idle sender earns at most
 * {@link PACING_BURST_MS} of credit, so it may send one send buffer at once.
 *
 * @module
 */

/** Default rate of a paced connection, in bytes per second (84 MB/s). */
export const DEFAULT_PACING_RATE = 84_000_000;
/** The most credit, in ms of sending at the rate, that an idle sender keeps. */
export const PACING_BURST_MS = 2;

/**
 * The pacing account of one connection.
 *
 * @example
 * ```ts
 * import { SendPacer } from "./pacing.ts";
 * const pacer = new SendPacer(84_000_000);
 * pacer.sent(168_000, 0); // 2 ms worth at 84 MB/s, sent at t = 0 ms
 * console.log(pacer.delay(0)); // 0: the idle sender's credit covered it
 * pacer.sent(168_000, 0);
 * console.log(pacer.delay(0)); // 2: wait 2 ms before refilling
 * ```
 */
export class SendPacer {
  /** Bytes per millisecond. */
  readonly #rate: number;
  /** When the bytes sent so far are due at the rate (ms, `performance.now()` clock). */
  #due = -Infinity;

  /** @param bytesPerSecond the rate to keep under (a positive number). */
  constructor(bytesPerSecond: number) {
    this.#rate = bytesPerSecond / 1000;
  }

  /** Accounts `bytes` sent at time `now` (ms). */
  sent(bytes: number, now: number): void {
    this.#due = Math.max(this.#due, now - PACING_BURST_MS) + bytes / this.#rate;
  }

  /** Milliseconds to wait at time `now` before sending more (0: send now). */
  delay(now: number): number {
    return Math.max(0, this.#due - now);
  }
}
