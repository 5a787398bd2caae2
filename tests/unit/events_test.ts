/**
 * Tier 1: decoding of libzt event payloads (`src/ffi/events.ts`) from byte
 * buffers built by hand per the libzt 1.8 C layout documented in
 * `src/ffi/layout.ts`. No native library involved.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RawEvent } from "../../src/ffi/backend.ts";
import { decodeEvent } from "../../src/ffi/event_decode.ts";
import { EVENT_CODES, eventName } from "../../src/ffi/events.ts";
import { decodeSockaddr } from "../../src/ffi/sockaddr.ts";
import type { ZeroTierEvent } from "../../src/ffi/events.ts";
import * as L from "../../src/ffi/layout.ts";
import {
  hex,
  idBytes,
  ipv6TextByUrl,
  JUNK,
  putSockaddr4,
  putSockaddr6,
  putU64,
  struct,
} from "./_helpers.ts";

// ---------------------------------------------------------------------------
// The C layout, restated independently from ZeroTierSockets.h (LP64).
// ---------------------------------------------------------------------------
const SA = 28; // sizeof(struct zts_sockaddr_storage) in lwIP
const NODE = { size: 24, id: 0, p1: 8, p2: 10, p3: 12, major: 14, minor: 15, rev: 16 };
const NETIF = { size: 24, id: 0, mac: 8, mtu: 16 };
const ADDR = { size: 40, id: 0, addr: 8 };
const ROUTE = { size: 60, target: 0, via: 28, flags: 56, metric: 58 };
const NET = {
  headerSize: 2568,
  id: 0,
  mac: 8,
  name: 16,
  nameMax: 128,
  status: 144,
  type: 148,
  mtu: 152,
  dhcp: 156,
  bridge: 160,
  broadcast: 164,
  portError: 168,
  rev: 176,
  addrCount: 184,
  addrs: 188,
  maxAddrs: 16,
  routeCount: 636,
  routes: 640,
  maxRoutes: 32,
  mcastCount: 2560,
};
const PEER = {
  size: 7720,
  id: 0,
  major: 8,
  minor: 12,
  rev: 16,
  latency: 20,
  role: 24,
  headerPathCount: 28, // garbage in libzt 1.8 (see layout.ts)
  realPathCount: 76,
  paths: 40,
  stride: 120,
  maxPaths: 64,
};

/** libzt 1.8 `ZTS_EVENT_*` values, as listed in ZeroTierSockets.h. */
const LIBZT_EVENT_CODES: Record<string, number> = {
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
};

/** `ZT_VirtualNetworkStatus` / `ZTS_NETWORK_STATUS_*` values. */
const NETWORK_STATUS_BY_VALUE: Record<number, string> = {
  0: "REQUESTING_CONFIGURATION",
  1: "OK",
  2: "ACCESS_DENIED",
  3: "NOT_FOUND",
  4: "PORT_ERROR",
  5: "CLIENT_TOO_OLD",
};

const codesWithPrefix = (prefix: string) =>
  Object.entries(LIBZT_EVENT_CODES).filter(([name]) => name.startsWith(prefix));

/** `aa:bb:cc:dd:ee:ff` from six bytes, and the uint64 libzt stores for them. */
function mac(bytes: number[]): { text: string; value: bigint } {
  const text = bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
  const value = bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
  return { text, value };
}

function decode(raw: RawEvent, receivedAt = 1234.5): ZeroTierEvent {
  return decodeEvent(raw, receivedAt);
}

// Narrowing helpers: fail loudly when the event is of another kind.
function asKind<K extends string>(
  event: ZeroTierEvent,
  key: K,
): Record<K, unknown> & ZeroTierEvent {
  assert.ok(key in event, `expected a "${key}" payload on ${event.type}`);
  return event as Record<K, unknown> & ZeroTierEvent;
}

// ---------------------------------------------------------------------------

