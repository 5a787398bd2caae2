/**
 * Tier 1: the pure reducers of `src/node/state.ts`, driven with plain
 * event objects (no libzt).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type {
  AddrEvent,
  NetworkEvent,
  NetworkInfo,
  PeerEvent,
  PeerInfo,
} from "../../src/ffi/events.ts";
import {
  initialNetworkState,
  type NetworkState,
  reachPeer,
  reduceNetwork,
  reducePeer,
  TERMINAL_PHASES,
} from "../../src/node/state.ts";

const NET = "8056c2e21c000001";

/** libzt 1.8 codes, restated (events_test.ts checks them against EVENT_CODES). */
const CODE: Record<string, number> = {
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
  PEER_DIRECT: 240,
  PEER_RELAY: 241,
  PEER_UNREACHABLE: 242,
  PEER_PATH_DISCOVERED: 243,
  PEER_PATH_DEAD: 244,
  ADDR_ADDED_IP4: 260,
  ADDR_REMOVED_IP4: 261,
  ADDR_ADDED_IP6: 262,
  ADDR_REMOVED_IP6: 263,
};

function info(patch: Partial<NetworkInfo> = {}): NetworkInfo {
  return {
    networkId: NET,
    mac: "32:1a:2b:3c:4d:5e",
    name: "earth",
    status: "OK",
    type: "public",
    mtu: 2800,
    dhcp: false,
    bridge: false,
    broadcastEnabled: true,
    portError: 0,
    configRevision: 1,
    assignedAddresses: [{ family: "IPv4", address: "10.147.17.5", prefixLength: 24 }],
    routes: [{
      target: { family: "IPv4", address: "10.147.17.0", prefixLength: 24 },
      via: undefined,
      flags: 0,
      metric: 0,
    }],
    multicastSubscriptionCount: 0,
    ...patch,
  };
}

/** A payload-less network event, as libzt sends for NOT_FOUND, REQ_CONFIG, DOWN... */
function bare(): NetworkInfo {
  return info({
    mac: "",
    name: "",
    status: "REQUESTING_CONFIGURATION",
    mtu: 0,
    type: "private",
    assignedAddresses: [],
    routes: [],
  });
}

function net(type: NetworkEvent["type"], network: NetworkInfo = info()): NetworkEvent {
  return { type, code: CODE[type], receivedAt: 0, network } as NetworkEvent;
}

function addr(type: AddrEvent["type"], address: string, networkId = NET): AddrEvent {
  const family = type.endsWith("IP4") ? "IPv4" : "IPv6";
  return {
    type,
    code: CODE[type],
    receivedAt: 0,
    addr: { networkId, family, address },
  } as AddrEvent;
}

/** Runs events through the reducer, returning every intermediate state. */
function run(events: (NetworkEvent | AddrEvent)[], start?: NetworkState): NetworkState[] {
  const out: NetworkState[] = [];
  let s = start;
  for (const e of events) out.push(s = reduceNetwork(s, e));
  return out;
}

describe("initialNetworkState", () => {
  test("is requesting configuration, not ready, with nothing assigned", () => {
    const s = initialNetworkState(NET);
    assert.equal(s.networkId, NET);
    assert.equal(s.status, "REQUESTING_CONFIGURATION");
    assert.equal(s.readyIPv4, false);
    assert.equal(s.readyIPv6, false);
    assert.deepEqual(s.addresses, []);
    assert.deepEqual(s.assignedAddresses, []);
    assert.deepEqual(s.routes, []);
    assert.equal(TERMINAL_PHASES.has(s.status), false);
  });
});

