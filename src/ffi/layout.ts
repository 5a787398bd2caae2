/**
 * Memory layout of the libzt 1.8 C ABI (`ZeroTierSockets.h`) on LP64 platforms
 * (Linux and macOS, x86_64 and arm64): the one place in rxzt that states
 * struct sizes and field offsets (the codecs beside it read them from here).
 *
 * Offsets were read from the real header with `offsetof`/`sizeof` and are
 * re-checked against a real libzt by the tier-3 suite.
 *
 * @module
 */

/**
 * `struct zts_sockaddr_storage`: len u8, family u8, then the address; a
 * `zts_sockaddr_in` is the first `in4Size` bytes of it, a `zts_sockaddr_in6`
 * the first `in6Size`.
 */
export const SOCKADDR_STORAGE = {
  size: 28,
  in4Size: 16,
  in6Size: 28,
  len: 0,
  family: 1,
  port: 2, // network byte order, both families
  in4Addr: 4,
  in6FlowInfo: 4,
  in6Addr: 8,
  in6ScopeId: 24,
} as const;

/** `zts_event_msg_t`: one event as libzt hands it to the callback. */
export const EVENT_MSG = {
  size: 72,
  eventCode: 0, // int16
  node: 8, // pointers below
  network: 16,
  netif: 24,
  route: 32,
  peer: 40,
  addr: 48,
  cache: 56,
  len: 64, // int32
} as const;

/** `zts_node_info_t`. */
export const NODE_INFO = {
  size: 24,
  nodeId: 0,
  portPrimary: 8,
  portSecondary: 10,
  portTertiary: 12,
  verMajor: 14,
  verMinor: 15,
  verRev: 16,
} as const;

/** `zts_addr_info_t`. */
export const ADDR_INFO = { size: 40, netId: 0, addr: 8 } as const;

/** `zts_route_info_t`. */
export const ROUTE_INFO = { size: 60, target: 0, via: 28, flags: 56, metric: 58 } as const;

/** `zts_netif_info_t`. */
export const NETIF_INFO = { size: 24, netId: 0, mac: 8, mtu: 16 } as const;

/** `zts_net_info_t` (the multicast table at the end is 16 bytes an entry). */
export const NET_INFO = {
  size: 18952,
  netId: 0,
  mac: 8,
  name: 16,
  nameMax: 128,
  status: 144,
  type: 148,
  mtu: 152,
  dhcp: 156,
  bridge: 160,
  broadcastEnabled: 164,
  portError: 168,
  netconfRev: 176,
  assignedAddrCount: 184,
  assignedAddrs: 188,
  maxAssignedAddrs: 16,
  routeCount: 636,
  routes: 640,
  maxRoutes: 32,
  multicastSubCount: 2560,
  /** Bytes worth copying when the multicast table is not needed. */
  headerSize: 2568,
} as const;

/**
 * `zts_peer_info_t` as libzt actually fills it.
 *
 * libzt 1.8 builds this payload with `memcpy` from ZeroTierOne's `ZT_Peer`,
 * whose layout differs from `zts_peer_info_t` after `role`; it then rewrites
 * each path's address at the `zts_path_t` position. So: id, version, latency
 * and role are where the header says; the real path count is `ZT_Peer.pathCount`
 * (offset 76); path addresses are at `paths + i * pathStride`. The other
 * `zts_path_t` fields hold unrelated bytes and are not decoded.
 */
export const PEER_INFO = {
  size: 7720,
  peerId: 0,
  verMajor: 8,
  verMinor: 12,
  verRev: 16,
  latency: 20,
  role: 24,
  pathCountActual: 76,
  paths: 40,
  pathStride: 120,
  maxPaths: 64,
} as const;

/** Length libzt expects for identity buffers (`ZTS_ID_STR_BUF_LEN`). */
export const ID_STR_BUF_LEN = 384;
/** `zts_root_set_t`: 16 id pointers, then 16 × 32 endpoint pointers. */
export const ROOT_SET = {
  size: 4224,
  maxRoots: 16,
  maxEndpointsPerRoot: 32,
  publicIds: 0,
  endpoints: 128,
} as const;
/** `zts_stats_counter_t`: 36 uint32 counters. */
export const STATS_COUNTERS_SIZE = 144;
/** Buffer for a serialized root set (a ZeroTier "world"); libzt's maximum is far below. */
export const ROOT_SET_BUF_LEN = 65536;
/** `previous.c25519` / `current.c25519` signing key pairs: public 64 + private 64 bytes. */
export const SIGNING_KEY_LEN = 128;

/** `struct zts_pollfd`: int fd, short events, short revents. */
export const POLLFD = { size: 8, fd: 0, events: 4, revents: 6 } as const;

/** `struct zts_linger`: int l_onoff, int l_linger (seconds). */
export const LINGER = { size: 8, onoff: 0, seconds: 4 } as const;

/** `sizeof(int)`: the value of an integer socket option. */
export const INT_SIZE = 4;

/**
 * libzt 1.8's `ZeroTier::service_state` (a byte, `Events.hpp`) and its
 * "callbacks running" bit (see `NativeLibrary.markCallbacksRunning`).
 */
export const SERVICE_STATE = { symbol: "_ZN8ZeroTier13service_stateE", callbacksRunning: 0x08 };

/** Address families used by libzt. */
export const AF_INET = 2;
export const AF_INET6 = 10;