describe("layout.ts agrees with the C layout restated here", () => {
  test("offsets and sizes", () => {
    assert.equal(L.SOCKADDR_STORAGE.size, SA);
    assert.equal(L.SOCKADDR_STORAGE.family, 1);
    assert.equal(L.SOCKADDR_STORAGE.port, 2);
    assert.equal(L.SOCKADDR_STORAGE.in4Addr, 4);
    assert.equal(L.SOCKADDR_STORAGE.in6Addr, 8);
    assert.deepEqual(
      [L.NODE_INFO.size, L.NODE_INFO.nodeId, L.NODE_INFO.portPrimary, L.NODE_INFO.portSecondary],
      [NODE.size, NODE.id, NODE.p1, NODE.p2],
    );
    assert.deepEqual([L.NODE_INFO.verMajor, L.NODE_INFO.verMinor, L.NODE_INFO.verRev], [
      14,
      15,
      16,
    ]);
    assert.deepEqual([L.NETIF_INFO.netId, L.NETIF_INFO.mac, L.NETIF_INFO.mtu], [
      NETIF.id,
      NETIF.mac,
      NETIF.mtu,
    ]);
    assert.deepEqual([L.ADDR_INFO.netId, L.ADDR_INFO.addr], [ADDR.id, ADDR.addr]);
    assert.deepEqual(
      [
        L.ROUTE_INFO.target,
        L.ROUTE_INFO.via,
        L.ROUTE_INFO.flags,
        L.ROUTE_INFO.metric,
        L.ROUTE_INFO.size,
      ],
      [ROUTE.target, ROUTE.via, ROUTE.flags, ROUTE.metric, ROUTE.size],
    );
    assert.deepEqual(
      [
        L.NET_INFO.assignedAddrCount,
        L.NET_INFO.assignedAddrs,
        L.NET_INFO.routeCount,
        L.NET_INFO.routes,
      ],
      [NET.addrCount, NET.addrs, NET.routeCount, NET.routes],
    );
    assert.deepEqual(
      [
        L.PEER_INFO.pathCountActual,
        L.PEER_INFO.paths,
        L.PEER_INFO.pathStride,
        L.PEER_INFO.maxPaths,
      ],
      [PEER.realPathCount, PEER.paths, PEER.stride, PEER.maxPaths],
    );
    assert.equal(L.AF_INET, 2);
    assert.equal(L.AF_INET6, 10);
  });

  test("arrays end where the next field starts", () => {
    assert.equal(L.NET_INFO.name + L.NET_INFO.nameMax, L.NET_INFO.status);
    assert.equal(
      L.NET_INFO.assignedAddrs + L.NET_INFO.maxAssignedAddrs * L.SOCKADDR_STORAGE.size,
      L.NET_INFO.routeCount,
    );
    assert.equal(
      L.NET_INFO.routes + L.NET_INFO.maxRoutes * L.ROUTE_INFO.size,
      L.NET_INFO.multicastSubCount,
    );
    assert.ok(L.NET_INFO.headerSize >= L.NET_INFO.multicastSubCount + 4);
    assert.equal(
      L.PEER_INFO.paths + L.PEER_INFO.maxPaths * L.PEER_INFO.pathStride,
      L.PEER_INFO.size,
    );
    assert.ok(L.ROUTE_INFO.via + L.SOCKADDR_STORAGE.size <= L.ROUTE_INFO.flags);
    assert.ok(L.ADDR_INFO.addr + L.SOCKADDR_STORAGE.size <= L.ADDR_INFO.size);
    // The real path count lives inside path 0, after its address.
    assert.ok(L.PEER_INFO.pathCountActual >= L.PEER_INFO.paths + L.SOCKADDR_STORAGE.size);
    assert.ok(L.PEER_INFO.pathCountActual + 4 <= L.PEER_INFO.paths + L.PEER_INFO.pathStride);
  });
});

describe("eventName / EVENT_CODES", () => {
  test("EVENT_CODES is exactly libzt 1.8's ZTS_EVENT_* table", () => {
    assert.deepEqual({ ...EVENT_CODES }, LIBZT_EVENT_CODES);
  });

  test("every code in EVENT_CODES maps back to its name", () => {
    for (const [name, code] of Object.entries(EVENT_CODES)) {
      assert.equal(eventName(code), name, `code ${code}`);
    }
  });

  test("codes are unique", () => {
    const codes = Object.values(EVENT_CODES);
    assert.equal(new Set(codes).size, codes.length);
  });

  test("undefined codes in 200..274 (and outside) give undefined", () => {
    const defined = new Set<number>(Object.values(LIBZT_EVENT_CODES));
    let undefinedCount = 0;
    for (let code = 200; code <= 274; code++) {
      if (defined.has(code)) continue;
      undefinedCount++;
      assert.equal(eventName(code), undefined, `code ${code}`);
    }
    assert.equal(undefinedCount, 75 - defined.size);
    for (const code of [0, -1, 199, 275, 1000, 212.5, NaN]) {
      assert.equal(eventName(code), undefined, `code ${code}`);
    }
  });
});