describe("reduceNetwork: NETWORK_* phases", () => {
  test("REQ_CONFIG -> OK -> READY_IP6 -> UPDATE -> DOWN", () => {
    const updated = info({
      name: "earth-2",
      mtu: 1400,
      configRevision: 2,
      assignedAddresses: [{ family: "IPv6", address: "fd80:56c2:e21c::1", prefixLength: 88 }],
      routes: [],
    });
    const [req, ok, ready6, update, down] = run([
      net("NETWORK_REQ_CONFIG", bare()),
      net("NETWORK_OK"),
      net("NETWORK_READY_IP6"),
      net("NETWORK_UPDATE", updated),
      net("NETWORK_DOWN", bare()),
    ]);

    assert.equal(req.networkId, NET);
    assert.equal(req.status, "REQUESTING_CONFIGURATION");
    assert.equal(req.lastEvent, "NETWORK_REQ_CONFIG");
    assert.equal(req.readyIPv4 || req.readyIPv6, false);

    assert.equal(ok.status, "OK");
    assert.equal(ok.lastEvent, "NETWORK_OK");
    assert.equal(ok.name, "earth");
    assert.equal(ok.mtu, 2800);
    assert.equal(ok.type, "public");
    assert.equal(ok.mac, "32:1a:2b:3c:4d:5e");
    assert.deepEqual(ok.assignedAddresses, info().assignedAddresses);
    assert.deepEqual(ok.routes, info().routes);
    assert.equal(ok.readyIPv4 || ok.readyIPv6, false, "OK alone is not ready");

    assert.equal(ready6.status, "OK");
    assert.equal(ready6.readyIPv6, true);
    assert.equal(ready6.readyIPv4, false);
    assert.equal(ready6.lastEvent, "NETWORK_READY_IP6");

    assert.equal(update.lastEvent, "NETWORK_UPDATE");
    assert.equal(update.name, "earth-2");
    assert.equal(update.mtu, 1400);
    assert.deepEqual(update.assignedAddresses, updated.assignedAddresses);
    assert.deepEqual(update.routes, []);
    assert.equal(update.readyIPv6, true, "an update keeps readiness");
    assert.equal(update.readyIPv4, false);

    assert.equal(down.status, "DOWN");
    assert.equal(down.lastEvent, "NETWORK_DOWN");
    assert.equal(down.readyIPv4 || down.readyIPv6, false);
    assert.deepEqual(down.addresses, []);
    assert.equal(TERMINAL_PHASES.has(down.status), true);
  });

  test("READY_IP4 and READY_IP4_IP6 set the matching flags", () => {
    const [ip4] = run([net("NETWORK_READY_IP4")]);
    assert.deepEqual([ip4.readyIPv4, ip4.readyIPv6], [true, false]);
    const [both] = run([net("NETWORK_READY_IP4_IP6")]);
    assert.deepEqual([both.readyIPv4, both.readyIPv6], [true, true]);
    const [, , merged] = run([
      net("NETWORK_OK"),
      net("NETWORK_READY_IP4"),
      net("NETWORK_READY_IP6"),
    ]);
    assert.deepEqual([merged.readyIPv4, merged.readyIPv6], [true, true], "readiness accumulates");
  });

  test("REQ_CONFIG only changes the status, keeping the last known configuration", () => {
    const [ok, req] = run([net("NETWORK_OK"), net("NETWORK_REQ_CONFIG", bare())]);
    assert.equal(req.status, "REQUESTING_CONFIGURATION");
    assert.equal(req.name, ok.name);
    assert.deepEqual(req.assignedAddresses, ok.assignedAddresses);
  });

  for (
    const [type, status] of [
      ["NETWORK_NOT_FOUND", "NOT_FOUND"],
      ["NETWORK_ACCESS_DENIED", "ACCESS_DENIED"],
      ["NETWORK_CLIENT_TOO_OLD", "CLIENT_TOO_OLD"],
    ] as const
  ) {
    test(`${type} is terminal and clears readiness`, () => {
      const [, , s] = run([net("NETWORK_OK"), net("NETWORK_READY_IP4_IP6"), net(type, bare())]);
      assert.equal(s.status, status);
      assert.equal(s.lastEvent, type);
      assert.equal(s.readyIPv4, false);
      assert.equal(s.readyIPv6, false);
      assert.equal(TERMINAL_PHASES.has(s.status), true);
      // Also from nothing at all.
      const [fresh] = run([net(type, bare())]);
      assert.equal(fresh.status, status);
      assert.equal(fresh.networkId, NET);
    });
  }

  test("PORT_ERROR reported in a configuration is terminal; OK and REQUESTING are not", () => {
    const [s] = run([net("NETWORK_UPDATE", info({ status: "PORT_ERROR" }))]);
    assert.equal(s.status, "PORT_ERROR");
    assert.equal(TERMINAL_PHASES.has("PORT_ERROR"), true);
    assert.equal(TERMINAL_PHASES.has("OK"), false);
    assert.equal(TERMINAL_PHASES.has("REQUESTING_CONFIGURATION"), false);
  });

  test("reducing does not mutate the previous state", () => {
    const prev = reduceNetwork(undefined, net("NETWORK_OK"));
    const snapshot = structuredClone(prev);
    Object.freeze(prev);
    reduceNetwork(prev, net("NETWORK_READY_IP4"));
    reduceNetwork(prev, addr("ADDR_ADDED_IP4", "10.147.17.5"));
    reduceNetwork(prev, net("NETWORK_DOWN", bare()));
    assert.deepEqual(prev, snapshot);
  });
});

