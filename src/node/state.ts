/**
 * Pure reducers from libzt events to the state rxzt publishes: one
 * {@link NetworkState} per joined network and one {@link PeerState} per peer,
 * and the rules read off that state (when a network is ready, which address
 * to send from, why a join failed). No I/O here, so they are unit-tested on
 * plain event objects.
 *
 * @module
 */
import type {
  AddrEvent,
  IpPrefix,
  NetworkEvent,
  NetworkInfo,
  PeerEvent,
  PeerInfo,
  RouteInfo,
} from "../ffi/events.ts";
import { NetworkError } from "../errors.ts";
import { type IpFamily, prefixContains } from "../ip.ts";

/** Where a network stands, as `network$` reports it. */
export type NetworkPhase =
  | "REQUESTING_CONFIGURATION"
  | "OK"
  | "ACCESS_DENIED"
  | "NOT_FOUND"
  | "PORT_ERROR"
  | "CLIENT_TOO_OLD"
  | "DOWN";

/** Phases after which a join cannot succeed. */
export const TERMINAL_PHASES: ReadonlySet<NetworkPhase> = new Set([
  "ACCESS_DENIED",
  "NOT_FOUND",
  "PORT_ERROR",
  "CLIENT_TOO_OLD",
  "DOWN",
]);

/** A network's state over time. */
export interface NetworkState {
  /** 16 hex digits. */
  readonly networkId: string;
  /** Where the network is: requesting its configuration, `OK`, or why it ended. */
  readonly status: NetworkPhase;
  /** The network's name (empty for ad-hoc networks or before the configuration came). */
  readonly name: string;
  /** MTU of the virtual interface, bytes. */
  readonly mtu: number;
  /** Whether members need the controller's authorization (`"private"`). */
  readonly type: "private" | "public";
  /** This node's MAC on the network. */
  readonly mac: string;
  /** Addresses the network configuration assigns to this node. */
  readonly assignedAddresses: readonly IpPrefix[];
  /** Routes the network configuration pushes. */
  readonly routes: readonly RouteInfo[];
  /** Addresses the node's stack has actually brought up (from `ADDR_*` events). */
  readonly addresses: readonly { readonly family: IpFamily; readonly address: string }[];
  /** IPv4 traffic can flow (libzt's `NETWORK_READY_IP4`). */
  readonly readyIPv4: boolean;
  /** IPv6 traffic can flow (libzt's `NETWORK_READY_IP6`). */
  readonly readyIPv6: boolean;
  /** The event that produced this state. */
  readonly lastEvent: string;
}

/** The state of a network rxzt knows nothing about yet. */
export function initialNetworkState(networkId: string): NetworkState {
  return {
    networkId,
    status: "REQUESTING_CONFIGURATION",
    name: "",
    mtu: 0,
    type: "private",
    mac: "",
    assignedAddresses: [],
    routes: [],
    addresses: [],
    readyIPv4: false,
    readyIPv6: false,
    lastEvent: "JOIN",
  };
}

function withConfig(state: NetworkState, info: NetworkInfo): NetworkState {
  return {
    ...state,
    status: info.status,
    name: info.name,
    mtu: info.mtu,
    type: info.type,
    mac: info.mac,
    assignedAddresses: info.assignedAddresses,
    routes: info.routes,
  };
}

/** Applies one `NETWORK_*` or `ADDR_*` event to a network's state. */
export function reduceNetwork(
  prev: NetworkState | undefined,
  event: NetworkEvent | AddrEvent,
): NetworkState {
  if ("addr" in event) {
    const state = prev ?? initialNetworkState(event.addr.networkId);
    const entry = { family: event.addr.family, address: event.addr.address };
    const others = state.addresses.filter((a) => a.address !== entry.address);
    const added = event.type === "ADDR_ADDED_IP4" || event.type === "ADDR_ADDED_IP6";
    return { ...state, addresses: added ? [...others, entry] : others, lastEvent: event.type };
  }
  const state = prev ?? initialNetworkState(event.network.networkId);
  const next = (patch: Partial<NetworkState>): NetworkState => ({
    ...state,
    ...patch,
    lastEvent: event.type,
  });
  switch (event.type) {
    case "NETWORK_REQ_CONFIG":
      return next({ status: "REQUESTING_CONFIGURATION" });
    case "NETWORK_OK":
    case "NETWORK_UPDATE":
      return { ...withConfig(state, event.network), lastEvent: event.type };
    case "NETWORK_READY_IP4":
      return { ...withConfig(state, event.network), readyIPv4: true, lastEvent: event.type };
    case "NETWORK_READY_IP6":
      return { ...withConfig(state, event.network), readyIPv6: true, lastEvent: event.type };
    case "NETWORK_READY_IP4_IP6":
      return {
        ...withConfig(state, event.network),
        readyIPv4: true,
        readyIPv6: true,
        lastEvent: event.type,
      };
    case "NETWORK_NOT_FOUND":
      return next({ status: "NOT_FOUND", readyIPv4: false, readyIPv6: false });
    case "NETWORK_ACCESS_DENIED":
      return next({ status: "ACCESS_DENIED", readyIPv4: false, readyIPv6: false });
    case "NETWORK_CLIENT_TOO_OLD":
      return next({ status: "CLIENT_TOO_OLD", readyIPv4: false, readyIPv6: false });
    case "NETWORK_DOWN":
      return next({ status: "DOWN", readyIPv4: false, readyIPv6: false, addresses: [] });
  }
}

