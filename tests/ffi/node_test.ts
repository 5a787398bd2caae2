/**
 * Tier 2: one node on the libzt stand-in, started once in `before` and
 * stopped by the last test (libzt allows one node per process and cannot
 * restart it). Everything that needs a running node lives in this ONE
 * ordered describe.
 *
 * Stand-in rules relied on (tests/native/zts_standin.c):
 *  - after zts_node_start: NODE_UP, STORE_IDENTITY_PUBLIC/SECRET (the
 *    identity text), NODE_ONLINE (~50 ms), then peers: 00000000bb (planet,
 *    DIRECT, path 203.0.113.1/9993) and 00000000aa (leaf: RELAY with 0 paths,
 *    PATH_DISCOVERED with 1, DIRECT with 2: 192.0.2.10/9993, [2001:db8::10]/9993);
 *  - zts_net_join: controller byte 0xdd -> NOT_FOUND, 0xde -> ACCESS_DENIED;
 *    ff SSSS EEEE 000000 -> ad-hoc IPv6 (6PLANE address, READY_IP6);
 *    ff AA .......... 01 -> ad-hoc IPv4 (AA.<node low 24 bits> plus 6PLANE,
 *    READY_IP4_IP6); anything else -> OK with 10.147.17.<node & 0xff>/24 and
 *    the RFC 4193 address; joining a joined network does nothing new;
 *  - zts_net_leave: NETWORK_DOWN, then ADDR_REMOVED_* per address;
 *  - standin_emit payloads: node -> this node; network -> status OK, name
 *    "standin-net", MTU 2800; netif -> MTU 2800; peer -> 1 path
 *    192.0.2.10/9993, latency 7, leaf; route -> target 10.147.17.0/24;
 *    addr -> 10.0.0.1; cache -> 16 bytes of 0x42; other codes -> no payload;
 *  - every payload is scrubbed with 0xDD once the handler returns.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Observable, Subscription } from "rxjs";
import {
  adhocIPv4Address,
  adhocIPv4NetworkId,
  adhocNetworkId,
  createRootSet,
  generateIdentity,
  identityNodeId,
  InvalidArgumentError,
  LibztCallError,
  NetworkError,
  NodeStateError,
  publicIdentity,
  rfc4193Address,
  sixPlaneAddress,
  TimeoutError,
  UnavailableError,
  type ZeroTierEvent,
  ZeroTierNode,
} from "../../mod.ts";
import { firstMatch, hex, record, type Recording, sleep, until, within } from "./_helpers.ts";
import { standinControl, standinPath } from "./_standin.ts";

/** libzt 1.8 event codes and names, restated from the stand-in's enum (not from rxzt). */
const NAMES: Record<number, string> = {
  200: "NODE_UP",
  201: "NODE_ONLINE",
  202: "NODE_OFFLINE",
  203: "NODE_DOWN",
  204: "NODE_FATAL_ERROR",
  210: "NETWORK_NOT_FOUND",
  211: "NETWORK_CLIENT_TOO_OLD",
  212: "NETWORK_REQ_CONFIG",
  213: "NETWORK_OK",
  214: "NETWORK_ACCESS_DENIED",
  215: "NETWORK_READY_IP4",
  216: "NETWORK_READY_IP6",
  217: "NETWORK_READY_IP4_IP6",
  218: "NETWORK_DOWN",
  219: "NETWORK_UPDATE",
  220: "STACK_UP",
  221: "STACK_DOWN",
  230: "NETIF_UP",
  231: "NETIF_DOWN",
  232: "NETIF_REMOVED",
  233: "NETIF_LINK_UP",
  234: "NETIF_LINK_DOWN",
  240: "PEER_DIRECT",
  241: "PEER_RELAY",
  242: "PEER_UNREACHABLE",
  243: "PEER_PATH_DISCOVERED",
  244: "PEER_PATH_DEAD",
  250: "ROUTE_ADDED",
  251: "ROUTE_REMOVED",
  260: "ADDR_ADDED_IP4",
  261: "ADDR_REMOVED_IP4",
  262: "ADDR_ADDED_IP6",
  263: "ADDR_REMOVED_IP6",
  270: "STORE_IDENTITY_SECRET",
  271: "STORE_IDENTITY_PUBLIC",
  272: "STORE_PLANET",
  273: "STORE_PEER",
  274: "STORE_NETWORK",
};

/** The stand-in's fake MAC of this node on a network. */
function fakeMac(net: bigint, node: bigint): string {
  const first = ((net & 0xfen) | 0x02n) & 0xffn;
  const mac = (first << 40n) | ((node ^ (net >> 8n)) & 0xffffffffffn);
  return hex(mac, 12).match(/../g)!.join(":");
}

const STANDIN_PEER_PATHS = [
  { family: "IPv4", address: "192.0.2.10", port: 9993 },
  { family: "IPv6", address: "2001:db8::10", port: 9993 },
];