describe("decodeSockaddr", () => {
  test("IPv4: address bytes and big-endian port", () => {
    const { view } = struct(SA);
    putSockaddr4(view, 0, [192, 168, 1, 254], 0x1234);
    assert.deepEqual(decodeSockaddr(view, 0), {
      family: "IPv4",
      address: "192.168.1.254",
      port: 0x1234,
    });
  });

  test("IPv6: address bytes, big-endian port, flowinfo and scope ignored", () => {
    const { view } = struct(SA);
    const addr = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    putSockaddr6(view, 0, addr, 0x2710, 0xffffffff, 7);
    assert.deepEqual(decodeSockaddr(view, 0), {
      family: "IPv6",
      address: ipv6TextByUrl(addr),
      port: 10000,
    });
  });

  test("empty or unknown family gives undefined", () => {
    const { view } = struct(SA);
    assert.equal(decodeSockaddr(view, 0), undefined);
    view.setUint8(1, 99);
    assert.equal(decodeSockaddr(view, 0), undefined);
  });

  test("honours the view's byteOffset and a non-zero field offset", () => {
    const { view } = struct(SA + 12);
    putSockaddr4(view, 12, [10, 0, 0, 7], 80);
    assert.deepEqual(decodeSockaddr(view, 12), { family: "IPv4", address: "10.0.0.7", port: 80 });
  });
});

describe("decodeEvent: NODE_*", () => {
  function nodeStruct(
    id: bigint,
    ports: [number, number, number],
    ver: [number, number, number],
  ): DataView {
    const { view } = struct(NODE.size);
    putU64(view, NODE.id, id);
    view.setUint16(NODE.p1, ports[0], true);
    view.setUint16(NODE.p2, ports[1], true);
    view.setUint16(NODE.p3, ports[2], true);
    view.setUint8(NODE.major, ver[0]);
    view.setUint8(NODE.minor, ver[1]);
    view.setUint8(NODE.rev, ver[2]);
    return view;
  }

  test("node id as 10 hex digits, little-endian ports, version", () => {
    const id = 0x89e92ceee5n;
    const e = decode({ code: 201, node: nodeStruct(id, [9993, 0x1234, 65535], [1, 8, 4]) }, 77);
    assert.equal(e.type, "NODE_ONLINE");
    assert.equal(e.code, 201);
    assert.equal(e.receivedAt, 77);
    assert.deepEqual(asKind(e, "node").node, {
      nodeId: hex(id, 10),
      primaryPort: 9993,
      secondaryPort: 0x1234,
      tertiaryPort: 65535,
      version: "1.8.4",
    });
  });

  test("small node ids are zero-padded to 10 digits", () => {
    const e = decode({ code: 200, node: nodeStruct(0x2an, [0, 0, 0], [0, 0, 0]) });
    const node = asKind(e, "node").node as { nodeId: string; version: string };
    assert.equal(node.nodeId, "000000002a");
    assert.equal(node.nodeId.length, 10);
    assert.equal(node.version, "0.0.0");
  });

  test("every NODE_* code decodes its node payload", () => {
    for (const [name, code] of codesWithPrefix("NODE_")) {
      const e = decode({ code, node: nodeStruct(0xabcdef0123n, [1, 2, 3], [1, 2, 3]) });
      assert.equal(e.type, name);
      assert.equal((asKind(e, "node").node as { nodeId: string }).nodeId, "abcdef0123");
    }
  });

  test("missing node payload gives node: undefined", () => {
    for (const [name, code] of codesWithPrefix("NODE_")) {
      const e = decode({ code });
      assert.equal(e.type, name);
      assert.ok("node" in e);
      assert.equal(asKind(e, "node").node, undefined);
    }
  });
});

