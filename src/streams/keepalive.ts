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
 * idle + interval × count = 150 s after it was last heard from.
 *
 * Why so long: lwIP counts that time from the last segment *received*, even
 * while data waits for retransmission, and ZeroTier reroutes through a root
 * only 42–87 s after a direct path is cut. lwIP retransmits 1.5, 4.5, 10.5,
 * 22.5, 46.5 and 94.5 s into an outage (then at 190.5 s), so the segment that
 * first gets through after such a failover is sent at 94.5 s at the latest:
 * a 150 s bound lets it through, where the former 50 s bound raced the
 * failover. Change it per connection with `conn.setKeepAlive()`.
 *
 * @example
 * ```ts ignore
 * conn.setKeepAlive(true, { idle: 5, interval: 1, count: 3 }); // notice within ~8 s
 * conn.setKeepAlive(false); // never probe (a vanished peer then goes unnoticed)
 * ```
 */
export const DEFAULT_KEEPALIVE: KeepAlive = Object.freeze({ idle: 60, interval: 10, count: 9 });
