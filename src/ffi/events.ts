/**
 * Every libzt event (`ZTS_EVENT_*`, codes 200–274) as a typed discriminated
 * union of plain objects (decoded from libzt's bytes by `event_decode.ts`).
 *
 * @module
 */
import type { IpFamily } from "../ip.ts";
import type { SocketAddress } from "./sockaddr.ts";

/** Event names by libzt code. */
export const EVENT_CODES = {
  NODE_UP: 200,
  NODE_ONLINE: 201,
  NODE_OFFLINE: 202,
  NODE_DOWN: 203,
  NODE_FATAL_ERROR: 204,
  NETWORK_NOT_FOUND: 210,
  NETWORK_CLIENT_TOO_OLD: 211,
  NETWORK_REQ_CONFIG: 212,
  NETWORK_OK: 213,
  NETWORK_ACCESS_DENIED: 214,
  NETWORK_READY_IP4: 215,
  NETWORK_READY_IP6: 216,
  NETWORK_READY_IP4_IP6: 217,
  NETWORK_DOWN: 218,
  NETWORK_UPDATE: 219,
  STACK_UP: 220,
  STACK_DOWN: 221,
  NETIF_UP: 230,
  NETIF_DOWN: 231,
  NETIF_REMOVED: 232,
  NETIF_LINK_UP: 233,
  NETIF_LINK_DOWN: 234,
  PEER_DIRECT: 240,
  PEER_RELAY: 241,
  PEER_UNREACHABLE: 242,
  PEER_PATH_DISCOVERED: 243,
  PEER_PATH_DEAD: 244,
  ROUTE_ADDED: 250,
  ROUTE_REMOVED: 251,
  ADDR_ADDED_IP4: 260,
  ADDR_REMOVED_IP4: 261,
  ADDR_ADDED_IP6: 262,
  ADDR_REMOVED_IP6: 263,
  STORE_IDENTITY_SECRET: 270,
  STORE_IDENTITY_PUBLIC: 271,
  STORE_PLANET: 272,
  STORE_PEER: 273,
  STORE_NETWORK: 274,
} as const;

/** Name of any libzt event. */
export type EventType = keyof typeof EVENT_CODES;

const NAME_BY_CODE = new Map<number, EventType>(
  Object.entries(EVENT_CODES).map(([name, code]) => [code, name as EventType]),
);

/** The name of an event code, or `undefined` for codes libzt 1.8 does not define. */
export function eventName(code: number): EventType | undefined {
  return NAME_BY_CODE.get(code);
}

/** An address assigned on a network, or a route target: address and prefix length. */
export interface IpPrefix {
  /** `"IPv4"` or `"IPv6"`. */
  readonly family: IpFamily;
  /** The address in text form. */
  readonly address: string;
  /** The prefix length in bits (e.g. `24` for a /24). */
  readonly prefixLength: number;
}

/** The node's own identity and ports (payload of `NODE_*` events). */
export interface NodeInfo {
  /** 10 hex digits. */
  readonly nodeId: string;
  /** The UDP port ZeroTier listens on (9993 unless set with `port`). */
  readonly primaryPort: number;
  /** The secondary UDP port (0 when off). */
  readonly secondaryPort: number;
  /** The third UDP port libzt may use for port mapping (0 when off). */
  readonly tertiaryPort: number;
  /** libzt's ZeroTier core version, e.g. `"1.8.4"`. */
  readonly version: string;
}

/** Network configuration status as libzt reports it. */
export type NetworkStatus =
  | "REQUESTING_CONFIGURATION"
  | "OK"
  | "ACCESS_DENIED"
  | "NOT_FOUND"
  | "PORT_ERROR"
  | "CLIENT_TOO_OLD";

/** A route of a network. */
export interface RouteInfo {
  /** The destination the route covers; `undefined` when libzt gave none. */
  readonly target: IpPrefix | undefined;
  /** Gateway, when the route has one. */
  readonly via: string | undefined;
  /** ZeroTier's route flags (as libzt reports them). */
  readonly flags: number;
  /** Route metric; lower is preferred. */
  readonly metric: number;
}

/**
 * A network's configuration (payload of `NETWORK_*` events). Events that
 * carry only the id (`NOT_FOUND`, `REQ_CONFIG`, `DOWN`, ...) have the other
 * fields empty; the reducer in `network$` keeps the last full picture.
 */
export interface NetworkInfo {
  /** 16 hex digits. */
  readonly networkId: string;
  /** The node's MAC on this network, `aa:bb:cc:dd:ee:ff`. */
  readonly mac: string;
  /** The network's name as its controller sets it (empty for ad-hoc networks). */
  readonly name: string;
  /** Configuration status. */
  readonly status: NetworkStatus;
  /** Whether members need the controller's authorization (`"private"`). */
  readonly type: "private" | "public";
  /** MTU of the virtual interface, bytes. */
  readonly mtu: number;
  /** Whether the network assigns addresses by DHCP. */
  readonly dhcp: boolean;
  /** Whether this node may bridge other traffic onto the network. */
  readonly bridge: boolean;
  /** Whether broadcast (e.g. ARP) is enabled. */
  readonly broadcastEnabled: boolean;
  /** libzt's port error code (0: none). */
  readonly portError: number;
  /** Revision of the configuration this event carries. */
  readonly configRevision: number;
  /** Addresses the configuration assigns to this node. */
  readonly assignedAddresses: readonly IpPrefix[];
  /** Routes the configuration pushes. */
  readonly routes: readonly RouteInfo[];
  /** Multicast groups this node subscribes to on the network. */
  readonly multicastSubscriptionCount: number;
}

