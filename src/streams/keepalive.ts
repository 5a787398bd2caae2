/**
 * TCP keep-alive: the settings a connection probes a silent peer with, and
 * the default every connection starts with.
 *
 * @module
 */

/** TCP keep-alive settings, in seconds (idle time, probe interval) and probes. */
export interface KeepAlive {
  /** Seconds without a received segment before the first probe. */
  readonly idle: number;
  /** Seconds between probes. */
  readonly interval: number;
  /** Unanswered probes that fail the connection. */
  readonly count: number;
}

/**
 * Keep-alive every TCP connection starts with unless the node's `keepAlive`
 * start option says otherwise: probes after `idle` seconds without a received
 * segment, every `interval` seconds, and `count` unanswered ones fail the
 * connection with `ECONNABORTED`. So a killed peer is noticed at most
 * idle + interval × count = 300 s after it was last heard from.
 *
 * Why so long: lwIP counts that time from the last segment *received*, even
 * while data waits for retransmission, and ZeroTier may keep sending into a
 * cut direct path for a while: 42–87 s when both ends fall silent (ZeroTier
 * forgets the peer and finds it anew through a root), but up to the path's
 * expiry, 243 s after the last packet on it, when the peer's own traffic
 * still arrives through the root. A probe every 15 s gets through within
 * 15 s of the reroute; the bound must outlast the reroute itself. Change it
 * per connection with `conn.setKeepAlive()`.
 *
 * @example
 * ```ts ignore
 * conn.setKeepAlive(true, { idle: 5, interval: 1, count: 3 }); // notice within ~8 s
 * conn.setKeepAlive(false); // never probe (a vanished peer then goes unnoticed)
 * ```
 */
export const DEFAULT_KEEPALIVE: KeepAlive = Object.freeze({ idle: 60, interval: 15, count: 16 });
