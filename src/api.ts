/**
 * The public API, shared by the Deno and npm entry points (which differ only
 * in the FFI backend they register).
 *
 * @module
 */
import { loadLibrary } from "./ffi/runtime.ts";
import { libraryPathOf } from "./identity.ts";

export {
  InvalidArgumentError,
  LibraryLoadError,
  LibraryNotFoundError,
  LibztCallError,
  NetworkError,
  NodeStateError,
  PeerUnreachableError,
  PermissionError,
  SocketClosedError,
  TimeoutError,
  UnavailableError,
  UnsupportedProtocolError,
  ZeroTierError,
  ZTS_ERRNO_NAMES,
  ZTS_RETURN_CODES,
} from "./errors.ts";
export type { ZeroTierErrorOptions } from "./errors.ts";
export { EVENT_CODES, eventName } from "./ffi/events.ts";
export type { SocketAddress } from "./ffi/sockaddr.ts";
export type {
  AddrEvent,
  AddrEventType,
  AddrInfo,
  EventBase,
  EventType,
  IpPrefix,
  NetifEvent,
  NetifEventType,
  NetifInfo,
  NetworkEvent,
  NetworkEventType,
  NetworkInfo,
  NetworkStatus,
  NodeEvent,
  NodeEventType,
  NodeInfo,
  PeerEvent,
  PeerEventType,
  PeerInfo,
  PeerPath,
  PeerRole,
  RouteEvent,
  RouteEventType,
  RouteInfo,
  StackEvent,
  StackEventType,
  StoreEvent,
  StoreEventType,
  UnknownEvent,
  ZeroTierEvent,
} from "./ffi/events.ts";
export type { LayerCounters, NodeStats } from "./ffi/stats.ts";
export { formatIp, ipFamily, parseIp, prefixContains } from "./ip.ts";
export type { IpFamily } from "./ip.ts";
export {
  adhocIPv4Address,
  adhocIPv4NetworkId,
  adhocNetworkId,
  isNodeAddress,
  nodeIdOfAddress,
  rfc4193Address,
  sixPlaneAddress,
} from "./addressing.ts";
export type { NetworkIdInput, NodeIdInput } from "./validate.ts";
export { ZeroTierNode } from "./node/node.ts";
export type { NodeLifecycle } from "./node/lifecycle.ts";
export type { JoinOptions, StartOptions, WaitUntilOptions } from "./node/options.ts";
export type { AddressChange, EventCounters } from "./node/event_pump.ts";
export type { NetworkPhase, NetworkState, PeerLink, PeerState } from "./node/state.ts";
export { generateIdentity, identityNodeId, isValidIdentity, publicIdentity } from "./identity.ts";
export type { IdentityOptions } from "./identity.ts";
export { createRootSet } from "./roots.ts";
export { DEFAULT_KEEPALIVE } from "./streams/keepalive.ts";
export type { KeepAlive } from "./streams/keepalive.ts";
export { DEFAULT_PACING_RATE } from "./streams/pacing.ts";
export { DEFAULT_READ_BUFFER_SIZE } from "./streams/receive_ring.ts";
export { DEFAULT_RECEIVE_TUNING } from "./streams/receive_thread.ts";
export { DEFAULT_PEER_UNREACHABLE_TIMEOUT } from "./node/liveness.ts";
export type { ReceiveTuning } from "./streams/receive_loop.ts";
export { MAX_CONNECTS_IN_FLIGHT } from "./streams/connect_slots.ts";
export type { NetAddr } from "./streams/net_addr.ts";
export type { TcpConn } from "./streams/tcp.ts";
export type { TcpListener } from "./streams/tcp_listener.ts";
export type { ConnectOptions, ListenOptions } from "./streams/dial.ts";
export { ZeroTierSocket } from "./streams/node_socket.ts";
export type { NodeSocketOptions } from "./streams/node_socket.ts";
export { dialNodeSocket, toNodeSocket } from "./streams/node_socket_wrap.ts";
export type { NodeSocketDialer } from "./streams/node_socket_wrap.ts";
export { MAX_DATAGRAM } from "./streams/udp.ts";
export { HttpClient, MAX_REDIRECTS } from "./http/fetch.ts";
export type { HttpHandler, HttpServeInfo, HttpServeOptions, HttpServer } from "./http/serve.ts";
export { fromReadable, reconnecting, toReadable } from "./streams/rx.ts";
export type { ReconnectOptions, ToReadableOptions } from "./streams/rx.ts";
export { connectWhenDirect, whenDirect } from "./node/when_direct.ts";
export type { Dialer, PeerSource } from "./node/when_direct.ts";
export type { Datagram, DatagramConn, DatagramOptions, OutgoingDatagram } from "./streams/udp.ts";
export type { CreateRootSetOptions, RootDefinition, RootSet } from "./roots.ts";

/**
 * Loads libzt now (it is otherwise loaded on first use) and returns its path,
 * so an app can fail early with a clear error when libzt is missing.
 *
 * @example
 * ```ts
 * import { LibraryNotFoundError, loadLibzt } from "@rxzt/rxzt";
 * try {
 *   console.log("using", loadLibzt());
 * } catch (err) {
 *   if (err instanceof LibraryNotFoundError) console.error(err.message);
 * }
 * ```
 */
export function loadLibzt(options: { libraryPath?: string } = {}): string {
  return loadLibrary(libraryPathOf(options)).path;
}