describe("decodeEvent: NETWORK_*", () => {
  const NET_ID = 0x8056c2e21c000001n;
  const MAC = mac([0x32, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]);
  const V6_ASSIGNED = [
    0xfd,
    0x80,
    0x56,
    0xc2,
    0xe2,
    0x1c,
    0,
    0,
    0,
    0x01,
    0x99,
    0x93,
    0x89,
    0xe9,
    0x2c,
    0xee,
  ];

  function netStruct(fill: (view: DataView, bytes: Uint8Array) => void): DataView {
    const { view, bytes } = struct(NET.headerSize);
    putU64(view, NET.id, NET_ID);
    // Upper 16 bits of the mac field are not part of the MAC.
    putU64(view, NET.mac, MAC.value | (0xbeefn << 48n));
    fill(view, bytes);
    return view;
  }

  const networkOf = (e: ZeroTierEvent) => asKind(e, "network").network as Record<string, unknown>;

  test("scalar fields", () => {
    const view = netStruct((v, b) => {
      const name = new TextEncoder().encode("earth ✓");
      b.set(name, NET.name);
      b.set(new TextEncoder().encode("XYZ"), NET.name + name.length + 1); // junk after the NUL
      v.setInt32(NET.status, 1, true);
      v.setInt32(NET.type, 1, true);
      v.setUint32(NET.mtu, 2800, true);
      v.setInt32(NET.dhcp, 1, true);
      v.setInt32(NET.bridge, 0, true);
      v.setInt32(NET.broadcast, 1, true);
      v.setInt32(NET.portError, -3, true);
      v.setBigUint64(NET.rev, 123456789n, true);
      v.setUint32(NET.mcastCount, 7, true);
    });
    const e = decode({ code: 213, network: view });
    assert.equal(e.type, "NETWORK_OK");
    const n = networkOf(e);
    assert.equal(n.networkId, hex(NET_ID, 16));
    assert.equal(n.mac, MAC.text);
    assert.equal(n.name, "earth ✓");
    assert.equal(n.status, "OK");
    assert.equal(n.type, "public");
    assert.equal(n.mtu, 2800);
    assert.equal(n.dhcp, true);
    assert.equal(n.bridge, false);
    assert.equal(n.broadcastEnabled, true);
    assert.equal(n.portError, -3);
    assert.equal(n.configRevision, 123456789);
    assert.equal(n.multicastSubscriptionCount, 7);
    assert.deepEqual(n.assignedAddresses, []);
    assert.deepEqual(n.routes, []);
  });

  test("network id is zero-padded to 16 digits, type 0 is private, flags 0 are false", () => {
    const { view } = struct(NET.headerSize);
    putU64(view, NET.id, 0x1234n);
    const n = networkOf(decode({ code: 213, network: view }));
    assert.equal(n.networkId, "0000000000001234");
    assert.equal(n.type, "private");
    assert.equal(n.dhcp, false);
    assert.equal(n.broadcastEnabled, false);
    assert.equal(n.mac, "00:00:00:00:00:00");
  });

  test("a name filling all 128 bytes (no NUL) is read whole and no further", () => {
    const view = netStruct((v, b) => {
      b.fill(0x61, NET.name, NET.name + NET.nameMax); // 'a' * 128
      v.setInt32(NET.status, 3, true); // first byte after the name is 0x03
    });
    const n = networkOf(decode({ code: 213, network: view }));
    assert.equal(n.name, "a".repeat(128));
    assert.equal(n.status, "NOT_FOUND");
  });

  test("status values map per ZTS_NETWORK_STATUS_*", () => {
    for (const [value, name] of Object.entries(NETWORK_STATUS_BY_VALUE)) {
      const view = netStruct((v) => v.setInt32(NET.status, Number(value), true));
      assert.equal(networkOf(decode({ code: 219, network: view })).status, name, `status ${value}`);
    }
  });

  test("out-of-range status values decode to some known status without throwing", () => {
    const known = new Set(Object.values(NETWORK_STATUS_BY_VALUE));
    for (const value of [6, -1, 1000, 0x7fffffff]) {
      const view = netStruct((v) => v.setInt32(NET.status, value, true));
      assert.ok(
        known.has(networkOf(decode({ code: 219, network: view })).status as string),
        `status ${value}`,
      );
    }
  });

  test("assigned addresses: IPv4 and IPv6, prefix length from the big-endian port field", () => {
    const view = netStruct((v) => {
      v.setUint32(NET.addrCount, 3, true);
      putSockaddr4(v, NET.addrs, [10, 147, 17, 5], 24); // bytes 00 18: 24 BE, 6144 LE
      putSockaddr6(v, NET.addrs + SA, V6_ASSIGNED, 88);
      // slot 2 left empty (family 0): not an address
    });
    const n = networkOf(decode({ code: 213, network: view }));
    assert.deepEqual(n.assignedAddresses, [
      { family: "IPv4", address: "10.147.17.5", prefixLength: 24 },
      { family: "IPv6", address: ipv6TextByUrl(V6_ASSIGNED), prefixLength: 88 },
    ]);
  });

  test("assigned address count is clamped to 16", () => {
    const view = netStruct((v) => {
      v.setUint32(NET.addrCount, 0xffffffff, true);
      for (let i = 0; i < NET.maxAddrs; i++) {
        putSockaddr4(v, NET.addrs + i * SA, [10, 0, 0, i + 1], 8);
      }
    });
    const n = networkOf(decode({ code: 213, network: view }));
    const addrs = n.assignedAddresses as { address: string }[];
    assert.equal(addrs.length, 16);
    assert.deepEqual(
      addrs.map((a) => a.address),
      Array.from({ length: 16 }, (_, i) => `10.0.0.${i + 1}`),
    );
    assert.deepEqual(n.routes, []);
  });

  test("routes: target prefix, gateway, little-endian flags and metric", () => {
    const gw6 = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const net6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const view = netStruct((v) => {
      v.setUint32(NET.routeCount, 3, true);
      const r0 = NET.routes;
      putSockaddr4(v, r0 + ROUTE.target, [10, 147, 17, 0], 24);
      v.setUint16(r0 + ROUTE.flags, 0x0102, true);
      v.setUint16(r0 + ROUTE.metric, 0x0304, true);
      const r1 = NET.routes + ROUTE.size;
      putSockaddr4(v, r1 + ROUTE.target, [0, 0, 0, 0], 0);
      putSockaddr4(v, r1 + ROUTE.via, [10, 147, 17, 1], 0);
      v.setUint16(r1 + ROUTE.metric, 100, true);
      const r2 = NET.routes + 2 * ROUTE.size;
      putSockaddr6(v, r2 + ROUTE.target, net6, 8);
      putSockaddr6(v, r2 + ROUTE.via, gw6, 0);
    });
    const n = networkOf(decode({ code: 213, network: view }));
    assert.deepEqual(n.routes, [
      {
        target: { family: "IPv4", address: "10.147.17.0", prefixLength: 24 },
        via: undefined,
        flags: 0x0102,
        metric: 0x0304,
      },
      {
        target: { family: "IPv4", address: "0.0.0.0", prefixLength: 0 },
        via: "10.147.17.1",
        flags: 0,
        metric: 100,
      },
      {
        target: { family: "IPv6", address: ipv6TextByUrl(net6), prefixLength: 8 },
        via: ipv6TextByUrl(gw6),
        flags: 0,
        metric: 0,
      },
    ]);
  });

  test("route count is clamped to 32", () => {
    const view = netStruct((v) => {
      v.setUint32(NET.routeCount, 0xffffffff, true);
      for (let i = 0; i < NET.maxRoutes; i++) {
        putSockaddr4(v, NET.routes + i * ROUTE.size + ROUTE.target, [10, i, 0, 0], 16);
        v.setUint16(NET.routes + i * ROUTE.size + ROUTE.metric, i, true);
      }
    });
    const n = networkOf(decode({ code: 213, network: view }));
    const routes = n.routes as { metric: number }[];
    assert.equal(routes.length, 32);
    assert.deepEqual(routes.map((r) => r.metric), Array.from({ length: 32 }, (_, i) => i));
  });

  test("every NETWORK_* code decodes its network payload", () => {
    for (const [name, code] of codesWithPrefix("NETWORK_")) {
      const e = decode({ code, network: netStruct(() => {}) });
      assert.equal(e.type, name);
      assert.equal(networkOf(e).networkId, hex(NET_ID, 16));
    }
  });

  test("missing network payload: zero id and empty fields, never throws", () => {
    for (const [name, code] of codesWithPrefix("NETWORK_")) {
      const e = decode({ code });
      assert.equal(e.type, name);
      const n = networkOf(e);
      assert.equal(n.networkId, "0".repeat(16));
      assert.deepEqual(n.assignedAddresses, []);
      assert.deepEqual(n.routes, []);
      assert.equal(n.name, "");
    }
  });
});

