/**
 * lwIP's traffic counters (`zts_stats_counter_t`) as a plain object.
 *
 * @module
 */

/** Counters of one protocol layer. */
export interface LayerCounters {
  /** Packets sent. */
  readonly tx: number;
  /** Packets received. */
  readonly rx: number;
  /** Packets dropped. */
  readonly drop: number;
  /** Errors (checksum, length, memory, ...). */
  readonly err: number;
}

/** lwIP's counters for the whole node, by layer. */
export interface NodeStats {
  /** The virtual Ethernet link. */
  readonly link: LayerCounters;
  /** ARP. */
  readonly etharp: LayerCounters;
  /** IPv4. */
  readonly ip4: LayerCounters;
  /** IPv6. */
  readonly ip6: LayerCounters;
  /** ICMP. */
  readonly icmp4: LayerCounters;
  /** ICMPv6. */
  readonly icmp6: LayerCounters;
  /** UDP. */
  readonly udp: LayerCounters;
  /** TCP. */
  readonly tcp: LayerCounters;
  /** IPv6 neighbour discovery. */
  readonly nd6: LayerCounters;
}

const LAYERS = ["link", "etharp", "ip4", "ip6", "icmp4", "icmp6", "udp", "tcp", "nd6"] as const;

/** Decodes the 36 uint32 counters, four (tx, rx, drop, err) per layer. */
export function decodeStats(view: DataView): NodeStats {
  const out: Record<string, LayerCounters> = {};
  LAYERS.forEach((layer, i) => {
    const at = (k: number) => view.getUint32((i * 4 + k) * 4, true);
    out[layer] = { tx: at(0), rx: at(1), drop: at(2), err: at(3) };
  });
  return out as unknown as NodeStats;
}
