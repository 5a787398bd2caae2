/**
 * The decoder of libzt's event payloads: the bytes copied out of libzt's
 * callback (`RawEvent`) to the typed events of `events.ts`.
 *
 * @module
 */
import type { RawEvent } from "./backend.ts";
import { cString } from "./cstring.ts";
import {
  type AddrEvent,
  type AddrInfo,
  eventName,
  hexId,
  type IpPrefix,
  type NetifEvent,
  type NetifInfo,
  type NetworkEvent,
  type NetworkInfo,
  type NetworkStatus,
  type NodeEvent,
  type NodeInfo,
  type PeerEvent,
  type PeerInfo,
  type PeerPath,
  type PeerRole,
  type RouteEvent,
  type RouteInfo,
  type StackEvent,
  type StoreEvent,
  type ZeroTierEvent,
} from "./events.ts";
import {
  ADDR_INFO,
  NET_INFO,
  NETIF_INFO,
  NODE_INFO,
  PEER_INFO,
  ROUTE_INFO,
  SOCKADDR_STORAGE,
} from "./layout.ts";
import { redactedBytes, redactInspection } from "../redact.ts";
import { decodeSockaddr } from "./sockaddr.ts";

function macString(value: bigint): string {
  return hexId(value & 0xffffffffffffn, 12).replace(/(..)(?!$)/g, "$1:");
}

/** libzt's network status codes, in order (`ZTS_NETWORK_STATUS_*`). */
const NETWORK_STATUS: readonly NetworkStatus[] = [
  "REQUESTING_CONFIGURATION",
  "OK",
  "ACCESS_DENIED",
  "NOT_FOUND",
  "PORT_ERROR",
  "CLIENT_TOO_OLD",
];

function textAt(view: DataView, offset: number, max: number): string {
  return cString(new Uint8Array(view.buffer, view.byteOffset + offset, max));
}

function prefixAt(view: DataView, offset: number): IpPrefix | undefined {
  const sa = decodeSockaddr(view, offset);
  // libzt stores the prefix length of assigned addresses and routes in the port field.
  return sa && { family: sa.family, address: sa.address, prefixLength: sa.port };
}

function decodeNode(view: DataView): NodeInfo {
  return {
    nodeId: hexId(view.getBigUint64(NODE_INFO.nodeId, true), 10),
    primaryPort: view.getUint16(NODE_INFO.portPrimary, true),
    secondaryPort: view.getUint16(NODE_INFO.portSecondary, true),
    tertiaryPort: view.getUint16(NODE_INFO.portTertiary, true),
    version: `${view.getUint8(NODE_INFO.verMajor)}.${view.getUint8(NODE_INFO.verMinor)}.${
      view.getUint8(NODE_INFO.verRev)
    }`,
  };
}

function decodeRoute(view: DataView, offset: number): RouteInfo {
  return {
    target: prefixAt(view, offset + ROUTE_INFO.target),
    via: decodeSockaddr(view, offset + ROUTE_INFO.via)?.address,
    flags: view.getUint16(offset + ROUTE_INFO.flags, true),
    metric: view.getUint16(offset + ROUTE_INFO.metric, true),
  };
}

/** Decodes a `zts_net_info_t` (header part). */
export function decodeNetwork(view: DataView): NetworkInfo {
  const le = true;
  const addrCount = Math.min(
    view.getUint32(NET_INFO.assignedAddrCount, le),
    NET_INFO.maxAssignedAddrs,
  );
  const assignedAddresses: IpPrefix[] = [];
  for (let i = 0; i < addrCount; i++) {
    const p = prefixAt(view, NET_INFO.assignedAddrs + i * SOCKADDR_STORAGE.size);
    if (p) assignedAddresses.push(p);
  }
  const routeCount = Math.min(view.getUint32(NET_INFO.routeCount, le), NET_INFO.maxRoutes);
  const routes: RouteInfo[] = [];
  for (let i = 0; i < routeCount; i++) {
    routes.push(decodeRoute(view, NET_INFO.routes + i * ROUTE_INFO.size));
  }
  const status = view.getInt32(NET_INFO.status, le);
  return {
    networkId: hexId(view.getBigUint64(NET_INFO.netId, le), 16),
    mac: macString(view.getBigUint64(NET_INFO.mac, le)),
    name: textAt(view, NET_INFO.name, NET_INFO.nameMax),
    status: NETWORK_STATUS[status] ?? "REQUESTING_CONFIGURATION",
    type: view.getInt32(NET_INFO.type, le) === 1 ? "public" : "private",
    mtu: view.getUint32(NET_INFO.mtu, le),
    dhcp: view.getInt32(NET_INFO.dhcp, le) !== 0,
    bridge: view.getInt32(NET_INFO.bridge, le) !== 0,
    broadcastEnabled: view.getInt32(NET_INFO.broadcastEnabled, le) !== 0,
    portError: view.getInt32(NET_INFO.portError, le),
    configRevision: Number(view.getBigUint64(NET_INFO.netconfRev, le)),
    assignedAddresses,
    routes,
    multicastSubscriptionCount: view.getUint32(NET_INFO.multicastSubCount, le),
  };
}