describe("decodeEvent: NETIF_*", () => {
  test("network id, masked mac, mtu", () => {
    const m = mac([0xfe, 0x01, 0x02, 0x03, 0x04, 0x05]);
    for (const [name, code] of codesWithPrefix("NETIF_")) {
      const { view } = struct(NETIF.size);
      putU64(view, NETIF.id, 0xff00160016000000n);
      putU64(view, NETIF.mac, m.value | (0xffffn << 48n));
      view.setInt32(NETIF.mtu, 2800, true);
      const e = decode({ code, netif: view });
      assert.equal(e.type, name);
      assert.deepEqual(asKind(e, "netif").netif, {
        networkId: "ff00160016000000",
        mac: m.text,
        mtu: 2800,
      });
    }
  });

  test("missing netif payload never throws", () => {
    for (const [name, code] of codesWithPrefix("NETIF_")) {
      const e = decode({ code });
      assert.equal(e.type, name);
      const netif = asKind(e, "netif").netif as { networkId: string };
      assert.equal(netif.networkId, "0".repeat(16));
    }
  });
});

describe("decodeEvent: ROUTE_*", () => {
  test("target, via, flags, metric from a zts_route_info_t", () => {
    const target = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const via = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd];
    for (const [name, code] of codesWithPrefix("ROUTE_")) {
      const { view } = struct(ROUTE.size);
      putSockaddr6(view, ROUTE.target, target, 64);
      putSockaddr6(view, ROUTE.via, via, 0);
      view.setUint16(ROUTE.flags, 0x0201, true);
      view.setUint16(ROUTE.metric, 0xfffe, true);
      const e = decode({ code, route: view });
      assert.equal(e.type, name);
      assert.deepEqual(asKind(e, "route").route, {
        target: { family: "IPv6", address: ipv6TextByUrl(target), prefixLength: 64 },
        via: ipv6TextByUrl(via),
        flags: 0x0201,
        metric: 0xfffe,
      });
    }
  });

  test("missing route payload never throws", () => {
    for (const [name, code] of codesWithPrefix("ROUTE_")) {
      const e = decode({ code });
      assert.equal(e.type, name);
      const r = asKind(e, "route").route as { target: unknown; via: unknown };
      assert.equal(r.target, undefined);
      assert.equal(r.via, undefined);
    }
  });
});