describe("a node on the libzt stand-in (one per process, started once)", () => {
  const libraryPath = standinPath();
  const ctl = standinControl();
  let node: ZeroTierNode;
  let identity: string;
  const log: ZeroTierEvent[] = [];
  const stores: ZeroTierEvent[] = [];
  const subs: Subscription[] = [];

  const addrOf = (list: readonly { address: string }[]) => list.map((a) => a.address).sort();

  /** Waits until no event arrived for a while and rxzt has seen everything the stand-in delivered. */
  async function quiet(): Promise<void> {
    const deadline = performance.now() + 3000;
    let seen = -1;
    while (performance.now() < deadline) {
      const now = log.length;
      if (now === seen && node.eventCounters.received === Number(ctl.delivered())) return;
      seen = now;
      await sleep(40);
    }
    throw new Error("the stand-in did not go quiet within 3 s");
  }

  before(async () => {
    identity = generateIdentity({ libraryPath });
    const roots = createRootSet({
      roots: [{
        identity: publicIdentity(generateIdentity({ libraryPath })),
        endpoints: ["10.99.0.1/9993"],
      }],
      libraryPath,
    }).bytes;
    node = await ZeroTierNode.start({
      libraryPath,
      identity,
      roots,
      randomPortRange: { start: 31000, end: 31999 },
      secondaryPort: false,
      portMapping: false,
      lowBandwidthMode: true,
      interfaceBlacklist: ["docker", "veth"],
      cache: { identity: false, peers: false, networks: false, roots: false },
      timeout: 5000,
    });
    // Subscribed in the same turn start() resolved in: nothing after NODE_UP is missed.
    subs.push(node.events$.subscribe((e) => log.push(e)));
    subs.push(node.store$.subscribe((e) => stores.push(e)));
  });

  after(async () => {
    for (const s of subs) s.unsubscribe();
    if (node && node.lifecycle !== "stopped") {
      await within(node.stop(), 5000, "stopping the node in after()");
    }
  });

  describe("lifecycle and payloads", () => {
    test("start resolves with the identity's 10-hex node id and the options applied", () => {
      assert.match(node.nodeId, /^[0-9a-f]{10}$/);
      assert.equal(node.nodeId, identityNodeId(identity));
      assert.equal(node.lifecycle, "running");
      assert.equal(node.libraryPath, libraryPath);
      assert.equal(node.secretIdentity(), identity);
      assert.ok(
        node.port >= 31000 && node.port <= 31999,
        `port ${node.port} outside randomPortRange`,
      );
    });

    test("events are delivered from the stand-in's own thread", async () => {
      await until(() => log.length > 0, "a first event after start");
      const eventThread = ctl.eventThreadId();
      assert.notEqual(eventThread, 0n);
      assert.notEqual(eventThread, ctl.currentThreadId());
      assert.equal(ctl.handlerThreadIsCaller(), false);
    });

    test("online$ replays true after NODE_ONLINE", async () => {
      await node.waitUntilOnline({ timeout: 3000 });
      assert.ok(log.some((e) => e.type === "NODE_ONLINE"), "no NODE_ONLINE event");
      assert.equal(node.isOnline, true);
      const late = record(node.online$);
      assert.deepEqual(late.values, [true], "a late subscriber gets the current value at once");
      late.subscription.unsubscribe();
      await node.waitUntilOnline({ timeout: 0 }); // already online: resolves with no wait
    });

    test("NODE_* events are typed and carry this node's id and ports", () => {
      const online = log.find((e) => e.type === "NODE_ONLINE");
      assert.ok(online && online.type === "NODE_ONLINE");
      assert.equal(online.code, 201);
      assert.equal(typeof online.receivedAt, "number");
      assert.ok(online.node);
      assert.equal(online.node.nodeId, node.nodeId);
      assert.equal(online.node.primaryPort, node.port);
      assert.equal(online.node.secondaryPort, 0, "secondaryPort: false reached the library");
      assert.match(online.node.version, /^\d+\.\d+\.\d+$/);
      const times = log.map((e) => e.receivedAt);
      assert.deepEqual(times, [...times].sort((a, b) => a - b), "receivedAt is monotonic");
    });

    test("store$ carries the identity libzt would persist, matching secretIdentity()", async () => {
      await until(() => stores.length >= 2, "STORE_IDENTITY_* events");
      const text = (type: string) => {
        const e = stores.find((s) => s.type === type);
        assert.ok(e && "data" in e, `no ${type}`);
        return new TextDecoder().decode(e.data);
      };
      assert.equal(text("STORE_IDENTITY_SECRET"), node.secretIdentity());
      assert.equal(text("STORE_IDENTITY_PUBLIC"), publicIdentity(node.secretIdentity()));
      assert.ok(stores.every((e) => e.type.startsWith("STORE_")));
    });

    test("peer payloads decode correctly although the stand-in scrubs them after the callback", async () => {
      const aa = await firstMatch(
        node.peer$("00000000aa"),
        (p) => p.link === "DIRECT" && p.paths.length === 2,
        "peer 00000000aa DIRECT with 2 paths",
      );
      assert.deepEqual(aa.paths, STANDIN_PEER_PATHS);
      assert.equal(aa.role, "leaf");
      assert.equal(aa.latency, 7);
      assert.match(aa.version!, /^\d+\.\d+\.\d+$/);
      const bb = await firstMatch(
        node.peer$(0xbbn),
        (p) => p.link === "DIRECT",
        "root peer 00000000bb",
      );
      assert.equal(bb.role, "planet");
      assert.deepEqual(bb.paths, [{ family: "IPv4", address: "203.0.113.1", port: 9993 }]);
      // each event kept its own copy: later events (and the scrubbing) did not change earlier ones
      const aaEvents = log.filter((e) =>
        e.type.startsWith("PEER_") && "peer" in e && e.peer.peerId === "00000000aa"
      );
      assert.deepEqual(
        aaEvents.map((e) => [e.type, "peer" in e ? e.peer.paths.length : -1]),
        [["PEER_RELAY", 0], ["PEER_PATH_DISCOVERED", 1], ["PEER_DIRECT", 2]],
      );
      const discovered = aaEvents[1];
      assert.ok("peer" in discovered);
      assert.deepEqual(discovered.peer.paths, STANDIN_PEER_PATHS.slice(0, 1));
    });

    test("eventCounters.received equals what the stand-in delivered", async () => {
      await quiet();
      const c = node.eventCounters;
      assert.equal(c.received, Number(ctl.delivered()));
      assert.equal(
        c.received,
        log.length + 1,
        "events$ saw every event but NODE_UP (before subscribing)",
      );
      assert.equal(c.decodeErrors, 0);
      assert.equal(c.dropped, 0);
    });

    test("stats() is UNAVAILABLE on a libzt without statistics", () => {
      assert.throws(
        () => node.stats(),
        (e) => e instanceof UnavailableError && e.code === "UNAVAILABLE",
      );
    });

    test("String(node) shows the id but never the secret", () => {
      const secretHalf = identity.split(":")[3];
      for (const s of [String(node), Deno.inspect(node)]) {
        assert.ok(s.includes(node.nodeId));
        assert.ok(!s.includes(secretHalf));
      }
    });
  });

  describe("networks", () => {
    const net6 = adhocNetworkId(5000, 5010);
    const net4 = adhocIPv4NetworkId(10);
    const netPrivate = "8056c2e21c000001";

    test("ad-hoc IPv6: join resolves ready for IPv6 with this node's 6PLANE address", async () => {
      const state = await node.join(net6, { family: "IPv6", timeout: 3000 });
      assert.equal(state.networkId, net6);
      assert.equal(state.status, "OK");
      assert.equal(state.readyIPv6, true);
      const expected = sixPlaneAddress(net6, node.nodeId);
      assert.ok(
        state.assignedAddresses.some((a) => a.family === "IPv6" && a.address === expected),
        `assignedAddresses ${JSON.stringify(state.assignedAddresses)} lack ${expected}`,
      );
      assert.ok(
        state.addresses.some((a) => a.address === expected),
        "ADDR_ADDED_IP6 reached the state",
      );
      assert.equal(state.mac, fakeMac(BigInt(`0x${net6}`), BigInt(`0x${node.nodeId}`)));
      assert.deepEqual(addrOf(node.addresses(net6)), addrOf(state.assignedAddresses));
      assert.deepEqual(addrOf(node.addresses(BigInt(`0x${net6}`))), [expected]);
    });

    test("ad-hoc IPv4: join resolves with adhocIPv4Address and the 6PLANE address", async () => {
      const state = await node.join(net4, { timeout: 3000 });
      assert.equal(state.readyIPv4, true);
      const v4 = adhocIPv4Address(net4, node.nodeId);
      const v6 = sixPlaneAddress(net4, node.nodeId);
      assert.deepEqual(
        state.assignedAddresses.map((a) => [a.family, a.address]).sort(),
        [["IPv4", v4], ["IPv6", v6]].sort(),
      );
      assert.deepEqual(addrOf(node.addresses(net4)), [v4, v6].sort());
      const both = await node.join(net4, { family: "both", timeout: 1000 });
      assert.equal(both.readyIPv4 && both.readyIPv6, true);
    });

    test("a controller network: RFC 4193 address, the IPv4 assignment and its route", async () => {
      const state = await node.join(netPrivate, { family: "both", timeout: 3000 });
      assert.equal(state.type, "private");
      const v6 = rfc4193Address(netPrivate, node.nodeId);
      const v4 = `10.147.17.${Number(BigInt(`0x${node.nodeId}`) & 0xffn)}`;
      assert.deepEqual(addrOf(state.assignedAddresses), [v4, v6].sort());
      assert.deepEqual(state.routes.map((r) => r.target), [{
        family: "IPv4",
        address: "10.147.17.0",
        prefixLength: 24,
      }]);
      assert.deepEqual(addrOf(node.addresses(netPrivate)), [v4, v6].sort());
    });

    test("joining a network again, sequentially or concurrently, resolves", async () => {
      const again = await node.join(net6, { family: "IPv6", timeout: 1000 });
      assert.equal(again.readyIPv6, true);
      const both = await Promise.all([
        node.join(netPrivate, { timeout: 1000 }),
        node.join(netPrivate, { timeout: 1000 }),
      ]);
      assert.ok(both.every((s) => s.readyIPv4 && s.status === "OK"));
    });

    test("NOT_FOUND (controller 0xdd): NetworkError NETWORK_NOT_FOUND, network$ shows NOT_FOUND", async () => {
      const id = "00000000dd000001";
      await assert.rejects(
        node.join(id, { timeout: 3000 }),
        (e) => e instanceof NetworkError && e.code === "NETWORK_NOT_FOUND" && e.networkId === id,
      );
      const now = record(node.network$(id));
      assert.equal(now.values.length, 1);
      assert.equal(now.values[0].status, "NOT_FOUND");
      assert.equal(now.values[0].readyIPv4 || now.values[0].readyIPv6, false);
      now.subscription.unsubscribe();
    });

    test("joining again after NOT_FOUND asks anew: NETWORK_NOT_FOUND again, not a wait for the timeout", async () => {
      // libzt keeps a network that ended NOT_FOUND joined, and a second zts_net_join of it
      // changes nothing (the stand-in does the same): join() must leave it first.
      const id = "00000000dd000001";
      const t0 = performance.now();
      await assert.rejects(
        node.join(id, { timeout: 4000 }),
        (e) => e instanceof NetworkError && e.code === "NETWORK_NOT_FOUND",
      );
      assert.ok(performance.now() - t0 < 3000, `took ${Math.round(performance.now() - t0)} ms`);
    });

    test("ACCESS_DENIED (controller 0xde): NetworkError NETWORK_ACCESS_DENIED", async () => {
      const id = 0x00000000de000001n;
      await assert.rejects(
        node.join(id, { timeout: 3000 }),
        (e) =>
          e instanceof NetworkError && e.code === "NETWORK_ACCESS_DENIED" &&
          e.networkId === hex(id, 16),
      );
      const s = await firstMatch(node.network$(id), () => true, "network$ replay");
      assert.equal(s.status, "ACCESS_DENIED");
    });

    test("an already-aborted signal rejects the join with the signal's reason", async () => {
      const reason = new Error("caller gave up");
      const id = "8056c2e21c0000a1";
      await assert.rejects(
        node.join(id, { signal: AbortSignal.abort(reason), timeout: 3000 }),
        (e) => e === reason,
      );
      // documented: aborting ends the wait, the join stays in effect (leave it)
      await firstMatch(
        node.network$(id),
        (s) => s.readyIPv4,
        "the aborted join's network to come up",
      );
      await node.leave(id, { timeout: 3000 });
    });

    test("aborting during the wait rejects with the reason", async () => {
      const reason = new DOMException("stop waiting", "AbortError");
      const ac = new AbortController();
      const id = "8056c2e21c0000a2";
      const pending = node.join(id, { signal: ac.signal, timeout: 3000 });
      ac.abort(reason);
      await assert.rejects(pending, (e) => e === reason);
      await firstMatch(
        node.network$(id),
        (s) => s.readyIPv4,
        "the aborted join's network to come up",
      );
      await node.leave(id, { timeout: 3000 });
    });

    test("a readiness that never comes: TimeoutError after the join timeout", async () => {
      // the ad-hoc IPv6 network never gets IPv4
      const started = performance.now();
      await assert.rejects(
        node.join(net6, { family: "IPv4", timeout: 150 }),
        (e) => e instanceof TimeoutError && e.code === "ETIMEDOUT" && e.timeoutMs === 150,
      );
      assert.ok(performance.now() - started >= 140, "rejected before the timeout");
      const s = await firstMatch(node.network$(net6), () => true, "network$ replay");
      assert.equal(s.readyIPv6, true, "the timed-out wait did not change the network");
    });

    test("leave() resolves; network$ shows DOWN and address$ the removals", async () => {
      const removed = record(node.address$);
      try {
        await node.leave(net4, { timeout: 3000 });
        const s = await firstMatch(node.network$(net4), () => true, "network$ replay");
        assert.equal(s.status, "DOWN");
        assert.equal(s.readyIPv4 || s.readyIPv6, false);
        assert.deepEqual(s.addresses, []);
        await until(() => removed.values.length >= 2, "ADDR_REMOVED events after leave");
        const v4 = adhocIPv4Address(net4, node.nodeId);
        const v6 = sixPlaneAddress(net4, node.nodeId);
        assert.deepEqual(
          removed.values.map((c) => [c.networkId, c.family, c.address, c.added]).sort(),
          [[net4, "IPv4", v4, false], [net4, "IPv6", v6, false]].sort(),
        );
        assert.deepEqual(node.addresses(net4), []);
      } finally {
        removed.subscription.unsubscribe();
      }
    });

    test("a network left can be joined again", async () => {
      const state = await node.join(net4, { timeout: 3000 });
      assert.equal(state.status, "OK");
      assert.equal(state.readyIPv4, true);
      assert.deepEqual(
        addrOf(node.addresses(net4)),
        [adhocIPv4Address(net4, node.nodeId), sixPlaneAddress(net4, node.nodeId)].sort(),
      );
    });

    test("leaving a network never joined is a LibztCallError from zts_net_leave", async () => {
      await assert.rejects(
        node.leave("8056c2e21c0000ff", { timeout: 1000 }),
        (e) => e instanceof LibztCallError && e.function === "zts_net_leave",
      );
      assert.deepEqual(node.addresses("8056c2e21c0000ff"), []);
    });
  });

  describe("peers", () => {
    const peer = 0x1234abcd56n;

    test("peer$(id) follows RELAY -> DIRECT -> UNREACHABLE", async () => {
      const rec = record(node.peer$(hex(peer, 10)));
      try {
        assert.equal(rec.values.length, 0, "an unknown peer has no state yet");
        ctl.peerSequence(peer, false);
        await until(() => rec.values.at(-1)?.link === "RELAY", "RELAY");
        assert.deepEqual(rec.values.at(-1)!.paths, []);
        ctl.peerSequence(peer, true);
        await until(() => rec.values.at(-1)?.link === "DIRECT", "DIRECT");
        assert.deepEqual(rec.values.at(-1)!.paths, STANDIN_PEER_PATHS);
        ctl.emit(242, peer);
        await until(() => rec.values.at(-1)?.link === "UNREACHABLE", "UNREACHABLE");
        assert.deepEqual(rec.values.map((p) => p.link), ["RELAY", "DIRECT", "UNREACHABLE"]);
        assert.ok(rec.values.every((p) => p.peerId === hex(peer, 10)));
        assert.equal(rec.values.at(-1)!.lastEvent, "PEER_UNREACHABLE");
      } finally {
        rec.subscription.unsubscribe();
      }
    });

    test("a path event alone does not change how the peer is reached", async () => {
      ctl.emit(243, peer); // PEER_PATH_DISCOVERED
      const s = await firstMatch(
        node.peer$(peer),
        (p) => p.lastEvent === "PEER_PATH_DISCOVERED",
        "PATH_DISCOVERED",
      );
      assert.equal(s.link, "UNREACHABLE");
      assert.equal(s.paths.length, 1);
    });

    test("peer$() replays every known peer to a late subscriber, then follows changes", async () => {
      const rec = record(node.peer$());
      try {
        const byId = new Map(rec.values.map((p) => [p.peerId, p.link]));
        assert.equal(byId.get("00000000aa"), "DIRECT");
        assert.equal(byId.get("00000000bb"), "DIRECT");
        assert.equal(byId.get(hex(peer, 10)), "UNREACHABLE");
        const known = await firstMatch(node.peers$, () => true, "peers$ replay");
        assert.deepEqual([...byId.keys()].sort(), [...known.keys()].sort());
        const replayed = rec.values.length;
        ctl.peerSequence(0x00000000ccn, true);
        await until(() => rec.values.length > replayed, "a new peer after the replay");
        assert.equal(rec.values.at(-1)!.peerId, "00000000cc");
      } finally {
        rec.subscription.unsubscribe();
      }
    });
  });

  describe("event pipeline", () => {
    test("every code 200-274 the stand-in can emit decodes to its named type and payload", async () => {
      await quiet();
      const netId = 0x7e57000000000001n;
      const peerId = 0x7e57000001n;
      const nodeBig = BigInt(`0x${node.nodeId}`);
      const seen: ZeroTierEvent[] = [];
      const sub = node.events$.subscribe((e) => seen.push(e));
      const codes: number[] = [];
      const countersBefore = node.eventCounters;
      try {
        for (let code = 200; code <= 274; code++) {
          codes.push(code);
          const kindId = code >= 240 && code <= 244 ? peerId : netId;
          ctl.emit(code, kindId);
        }
        await until(() => seen.length >= codes.length, `${codes.length} emitted events`);
        assert.deepEqual(seen.map((e) => e.code), codes, "delivered in order, none lost");
        for (const e of seen) {
          const name = NAMES[e.code];
          if (!name) {
            assert.equal(e.type, "UNKNOWN", `code ${e.code}`);
            continue;
          }
          assert.equal(e.type, name, `code ${e.code}`);
          if ("node" in e) {
            assert.equal(e.node?.nodeId, node.nodeId, name);
            assert.equal(e.node?.primaryPort, node.port, name);
          } else if ("network" in e) {
            assert.equal(e.network.networkId, hex(netId, 16), name);
            assert.equal(e.network.name, "standin-net", name);
            assert.equal(e.network.status, "OK", name);
            assert.equal(e.network.mtu, 2800, name);
            assert.equal(e.network.mac, fakeMac(netId, nodeBig), name);
          } else if ("netif" in e) {
            assert.deepEqual(e.netif, {
              networkId: hex(netId, 16),
              mac: fakeMac(netId, nodeBig),
              mtu: 2800,
            }, name);
          } else if ("peer" in e) {
            assert.equal(e.peer.peerId, hex(peerId, 10), name);
            assert.deepEqual(e.peer.paths, STANDIN_PEER_PATHS.slice(0, 1), name);
            assert.equal(e.peer.latency, 7, name);
            assert.equal(e.peer.role, "leaf", name);
          } else if ("route" in e) {
            assert.deepEqual(e.route.target, {
              family: "IPv4",
              address: "10.147.17.0",
              prefixLength: 24,
            }, name);
            assert.equal(e.route.via, undefined, name);
          } else if ("addr" in e) {
            assert.deepEqual(e.addr, {
              networkId: hex(netId, 16),
              family: "IPv4",
              address: "10.0.0.1",
            }, name);
          } else if ("data" in e) {
            assert.deepEqual(e.data, new Uint8Array(16).fill(0x42), name);
          } else {
            assert.ok(name.startsWith("STACK_"), `${name} should have a payload`);
          }
        }
        assert.equal(node.eventCounters.decodeErrors, countersBefore.decodeErrors);
        assert.equal(node.eventCounters.received - countersBefore.received, codes.length);
      } finally {
        sub.unsubscribe();
      }
      // NODE_OFFLINE/NODE_DOWN above took online$ to false; NODE_ONLINE restores it
      ctl.emit(201);
      await node.waitUntilOnline({ timeout: 2000 });
    });

    test("a burst over libzt's 1024-event queue: rxzt receives exactly what was delivered", async () => {
      await quiet();
      const n = 1100;
      const delivered0 = ctl.delivered();
      const dropped0 = ctl.dropped();
      const received0 = node.eventCounters.received;
      let stackUps = 0;
      const sub = node.events$.subscribe((e) => {
        if (e.type === "STACK_UP") stackUps++;
      });
      try {
        ctl.emitBurst(220, 0n, n);
        const droppedDelta = Number(ctl.dropped() - dropped0);
        assert.ok(
          droppedDelta >= n - 1024,
          `the stand-in should drop at least ${n - 1024}, dropped ${droppedDelta}`,
        );
        const expected = n - droppedDelta;
        await until(() => stackUps >= expected, `${expected} STACK_UP events`, 10_000);
        await quiet();
        const deliveredDelta = Number(ctl.delivered() - delivered0);
        assert.equal(deliveredDelta, expected, "delivered + dropped = emitted");
        assert.equal(node.eventCounters.received - received0, deliveredDelta);
        assert.equal(stackUps, deliveredDelta);
        assert.equal(
          node.eventCounters.dropped,
          0,
          "drops happen inside libzt, which rxzt cannot count",
        );
        assert.equal(node.eventCounters.decodeErrors, 0);
      } finally {
        sub.unsubscribe();
      }
    });

    test("1000 subscribe/unsubscribe rounds leave no subscriber behind", async () => {
      await quiet();
      const netId = 0x7e57000000000002n;
      const peerId = 0x7e57000002n;
      ctl.emit(219, netId); // make both known, so the replaying observables replay
      ctl.peerSequence(peerId, false);
      await firstMatch(node.network$(netId), () => true, "test network known");
      await firstMatch(node.peer$(peerId), () => true, "test peer known");

      // [name, observable, replays on subscribe, values a live subscriber sees from the changes below]
      const targets: [string, Observable<unknown>, boolean, number][] = [
        ["events$", node.events$, false, 6],
        ["online$", node.online$, true, 3],
        ["networks$", node.networks$, true, 3],
        ["peers$", node.peers$, true, 2],
        ["network$(id)", node.network$(netId), true, 3],
        ["peer$(id)", node.peer$(peerId), true, 2],
        ["peer$()", node.peer$(), true, 0],
        ["store$", node.store$, false, 1],
        ["address$", node.address$, false, 1],
      ];
      const knownPeers = (await firstMatch(node.peers$, () => true, "peers$ replay")).size;
      const counts = new Map<string, { n: number }>();
      for (const [name, obs, replays] of targets) {
        const c = { n: 0 };
        counts.set(name, c);
        for (let i = 0; i < 1000; i++) {
          const s = obs.subscribe(() => c.n++);
          s.unsubscribe();
          assert.equal(s.closed, true);
        }
        // peer$() replays every known peer; the others replay one value (or none)
        const perSubscription = name === "peer$()" ? knownPeers : replays ? 1 : 0;
        assert.equal(c.n, 1000 * perSubscription, `${name}: replays per subscription`);
      }
      const snapshot = new Map([...counts].map(([name, c]) => [name, c.n]));

      // Drive a change through every observable, with one live subscriber each to see it arrive.
      const live = targets.map(([name, obs, , expected]) => [name, record(obs), expected] as const);
      try {
        ctl.emit(219, netId); // networks$, network$(id)
        ctl.peerSequence(peerId, true); // peers$, peer$(id), peer$()
        ctl.emit(272, 0n); // store$
        ctl.emit(260, netId); // address$, networks$, network$(id)
        ctl.emit(202); // online$ -> false
        ctl.emit(201); // online$ -> true
        for (const [name, rec, expected] of live) {
          await until(
            () => rec.values.length >= expected,
            `${name}: ${expected} values for a live subscriber`,
          );
        }
        const peerAll = live.find(([name]) => name === "peer$()")![1].values as {
          peerId: string;
          link: string;
        }[];
        // Going offline and online also re-reports relayed peers (UNREACHABLE, then RELAY).
        await until(
          () => peerAll.findLast((p) => p.peerId === hex(peerId, 10))?.link === "DIRECT",
          "peer$(): the change after the replay",
        );
        await quiet();
        for (const [name, c] of counts) {
          assert.equal(c.n, snapshot.get(name), `${name}: an unsubscribed callback ran again`);
        }
      } finally {
        for (const [, rec] of live) rec.subscription.unsubscribe();
      }
      await node.waitUntilOnline({ timeout: 2000 });
    });
  });

  describe("misuse", () => {
    test("bad start options are refused by name before anything else (even with a node running)", async () => {
      const cases: [unknown, string][] = [
        [null, "options"],
        [{ bogus: 1 }, "options.bogus"],
        [{ libraryPath: "a\0b" }, "libraryPath"],
        [{ libraryPath: 42 }, "libraryPath"],
        [{ storagePath: "" + "\0" }, "storagePath"],
        [{ identity: "not-an-identity" }, "identity"],
        [{ identity: publicIdentity(identity) }, "identity"],
        [{ port: 70000 }, "port"],
        [{ port: 1.5 }, "port"],
        [{ randomPortRange: { start: 0, end: 10 } }, "randomPortRange.start"],
        [{ randomPortRange: { start: 100, end: 10 } }, "randomPortRange.end"],
        [{ randomPortRange: "1-2" }, "randomPortRange"],
        [{ secondaryPort: "yes" }, "secondaryPort"],
        [{ portMapping: 1 }, "portMapping"],
        [{ lowBandwidthMode: null }, "lowBandwidthMode"],
        [{ roots: new Uint8Array(0) }, "roots"],
        [{ roots: [1, 2, 3] }, "roots"],
        [{ cache: { disk: true } }, "cache.disk"],
        [{ cache: { peers: "no" } }, "cache.peers"],
        [{ interfaceBlacklist: "docker" }, "interfaceBlacklist"],
        [{ interfaceBlacklist: ["ok", "x".repeat(16)] }, "interfaceBlacklist[1]"],
        [{ timeout: -1 }, "timeout"],
        [{ timeout: Infinity }, "timeout"],
        [{ signal: {} }, "signal"],
      ];
      for (const [options, argument] of cases) {
        await assert.rejects(
          ZeroTierNode.start(options as never),
          (e) => e instanceof InvalidArgumentError && e.argument === argument,
          `start(${Deno.inspect(options)}) should name ${argument}`,
        );
      }
      const err = await ZeroTierNode.start({ identity: identity.replace(/.$/, "g") }).catch((e) =>
        e
      );
      assert.ok(err instanceof InvalidArgumentError);
      assert.ok(!err.message.includes(identity.slice(20, 60)), "the secret identity is not echoed");
      assert.equal(node.lifecycle, "running");
    });

    test("bad join/leave arguments are refused by name and create no network state", async () => {
      const before = await firstMatch(node.networks$, () => true, "networks$ replay");
      const net = adhocNetworkId(5000, 5010);
      const joins: [unknown[], string][] = [
        [["xyz"], "networkId"],
        [["ff1388139200000"], "networkId"],
        [[-1n], "networkId"],
        [[1n << 64n], "networkId"],
        [[42], "networkId"],
        [[net, null], "options"],
        [[net, "fast"], "options"],
        [[net, { family: "IPv5" }], "family"],
        [[net, { timeout: -5 }], "timeout"],
        [[net, { timeout: "1s" }], "timeout"],
        [[net, { signal: "abort" }], "signal"],
      ];
      for (const [args, argument] of joins) {
        await assert.rejects(
          (node.join as (...a: unknown[]) => Promise<unknown>)(...args),
          (e) => e instanceof InvalidArgumentError && e.argument === argument,
          `join(${Deno.inspect(args)}) should name ${argument}`,
        );
      }
      const leaves: [unknown[], string][] = [
        [["zz"], "networkId"],
        [[net, { timeout: NaN }], "timeout"],
        [[net, { signal: 1 }], "signal"],
        [[net, []], "options"],
      ];
      for (const [args, argument] of leaves) {
        await assert.rejects(
          (node.leave as (...a: unknown[]) => Promise<unknown>)(...args),
          (e) => e instanceof InvalidArgumentError && e.argument === argument,
          `leave(${Deno.inspect(args)}) should name ${argument}`,
        );
      }
      const after = await firstMatch(node.networks$, () => true, "networks$ replay");
      assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
      assert.equal((await firstMatch(node.network$(net), () => true, "net6")).readyIPv6, true);
    });

    test("bad ids for network$, peer$, addresses and bad wait options throw at once", async () => {
      const throwsArg = (fn: () => unknown, argument: string) =>
        assert.throws(
          fn,
          (e) => e instanceof InvalidArgumentError && e.argument === argument,
          argument,
        );
      throwsArg(() => node.network$("nope"), "networkId");
      throwsArg(() => node.network$(-1n), "networkId");
      throwsArg(() => node.peer$("xyz"), "peerId");
      throwsArg(() => node.peer$("00000000aa0"), "peerId");
      throwsArg(() => node.peer$(1n << 40n), "peerId");
      throwsArg(() => node.peer$(-1n), "peerId");
      throwsArg(() => node.addresses("1234"), "networkId");
      // waitUntilOnline: the error names the argument (thrown or rejected, see the next test)
      const failure = async (fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (e) {
          return e;
        }
        return undefined;
      };
      for (
        const [options, argument] of [[{ timeout: "soon" }, "timeout"], [7, "options"], [{
          signal: 1,
        }, "signal"]]
      ) {
        const e = await failure(() => node.waitUntilOnline(options as never));
        assert.ok(
          e instanceof InvalidArgumentError && e.argument === argument,
          `waitUntilOnline: ${argument}`,
        );
      }
    });

    test("waitUntilOnline reports bad options by rejecting, like join and leave", async () => {
      let p: Promise<void> | undefined;
      assert.doesNotThrow(() => {
        p = node.waitUntilOnline({ timeout: "soon" } as never);
      });
      await assert.rejects(
        p!,
        (e) => e instanceof InvalidArgumentError && e.argument === "timeout",
      );
    });
  });

  describe("libzt refusing a join", () => {
    const refused = "8056c2e21c0000b1";

    test("join while libzt is offline: LibztCallError from zts_net_join", async () => {
      ctl.setOnline(false);
      try {
        await firstMatch(node.online$, (up) => !up, "offline");
        await assert.rejects(
          node.join(refused, { timeout: 1000 }),
          (e) =>
            e instanceof LibztCallError && e.function === "zts_net_join" &&
            e.code === "ZTS_ERR_SERVICE",
        );
      } finally {
        ctl.setOnline(true);
        await node.waitUntilOnline({ timeout: 2000 });
      }
    });

    test("a join libzt refused leaves no network state behind", async () => {
      const all = await firstMatch(node.networks$, () => true, "networks$ replay");
      assert.equal(all.has(refused), false);
    });
  });

  describe("stop (last)", () => {
    const net6 = adhocNetworkId(5000, 5010);
    const peerId = "00000000aa";
    let recordings: [string, Recording<unknown>][] = [];

    test("stop() while waits are pending: they reject NODE_STOPPED; concurrent stops share one promise", async () => {
      recordings = [
        ["events$", record(node.events$)],
        ["online$", record(node.online$)],
        ["networks$", record(node.networks$)],
        ["peers$", record(node.peers$)],
        ["address$", record(node.address$)],
        ["store$", record(node.store$)],
        ["network$(id)", record(node.network$(net6))],
        ["peer$()", record(node.peer$())],
        ["peer$(id)", record(node.peer$(peerId))],
      ];
      // a join that can never become ready (IPv4 on an IPv6-only network)
      const pendingJoin = node.join(net6, { family: "IPv4", timeout: 10_000 });
      pendingJoin.catch(() => {});
      ctl.setOnline(false);
      await firstMatch(node.online$, (up) => !up, "offline");
      const pendingOnline = node.waitUntilOnline({ timeout: 10_000 });
      pendingOnline.catch(() => {});

      const first = node.stop();
      const second = node.stop();
      assert.equal(first, second, "concurrent stop() calls share one promise");
      assert.equal(node.lifecycle, "stopping");
      await within(first, 5000, "stop()");
      assert.equal(node.lifecycle, "stopped");
      assert.equal(node.isOnline, false);
      const stopped = (e: unknown) => e instanceof NodeStateError && e.code === "NODE_STOPPED";
      await within(assert.rejects(pendingJoin, stopped), 2000, "pending join to reject");
      await within(
        assert.rejects(pendingOnline, stopped),
        2000,
        "pending waitUntilOnline to reject",
      );
      for (const [name, rec] of recordings) {
        assert.equal(rec.completed, true, `${name} did not complete`);
        assert.equal(rec.error, undefined, `${name} errored`);
      }
      const online = recordings.find(([n]) => n === "online$")![1].values;
      assert.equal(online.at(-1), false);
    });

    test("after stop(): observables complete at once, calls throw NODE_STOPPED, stop() still resolves", async () => {
      const observables: [string, Observable<unknown>][] = [
        ["events$", node.events$],
        ["online$", node.online$],
        ["networks$", node.networks$],
        ["peers$", node.peers$],
        ["address$", node.address$],
        ["store$", node.store$],
        ["network$(id)", node.network$(net6)],
        ["peer$()", node.peer$()],
        ["peer$(id)", node.peer$(peerId)],
      ];
      for (const [name, obs] of observables) {
        const rec = record(obs);
        assert.equal(rec.completed, true, `${name} should complete for a late subscriber`);
      }
      const stopped = (e: unknown) => e instanceof NodeStateError && e.code === "NODE_STOPPED";
      await assert.rejects(node.join(net6, { timeout: 1000 }), stopped);
      await assert.rejects(node.leave(net6, { timeout: 1000 }), stopped);
      await assert.rejects(node.waitUntilOnline({ timeout: 1000 }), stopped);
      assert.throws(() => node.addresses(net6), stopped);
      assert.throws(() => node.secretIdentity(), stopped);
      assert.throws(() => node.stats(), stopped);
      assert.throws(() => node.port, stopped);
      // argument checks still come first
      await assert.rejects(node.join("bad"), (e) => e instanceof InvalidArgumentError);

      const received = node.eventCounters.received;
      const delivered = ctl.delivered();
      ctl.emit(220); // the stand-in delivers nothing once stopped
      await sleep(50);
      assert.equal(ctl.delivered(), delivered);
      assert.equal(node.eventCounters.received, received);

      await within(node.stop(), 2000, "second stop()");
      await within(node[Symbol.asyncDispose](), 2000, "asyncDispose after stop");
      assert.equal(node.lifecycle, "stopped");
    });
  });
});