const ROLES: readonly PeerRole[] = ["leaf", "moon", "planet"];

/** Decodes a peer payload as libzt 1.8 actually lays it out (see `PEER_INFO`). */
export function decodePeer(view: DataView): PeerInfo {
  const le = true;
  const major = view.getInt32(PEER_INFO.verMajor, le);
  const minor = view.getInt32(PEER_INFO.verMinor, le);
  const rev = view.getInt32(PEER_INFO.verRev, le);
  const latency = view.getInt32(PEER_INFO.latency, le);
  const count = Math.min(view.getUint32(PEER_INFO.pathCountActual, le), PEER_INFO.maxPaths);
  const paths: PeerPath[] = [];
  for (let i = 0; i < count; i++) {
    const offset = PEER_INFO.paths + i * PEER_INFO.pathStride;
    if (offset + SOCKADDR_STORAGE.size > view.byteLength) break;
    const sa = decodeSockaddr(view, offset);
    if (sa) paths.push(sa);
  }
  return {
    peerId: hexId(view.getBigUint64(PEER_INFO.peerId, le), 10),
    version: major < 0 ? undefined : `${major}.${minor}.${rev}`,
    latency: latency < 0 ? undefined : latency,
    role: ROLES[view.getInt32(PEER_INFO.role, le)] ?? "leaf",
    paths,
  };
}

function decodeAddr(view: DataView): AddrInfo {
  const sa = decodeSockaddr(view, ADDR_INFO.addr);
  return {
    networkId: hexId(view.getBigUint64(ADDR_INFO.netId, true), 16),
    family: sa?.family ?? "IPv4",
    address: sa?.address ?? "",
  };
}

function decodeNetif(view: DataView): NetifInfo {
  return {
    networkId: hexId(view.getBigUint64(NETIF_INFO.netId, true), 16),
    mac: macString(view.getBigUint64(NETIF_INFO.mac, true)),
    mtu: view.getInt32(NETIF_INFO.mtu, true),
  };
}

const EMPTY_NETWORK: Omit<NetworkInfo, "networkId"> = {
  mac: "",
  name: "",
  status: "REQUESTING_CONFIGURATION",
  type: "private",
  mtu: 0,
  dhcp: false,
  bridge: false,
  broadcastEnabled: false,
  portError: 0,
  configRevision: 0,
  assignedAddresses: [],
  routes: [],
  multicastSubscriptionCount: 0,
};

/**
 * Turns a copied libzt event into a typed {@link ZeroTierEvent}. Missing
 * payloads never throw: fields fall back to empty values.
 */
export function decodeEvent(raw: RawEvent, receivedAt: number): ZeroTierEvent {
  const type = eventName(raw.code);
  if (type === undefined) return { type: "UNKNOWN", code: raw.code, receivedAt };
  const base = { type, code: raw.code, receivedAt };
  if (type.startsWith("NODE_")) {
    return { ...base, node: raw.node && decodeNode(raw.node) } as NodeEvent;
  }
  if (type.startsWith("NETWORK_")) {
    const network = raw.network
      ? decodeNetwork(raw.network)
      : { ...EMPTY_NETWORK, networkId: "0".repeat(16) };
    return { ...base, network } as NetworkEvent;
  }
  if (type.startsWith("STACK_")) return base as StackEvent;
  if (type.startsWith("NETIF_")) {
    const netif = raw.netif
      ? decodeNetif(raw.netif)
      : { networkId: "0".repeat(16), mac: "", mtu: 0 };
    return { ...base, netif } as NetifEvent;
  }
  if (type.startsWith("PEER_")) {
    const peer = raw.peer
      ? decodePeer(raw.peer)
      : { peerId: "0".repeat(10), version: undefined, latency: undefined, role: "leaf", paths: [] };
    return { ...base, peer } as PeerEvent;
  }
  if (type.startsWith("ROUTE_")) {
    const route = raw.route
      ? decodeRoute(raw.route, 0)
      : { target: undefined, via: undefined, flags: 0, metric: 0 };
    return { ...base, route } as RouteEvent;
  }
  if (type.startsWith("ADDR_")) {
    const addr = raw.addr
      ? decodeAddr(raw.addr)
      : { networkId: "0".repeat(16), family: "IPv4", address: "" };
    return { ...base, addr } as AddrEvent;
  }
  const store = { ...base, data: raw.cache ?? new Uint8Array(0) } as StoreEvent;
  if (store.type === "STORE_IDENTITY_SECRET") {
    // The secret key: readable as `data`, but never printed or serialised.
    const data = store.data;
    redactInspection(store, () => ({ ...store, data: redactedBytes(data) }));
  }
  return store;
}