describe("decodeEvent: ADDR_*", () => {
  test("IPv4 address with network id", () => {
    for (const code of [260, 261]) {
      const { view } = struct(ADDR.size);
      putU64(view, ADDR.id, 0x8056c2e21c000001n);
      putSockaddr4(view, ADDR.addr, [172, 16, 0, 9], 0);
      const e = decode({ code, addr: view });
      assert.equal(e.type, code === 260 ? "ADDR_ADDED_IP4" : "ADDR_REMOVED_IP4");
      assert.deepEqual(asKind(e, "addr").addr, {
        networkId: "8056c2e21c000001",
        family: "IPv4",
        address: "172.16.0.9",
      });
    }
  });

  test("IPv6 address with network id", () => {
    const a = [0xfc, 0xab, 0xcd, 0xef, 0x01, 0x89, 0xe9, 0x2c, 0xee, 0xe5, 0, 0, 0, 0, 0, 1];
    for (const code of [262, 263]) {
      const { view } = struct(ADDR.size);
      putU64(view, ADDR.id, 0xff00160016000000n);
      putSockaddr6(view, ADDR.addr, a, 0);
      const e = decode({ code, addr: view });
      assert.equal(e.type, code === 262 ? "ADDR_ADDED_IP6" : "ADDR_REMOVED_IP6");
      assert.deepEqual(asKind(e, "addr").addr, {
        networkId: "ff00160016000000",
        family: "IPv6",
        address: ipv6TextByUrl(a),
      });
    }
  });

  test("missing addr payload never throws", () => {
    for (const [name, code] of codesWithPrefix("ADDR_")) {
      const e = decode({ code });
      assert.equal(e.type, name);
      assert.equal((asKind(e, "addr").addr as { networkId: string }).networkId, "0".repeat(16));
    }
  });
});