/** A virtual network interface (payload of `NETIF_*` events). */
export interface NetifInfo {
  /** The network the interface belongs to, 16 hex digits. */
  readonly networkId: string;
  /** The interface's MAC, `aa:bb:cc:dd:ee:ff`. */
  readonly mac: string;
  /** MTU, bytes. */
  readonly mtu: number;
}

/** Role of a peer in the ZeroTier topology. */
export type PeerRole = "leaf" | "moon" | "planet";

/** A physical path to a peer: the peer's physical address and UDP port. */
export type PeerPath = SocketAddress;

/** Another ZeroTier node this node talks to (payload of `PEER_*` events). */
export interface PeerInfo {
  /** 10 hex digits. */
  readonly peerId: string;
  /** `"major.minor.rev"`, or `undefined` when libzt does not know it yet. */
  readonly version: string | undefined;
  /** Milliseconds; `undefined` when unknown. */
  readonly latency: number | undefined;
  /** Its role: a leaf, a moon or a planet (root). */
  readonly role: PeerRole;
  /** Physical paths to the peer known to libzt. */
  readonly paths: readonly PeerPath[];
}

/** An address added to or removed from the node on a network. */
export interface AddrInfo {
  /** The network, 16 hex digits. */
  readonly networkId: string;
  /** `"IPv4"` or `"IPv6"`. */
  readonly family: IpFamily;
  /** The address in text form. */
  readonly address: string;
}

/** The fields every known event has: its name, its libzt code and when it arrived. */
export interface EventBase<T extends EventType> {
  /** The event's name, e.g. `"NODE_ONLINE"`. Narrow the union on it. */
  readonly type: T;
  /** libzt's numeric code (`ZTS_EVENT_*`), e.g. 201. */
  readonly code: (typeof EVENT_CODES)[T];
  /** When rxzt received it (`performance.now()` clock, milliseconds). */
  readonly receivedAt: number;
}

/** Names of the `NODE_*` events. */
export type NodeEventType = Extract<EventType, `NODE_${string}`>;
/** Names of the `NETWORK_*` events. */
export type NetworkEventType = Extract<EventType, `NETWORK_${string}`>;
/** Names of the `STACK_*` events. */
export type StackEventType = Extract<EventType, `STACK_${string}`>;
/** Names of the `NETIF_*` events. */
export type NetifEventType = Extract<EventType, `NETIF_${string}`>;
/** Names of the `PEER_*` events. */
export type PeerEventType = Extract<EventType, `PEER_${string}`>;
/** Names of the `ROUTE_*` events. */
export type RouteEventType = Extract<EventType, `ROUTE_${string}`>;
/** Names of the `ADDR_*` events. */
export type AddrEventType = Extract<EventType, `ADDR_${string}`>;
/** Names of the `STORE_*` events. */
export type StoreEventType = Extract<EventType, `STORE_${string}`>;

/** `NODE_UP`, `NODE_ONLINE`, `NODE_OFFLINE`, `NODE_DOWN`, `NODE_FATAL_ERROR`. */
export type NodeEvent = {
  [T in NodeEventType]: EventBase<T> & { readonly node: NodeInfo | undefined };
}[NodeEventType];
/** `NETWORK_*` events. */
export type NetworkEvent = {
  [T in NetworkEventType]: EventBase<T> & { readonly network: NetworkInfo };
}[NetworkEventType];
/** `STACK_UP`, `STACK_DOWN` (no payload). */
export type StackEvent = { [T in StackEventType]: EventBase<T> }[StackEventType];
/** `NETIF_*` events. */
export type NetifEvent = {
  [T in NetifEventType]: EventBase<T> & { readonly netif: NetifInfo };
}[NetifEventType];
/** `PEER_*` events. */
export type PeerEvent = {
  [T in PeerEventType]: EventBase<T> & { readonly peer: PeerInfo };
}[PeerEventType];
/** `ROUTE_ADDED`, `ROUTE_REMOVED`. */
export type RouteEvent = {
  [T in RouteEventType]: EventBase<T> & { readonly route: RouteInfo };
}[RouteEventType];
/** `ADDR_*` events. */
export type AddrEvent = {
  [T in AddrEventType]: EventBase<T> & { readonly addr: AddrInfo };
}[AddrEventType];
/**
 * `STORE_*` events: data libzt would persist (identity, planet, peers, network
 * configs). `STORE_IDENTITY_SECRET` carries the node's secret key: its
 * `data` is readable as usual, but `console.log`, `Deno.inspect`, Node's
 * `util.inspect` and `JSON.stringify` of the event show it redacted.
 */
export type StoreEvent = {
  [T in StoreEventType]: EventBase<T> & { readonly data: Uint8Array };
}[StoreEventType];
/** An event whose code libzt 1.8 does not define (kept, not dropped). */
export interface UnknownEvent {
  /** Always `"UNKNOWN"`. */
  readonly type: "UNKNOWN";
  /** The code libzt sent. */
  readonly code: number;
  /** When rxzt received it (`performance.now()` clock, milliseconds). */
  readonly receivedAt: number;
}

/** Any libzt event. Narrow on `type`. */
export type ZeroTierEvent =
  | NodeEvent
  | NetworkEvent
  | StackEvent
  | NetifEvent
  | PeerEvent
  | RouteEvent
  | AddrEvent
  | StoreEvent
  | UnknownEvent;

/** 10 or 16 hex digits of an id. */
export function hexId(value: bigint, digits: number): string {
  return value.toString(16).padStart(digits, "0");
}