describe("reduceNetwork: ADDR_* events", () => {
  test("added addresses accumulate, without duplicates", () => {
    const states = run([
      addr("ADDR_ADDED_IP4", "10.147.17.5"),
      addr("ADDR_ADDED_IP6", "fd80:56c2:e21c::1"),
      addr("ADDR_ADDED_IP4", "10.147.17.5"),
      addr("ADDR_ADDED_IP6", "fd80:56c2:e21c::1"),
    ]);
    const last = states[states.length - 1];
    assert.equal(last.addresses.length, 2);
    assert.deepEqual(
      [...last.addresses].sort((a, b) => a.address.localeCompare(b.address)),
      [
        { family: "IPv4", address: "10.147.17.5" },
        { family: "IPv6", address: "fd80:56c2:e21c::1" },
      ],
    );
    assert.equal(last.lastEvent, "ADDR_ADDED_IP6");
    assert.equal(states[0].networkId, NET, "an ADDR event for an unknown network starts its state");
  });

  test("removed addresses disappear; removing an unknown one changes nothing", () => {
    const states = run([
      addr("ADDR_ADDED_IP4", "10.147.17.5"),
      addr("ADDR_ADDED_IP6", "fd80:56c2:e21c::1"),
      addr("ADDR_REMOVED_IP4", "10.147.17.5"),
      addr("ADDR_REMOVED_IP4", "10.9.9.9"),
    ]);
    assert.deepEqual(states[2].addresses, [{ family: "IPv6", address: "fd80:56c2:e21c::1" }]);
    assert.equal(states[2].lastEvent, "ADDR_REMOVED_IP4");
    assert.deepEqual(states[3].addresses, states[2].addresses);
    const [gone] = run([addr("ADDR_REMOVED_IP6", "fd80:56c2:e21c::1")], states[2]);
    assert.deepEqual(gone.addresses, []);
  });

  test("addresses do not change readiness and survive configuration updates", () => {
    const states = run([
      net("NETWORK_OK"),
      addr("ADDR_ADDED_IP4", "10.147.17.5"),
      net("NETWORK_READY_IP4"),
      net("NETWORK_UPDATE"),
    ]);
    assert.equal(states[1].readyIPv4, false);
    assert.equal(states[1].status, "OK");
    assert.deepEqual(states[3].addresses, [{ family: "IPv4", address: "10.147.17.5" }]);
    assert.equal(states[3].readyIPv4, true);
  });

  test("NETWORK_DOWN clears the addresses", () => {
    const states = run([addr("ADDR_ADDED_IP4", "10.147.17.5"), net("NETWORK_DOWN", bare())]);
    assert.deepEqual(states[1].addresses, []);
  });
});