describe("decodeEvent: PEER_*", () => {
  const PEER_ID = 0x89e92ceee5n;

  /**
   * A peer payload as libzt 1.8 really fills it: header fields, the real path
   * count at 76, path addresses every 120 bytes from 40, and unrelated bytes
   * (including the header's path_count) everywhere else.
   */
  function peerStruct(opts: {
    count: number;
    headerCount?: number;
    paths?: ((v: DataView, off: number) => void)[];
    size?: number;
    ver?: [number, number, number];
    latency?: number;
    role?: number;
  }): DataView {
    const size = opts.size ?? PEER.size;
    const { view, bytes } = struct(size);
    bytes.fill(0x77); // ZT_Peer bytes that do not mean anything as zts_path_t
    putU64(view, PEER.id, PEER_ID);
    const [major, minor, rev] = opts.ver ?? [1, 10, 6];
    view.setInt32(PEER.major, major, true);
    view.setInt32(PEER.minor, minor, true);
    view.setInt32(PEER.rev, rev, true);
    view.setInt32(PEER.latency, opts.latency ?? 42, true);
    view.setInt32(PEER.role, opts.role ?? 0, true);
    view.setUint32(PEER.headerPathCount, opts.headerCount ?? 0xdeadbeef, true);
    view.setUint32(32, 0xcafebabe, true);
    // Every slot starts as "no address" (family 0) unless a path is written.
    for (let off = PEER.paths; off + SA <= size; off += PEER.stride) {
      bytes.fill(0, off, off + SA);
    }
    (opts.paths ?? []).forEach((write, i) => write(view, PEER.paths + i * PEER.stride));
    view.setUint32(PEER.realPathCount, opts.count, true);
    return view;
  }

  const peerOf = (e: ZeroTierEvent) =>
    asKind(e, "peer").peer as {
      peerId: string;
      version: string | undefined;
      latency: number | undefined;
      role: string;
      paths: { family: string; address: string; port: number }[];
    };

  test("header fields and paths at 40 + i*120, count from offset 76", () => {
    const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const view = peerStruct({
      count: 3,
      role: 2,
      paths: [
        (v, o) => putSockaddr4(v, o, [1, 2, 3, 4], 9993),
        (v, o) => putSockaddr6(v, o, v6, 21000),
        (v, o) => putSockaddr4(v, o, [192, 168, 1, 10], 41234),
      ],
    });
    const e = decode({ code: 240, peer: view }, 99);
    assert.equal(e.type, "PEER_DIRECT");
    assert.equal(e.receivedAt, 99);
    assert.deepEqual(peerOf(e), {
      peerId: hex(PEER_ID, 10),
      version: "1.10.6",
      latency: 42,
      role: "planet",
      paths: [
        { family: "IPv4", address: "1.2.3.4", port: 9993 },
        { family: "IPv6", address: ipv6TextByUrl(v6), port: 21000 },
        { family: "IPv4", address: "192.168.1.10", port: 41234 },
      ],
    });
  });

  test("roles: 0 leaf, 1 moon, 2 planet", () => {
    const roles = ["leaf", "moon", "planet"];
    roles.forEach((role, value) => {
      assert.equal(
        peerOf(decode({ code: 241, peer: peerStruct({ count: 0, role: value }) })).role,
        role,
      );
    });
  });

  test("unknown version (-1) and latency (-1) become undefined", () => {
    const p = peerOf(
      decode({ code: 241, peer: peerStruct({ count: 0, ver: [-1, -1, -1], latency: -1 }) }),
    );
    assert.equal(p.version, undefined);
    assert.equal(p.latency, undefined);
    assert.deepEqual(p.paths, []);
  });

  test("the header path_count (offset 28) is ignored", () => {
    const write = (v: DataView, o: number) => putSockaddr4(v, o, [8, 8, 8, 8], 9993);
    // Header claims 5, real count 0: no paths even though slots hold addresses.
    const none = peerOf(
      decode({ code: 243, peer: peerStruct({ count: 0, headerCount: 5, paths: [write, write] }) }),
    );
    assert.deepEqual(none.paths, []);
    // Header claims 0, real count 2: two paths.
    const two = peerOf(
      decode({ code: 243, peer: peerStruct({ count: 2, headerCount: 0, paths: [write, write] }) }),
    );
    assert.equal(two.paths.length, 2);
  });

  test("real path count above 64 is clamped to 64", () => {
    const slots = 70;
    const paths = Array.from(
      { length: slots },
      (_, i) => (v: DataView, o: number) => putSockaddr4(v, o, [10, 0, i >> 8, i & 0xff], 1000 + i),
    );
    // A buffer long enough to hold 70 slots, so only the clamp can stop at 64.
    const view = peerStruct({ count: 1000, paths, size: PEER.paths + slots * PEER.stride });
    const p = peerOf(decode({ code: 240, peer: view }));
    assert.equal(p.paths.length, 64);
    assert.deepEqual(p.paths.map((x) => x.port), Array.from({ length: 64 }, (_, i) => 1000 + i));
  });

  test("paths extending past the end of the view are not read", () => {
    // Build a full peer struct, then decode a view that stops inside path 2.
    const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const full = peerStruct({
      count: 5,
      paths: [
        (v, o) => putSockaddr4(v, o, [1, 1, 1, 1], 1),
        (v, o) => putSockaddr4(v, o, [2, 2, 2, 2], 2),
        (v, o) => putSockaddr6(v, o, v6, 3),
        (v, o) => putSockaddr4(v, o, [4, 4, 4, 4], 4),
      ],
    });
    const cutAt = PEER.paths + 2 * PEER.stride + 20; // family byte of path 2 inside, address outside
    const view = new DataView(full.buffer, full.byteOffset, cutAt);
    const p = peerOf(decode({ code: 243, peer: view }));
    assert.deepEqual(p.paths, [
      { family: "IPv4", address: "1.1.1.1", port: 1 },
      { family: "IPv4", address: "2.2.2.2", port: 2 },
    ]);
  });

  test("every PEER_* code decodes its peer payload", () => {
    for (const [name, code] of codesWithPrefix("PEER_")) {
      const e = decode({ code, peer: peerStruct({ count: 0 }) });
      assert.equal(e.type, name);
      assert.equal(peerOf(e).peerId, hex(PEER_ID, 10));
    }
  });

  test("missing peer payload never throws", () => {
    for (const [name, code] of codesWithPrefix("PEER_")) {
      const e = decode({ code });
      assert.equal(e.type, name);
      const p = peerOf(e);
      assert.equal(p.peerId, "0".repeat(10));
      assert.deepEqual(p.paths, []);
      assert.equal(p.version, undefined);
    }
  });
});

