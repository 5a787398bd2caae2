/**
 * Peer liveness: which peers ZeroTier has had no way to for too long. A node
 * feeds it every peer state; once a peer stayed `UNREACHABLE` (no direct
 * path, no root reachable) for `timeoutMs`, it calls `onExpired` once for that
 * spell, and the node fails the peer's TCP connections.
 *
 * @module
 */
import { isNodeAddress } from "../addressing.ts";
import { PeerUnreachableError } from "../errors.ts";
import type { Closable } from "../streams/host.ts";
import type { TcpConn } from "../streams/tcp.ts";
import type { PeerState } from "./state.ts";

/**
 * How long a peer may stay `UNREACHABLE` before the node fails its TCP
 * connections with `PeerUnreachableError`, in milliseconds: the default of
 * the `peerUnreachableTimeout` start option. A node counts as offline ~30 s
 * after its roots stop answering, so the connections to a relayed peer fail
 * about a minute after this node lost its root, long before the keep-alive
 * bound (300 s) would fail them.
 *
 * @example
 * ```ts ignore
 * const node = await ZeroTierNode.start({ peerUnreachableTimeout: DEFAULT_PEER_UNREACHABLE_TIMEOUT * 2 });
 * ```
 */
export const DEFAULT_PEER_UNREACHABLE_TIMEOUT = 30_000;

/**
 * The timers a node's `peerUnreachableTimeout` start option asks for (its
 * default when `undefined`; none for `false`).
 */
export function unreachablePeersFor(
  option: number | false | undefined,
  onExpired: (peerId: string, unreachableMs: number) => void,
): UnreachablePeers | undefined {
  const timeoutMs = option ?? DEFAULT_PEER_UNREACHABLE_TIMEOUT;
  return timeoutMs === false ? undefined : new UnreachablePeers(timeoutMs, onExpired);
}

/** @internal Timers over peers' `UNREACHABLE` spells. */
export class UnreachablePeers {
  // undefined value: the spell's timer already fired (once per spell).
  readonly #timers = new Map<string, ReturnType<typeof setTimeout> | undefined>();
  readonly #timeoutMs: number;
  readonly #onExpired: (peerId: string, unreachableMs: number) => void;

  constructor(timeoutMs: number, onExpired: (peerId: string, unreachableMs: number) => void) {
    this.#timeoutMs = timeoutMs;
    this.#onExpired = onExpired;
  }

  /** Peers being timed now. */
  get watching(): number {
    return [...this.#timers.values()].filter((t) => t !== undefined).length;
  }

  /** Starts timing a peer that turned unreachable; stops when it is reached again. */
  update(peer: PeerState): void {
    const timer = this.#timers.get(peer.peerId);
    if (peer.link !== "UNREACHABLE") {
      if (timer !== undefined) clearTimeout(timer);
      this.#timers.delete(peer.peerId);
      return;
    }
    if (this.#timers.has(peer.peerId)) return;
    const since = performance.now();
    this.#timers.set(
      peer.peerId,
      setTimeout(() => {
        this.#timers.set(peer.peerId, undefined);
        this.#onExpired(peer.peerId, performance.now() - since);
      }, this.#timeoutMs),
    );
  }

  /** Cancels every timer. */
  dispose(): void {
    for (const timer of this.#timers.values()) {
      if (timer !== undefined) clearTimeout(timer);
    }
    this.#timers.clear();
  }
}

/**
 * Fails, with `PeerUnreachableError`, the TCP connections among `sockets`
 * whose remote address is `peerId`'s on one of `networkIds` (addresses a
 * controller assigned cannot be told apart: only 6PLANE, RFC 4193 and ad-hoc
 * IPv4 addresses encode the node id).
 */
export function failConnectionsOf(
  sockets: Iterable<Closable>,
  networkIds: readonly string[],
  peerId: string,
  unreachableMs: number,
): void {
  const reason = new PeerUnreachableError(peerId, unreachableMs);
  for (const socket of [...sockets]) {
    const remote = (socket as Partial<Pick<TcpConn, "remoteAddr">>).remoteAddr;
    if (remote?.transport !== "tcp") continue;
    if (networkIds.some((net) => isNodeAddress(remote.hostname, net, peerId))) {
      socket.terminate(reason);
    }
  }
}