describe("reducePeer", () => {
  const PEER = "89e92ceee5";
  const path = { family: "IPv4" as const, address: "203.0.113.7", port: 9993 };

  function peer(
    type: PeerEvent["type"],
    receivedAt: number,
    patch: Partial<PeerInfo> = {},
  ): PeerEvent {
    const p: PeerInfo = {
      peerId: PEER,
      version: "1.10.6",
      latency: 30,
      role: "leaf",
      paths: [],
      ...patch,
    };
    return { type, code: CODE[type], receivedAt, peer: p } as PeerEvent;
  }

  test("RELAY -> PATH_DISCOVERED (still RELAY) -> DIRECT -> UNREACHABLE", () => {
    const relay = reducePeer(undefined, peer("PEER_RELAY", 10));
    assert.equal(relay.link, "RELAY");
    assert.equal(relay.lastEvent, "PEER_RELAY");
    assert.equal(relay.changedAt, 10);
    assert.equal(relay.peerId, PEER);

    const found = reducePeer(
      relay,
      peer("PEER_PATH_DISCOVERED", 20, { paths: [path], latency: 12 }),
    );
    assert.equal(found.link, "RELAY", "a discovered path alone does not make the link direct");
    assert.equal(found.lastEvent, "PEER_PATH_DISCOVERED");
    assert.equal(found.changedAt, 20);
    assert.deepEqual(found.paths, [path]);
    assert.equal(found.latency, 12);

    const direct = reducePeer(found, peer("PEER_DIRECT", 30, { paths: [path] }));
    assert.equal(direct.link, "DIRECT");
    assert.equal(direct.lastEvent, "PEER_DIRECT");
    assert.equal(direct.changedAt, 30);

    const gone = reducePeer(direct, peer("PEER_UNREACHABLE", 40));
    assert.equal(gone.link, "UNREACHABLE");
    assert.equal(gone.lastEvent, "PEER_UNREACHABLE");
    assert.equal(gone.changedAt, 40);
  });

  test("offline, a relayed peer is UNREACHABLE (libzt never says so); online, relayed again", () => {
    const direct = reducePeer(undefined, peer("PEER_DIRECT", 1, { paths: [path] }), false);
    assert.equal(direct.link, "DIRECT", "a direct path needs no root");
    assert.equal(reachPeer(direct, false, 2), undefined, "going offline does not touch it");

    const relayedOffline = reducePeer(direct, peer("PEER_RELAY", 3), false);
    assert.equal(relayedOffline.link, "UNREACHABLE");
    assert.equal(relayedOffline.lastEvent, "PEER_RELAY");

    const back = reachPeer(relayedOffline, true, 4)!;
    assert.deepEqual([back.link, back.lastEvent, back.changedAt], ["RELAY", "NODE_ONLINE", 4]);
    assert.equal(reachPeer(back, true, 5), undefined);

    const gone = reachPeer(back, false, 6)!;
    assert.deepEqual([gone.link, gone.lastEvent, gone.changedAt], [
      "UNREACHABLE",
      "NODE_OFFLINE",
      6,
    ]);
    assert.equal(gone.peerId, PEER);

    const reported = reducePeer(back, peer("PEER_UNREACHABLE", 7), true);
    assert.equal(reachPeer(reported, true, 8), undefined, "libzt's own verdict stands");
  });

  test("PATH_DEAD keeps the current link", () => {
    const direct = reducePeer(undefined, peer("PEER_DIRECT", 1, { paths: [path] }));
    const dead = reducePeer(direct, peer("PEER_PATH_DEAD", 2));
    assert.equal(dead.link, "DIRECT");
    assert.equal(dead.lastEvent, "PEER_PATH_DEAD");
    assert.equal(dead.changedAt, 2);
    assert.deepEqual(dead.paths, []);
  });

  test("a path event for an unknown peer infers the link from its paths", () => {
    assert.equal(
      reducePeer(undefined, peer("PEER_PATH_DISCOVERED", 1, { paths: [path] })).link,
      "DIRECT",
    );
    assert.equal(reducePeer(undefined, peer("PEER_PATH_DEAD", 1)).link, "RELAY");
  });

  test("the state carries the event's peer info", () => {
    const e = peer("PEER_DIRECT", 5, {
      role: "planet",
      version: undefined,
      latency: undefined,
      paths: [path],
    });
    const s = reducePeer(undefined, e);
    const { link: _l, lastEvent: _e, changedAt: _c, ...rest } = s;
    assert.deepEqual(rest, e.peer);
  });
});