describe("decodeEvent: STORE_*, STACK_*, unknown", () => {
  test("STORE_* carry the cached bytes unchanged", () => {
    for (const [name, code] of codesWithPrefix("STORE_")) {
      const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + code) & 0xff);
      const copy = bytes.slice();
      const e = decode({ code, cache: bytes });
      assert.equal(e.type, name);
      const data = asKind(e, "data").data as Uint8Array;
      assert.ok(data instanceof Uint8Array);
      assert.deepEqual(data, copy);
    }
  });

  test("STORE_* without bytes carry an empty array", () => {
    for (const [, code] of codesWithPrefix("STORE_")) {
      const data = asKind(decode({ code }), "data").data as Uint8Array;
      assert.ok(data instanceof Uint8Array);
      assert.equal(data.length, 0);
    }
  });

  test("STACK_* have no payload, even when the raw event carries some", () => {
    const { view } = struct(64);
    for (const [name, code] of codesWithPrefix("STACK_")) {
      for (const raw of [{ code }, { code, node: view, network: view, cache: new Uint8Array(3) }]) {
        const e = decode(raw, 5);
        assert.deepEqual({ ...e }, { type: name, code, receivedAt: 5 });
      }
    }
  });

  test("codes libzt 1.8 does not define decode as UNKNOWN with nothing else", () => {
    const { view } = struct(PEER.size);
    for (const code of [0, -1, 199, 205, 209, 222, 229, 235, 245, 252, 264, 269, 275, 300]) {
      for (
        const raw of [{ code }, {
          code,
          node: view,
          peer: view,
          network: view,
          cache: new Uint8Array(1),
        }]
      ) {
        assert.deepEqual(
          { ...decode(raw, 3) },
          { type: "UNKNOWN", code, receivedAt: 3 },
          `code ${code}`,
        );
      }
    }
  });

  test("every defined code decodes without payloads and without throwing", () => {
    const payloadKey: Record<string, string | undefined> = {
      NODE: "node",
      NETWORK: "network",
      STACK: undefined,
      NETIF: "netif",
      PEER: "peer",
      ROUTE: "route",
      ADDR: "addr",
      STORE: "data",
    };
    for (const [name, code] of Object.entries(LIBZT_EVENT_CODES)) {
      const e = decode({ code }, 1);
      assert.equal(e.type, name);
      assert.equal(e.code, code);
      const key = payloadKey[name.split("_")[0]];
      const keys = Object.keys(e).sort();
      assert.deepEqual(keys, ["code", "receivedAt", "type", ...(key ? [key] : [])].sort(), name);
    }
  });

  test("(helper sanity) struct views are surrounded by junk", () => {
    // Sanity check of the helper: `struct` really puts junk around the view.
    const { view } = struct(8, 8);
    const whole = new Uint8Array(view.buffer);
    assert.equal(whole[view.byteOffset - 1], JUNK);
    assert.equal(whole[view.byteOffset + view.byteLength], JUNK);
    assert.deepEqual(idBytes(0x0102030405n, 5), [1, 2, 3, 4, 5]);
  });
});