/** Which readiness a wait asks of a network: either family (`"any"`), one, or `"both"`. */
export type Readiness = "any" | IpFamily | "both";

/** Whether a network is ready for `family` (see {@link Readiness}). */
export function isReady(state: NetworkState, family: Readiness): boolean {
  return family === "IPv4"
    ? state.readyIPv4
    : family === "IPv6"
    ? state.readyIPv6
    : family === "both"
    ? state.readyIPv4 && state.readyIPv6
    : state.readyIPv4 || state.readyIPv6;
}

/**
 * This node's address on the network whose assigned range holds
 * `destination`, to bind a socket to before it connects or sends there:
 * lwIP routes by source address, and would otherwise send through the last
 * network joined. `undefined` when no network's range holds it.
 */
export function sourceAddressFor(
  networks: Iterable<NetworkState>,
  destination: string,
): string | undefined {
  for (const n of networks) {
    for (const a of n.assignedAddresses) {
      if (prefixContains(a.address, a.prefixLength, destination)) return a.address;
    }
  }
  return undefined;
}

/** The error a join rejects with when its network ended in `status`. */
export function networkFailure(networkId: string, status: NetworkPhase): NetworkError {
  const detail: Record<string, string> = {
    NOT_FOUND: "not found: no controller answers for it (check the network id)",
    ACCESS_DENIED: "access denied: authorize this node on the network's controller",
    CLIENT_TOO_OLD: "the controller requires a newer ZeroTier client",
    PORT_ERROR: "libzt could not bring up the network's port",
    DOWN: "the network went down (left or destroyed)",
  };
  return new NetworkError(`NETWORK_${status}`, networkId, detail[status] ?? status);
}

/**
 * How a peer is reached: `DIRECT` (a direct path), `RELAY` (through a root)
 * or `UNREACHABLE` (no direct path and no root reachable: ZeroTier has no way
 * to it). libzt itself reports only direct and relayed peers; rxzt derives
 * `UNREACHABLE` from a relayed peer while this node is offline.
 */
export type PeerLink = "DIRECT" | "RELAY" | "UNREACHABLE";

/** A peer's state over time, as `peer$` reports it. */
export interface PeerState extends PeerInfo {
  /** How the peer is reached now. */
  readonly link: PeerLink;
  /**
   * What produced this state: a peer event (`PEER_DIRECT`, `PEER_RELAY`,
   * `PEER_PATH_DISCOVERED`, ...), or this node going offline or online, which
   * turns a relayed peer `UNREACHABLE` and back.
   */
  readonly lastEvent: PeerEvent["type"] | "NODE_OFFLINE" | "NODE_ONLINE";
  /** When it happened (`performance.now()` clock). */
  readonly changedAt: number;
}

/**
 * Applies one `PEER_*` event to a peer's state; `online` is whether this node
 * reaches a root now (see {@link PeerLink}).
 */
export function reducePeer(
  prev: PeerState | undefined,
  event: PeerEvent,
  online = true,
): PeerState {
  const reported: PeerLink = event.type === "PEER_DIRECT"
    ? "DIRECT"
    : event.type === "PEER_RELAY"
    ? "RELAY"
    : event.type === "PEER_UNREACHABLE"
    ? "UNREACHABLE"
    // Path events do not change how the peer is reached by themselves.
    : prev?.link ?? (event.peer.paths.length > 0 ? "DIRECT" : "RELAY");
  const link = reported === "RELAY" && !online ? "UNREACHABLE" : reported;
  return { ...event.peer, link, lastEvent: event.type, changedAt: event.receivedAt };
}

/**
 * A peer's state after this node went online or offline (`at`: when), or
 * `undefined` if its link does not change: offline, a relayed peer is
 * unreachable; online again, it is relayed again.
 */
export function reachPeer(peer: PeerState, online: boolean, at: number): PeerState | undefined {
  if (!online && peer.link === "RELAY") {
    return { ...peer, link: "UNREACHABLE", lastEvent: "NODE_OFFLINE", changedAt: at };
  }
  if (online && peer.link === "UNREACHABLE" && peer.lastEvent !== "PEER_UNREACHABLE") {
    return { ...peer, link: "RELAY", lastEvent: "NODE_ONLINE", changedAt: at };
  }
  return undefined;
}
