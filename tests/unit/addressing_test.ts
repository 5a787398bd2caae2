/**
 * Tier 1: ZeroTier address arithmetic (`src/addressing.ts`). Results are
 * parsed back (hex ids, IPv6 text) and checked field by field against the
 * rules of ZeroTierOne (`InetAddress::makeSixPlane`, `makeIpv6rfc4193`,
 * ad-hoc network ids in `Network.cpp`).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  adhocIPv4Address,
  adhocIPv4NetworkId,
  adhocNetworkId,
  isNodeAddress,
  nodeIdOfAddress,
  rfc4193Address,
  sixPlaneAddress,
} from "../../src/addressing.ts";
import { formatIp } from "../../src/ip.ts";
import { InvalidArgumentError, ZeroTierError } from "../../src/errors.ts";
import { parseIp } from "../../src/ip.ts";
import { hex, idBytes, randInt, rng } from "./_helpers.ts";

/** Asserts that `fn` throws an InvalidArgumentError about `argument`. */
function throwsArg(fn: () => unknown, argument: string, label = ""): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, `${label}: not an InvalidArgumentError: ${err}`);
    assert.ok(err instanceof ZeroTierError);
    assert.equal(err.argument, argument, label);
    assert.equal(err.code, "EINVAL");
    assert.match(err.message, new RegExp(argument));
    return true;
  });
}

/** Parses 16 hex digits back into a bigint, checking the text form. */
function parseId(text: string): bigint {
  assert.match(text, /^[0-9a-f]{16}$/, `network id text ${text}`);
  return BigInt(`0x${text}`);
}

const NETWORK_IDS = [
  0x8056c2e21c000001n,
  0xff00160016000000n,
  0x0000000000000001n,
  0xffffffffffffffffn,
  0x1234567890abcdefn,
];
const NODE_IDS = [0x89e92ceee5n, 0x0000000001n, 0xffffffffffn, 0x0102030405n];

describe("adhocNetworkId", () => {
  test("ff | start (16 bits) | end (16 bits) | 000000", () => {
    const pairs: [number, number][] = [[0, 0], [0, 65535], [65535, 65535], [5000, 5010], [1, 2], [
      9993,
      9993,
    ]];
    for (const [start, end] of pairs) {
      const id = parseId(adhocNetworkId(start, end));
      assert.equal(id >> 56n, 0xffn);
      assert.equal(Number((id >> 40n) & 0xffffn), start);
      assert.equal(Number((id >> 24n) & 0xffffn), end);
      assert.equal(id & 0xffffffn, 0n);
    }
  });

  test("rejects bad ports, naming the argument", () => {
    for (const bad of [-1, 65536, 1.5, NaN, Infinity]) {
      throwsArg(() => adhocNetworkId(bad, 100), "startPort", `start ${bad}`);
      throwsArg(() => adhocNetworkId(0, bad), "endPort", `end ${bad}`);
    }
    throwsArg(() => adhocNetworkId("80" as unknown as number, 100), "startPort");
    throwsArg(() => adhocNetworkId(80, undefined as unknown as number), "endPort");
  });

  test("rejects end < start", () => {
    throwsArg(() => adhocNetworkId(5010, 5000), "endPort");
    throwsArg(() => adhocNetworkId(1, 0), "endPort");
  });
});

describe("adhocIPv4NetworkId", () => {
  test("ff | first octet | hub (40 bits) | 01", () => {
    for (const octet of [1, 10, 172, 254]) {
      for (const hub of [0n, ...NODE_IDS]) {
        const id = parseId(adhocIPv4NetworkId(octet, hub));
        assert.equal(id >> 56n, 0xffn);
        assert.equal(Number((id >> 48n) & 0xffn), octet);
        assert.equal((id >> 8n) & 0xffffffffffn, hub);
        assert.equal(id & 0xffn, 1n);
      }
    }
  });

  test("hub defaults to 0 and accepts 10 hex digits", () => {
    assert.equal(adhocIPv4NetworkId(10), adhocIPv4NetworkId(10, 0n));
    assert.equal(adhocIPv4NetworkId(10, "89e92ceee5"), adhocIPv4NetworkId(10, 0x89e92ceee5n));
  });

  test("rejects bad octets and hubs, naming the argument", () => {
    for (const bad of [0, 255, -1, 1.5, NaN]) {
      throwsArg(() => adhocIPv4NetworkId(bad), "firstOctet", `${bad}`);
    }
    throwsArg(() => adhocIPv4NetworkId("10" as unknown as number), "firstOctet");
    for (const bad of [-1n, 0x10000000000n, "123", "zzzzzzzzzz", 5 as unknown as bigint]) {
      throwsArg(() => adhocIPv4NetworkId(10, bad), "hub", String(bad));
    }
  });
});

describe("adhocIPv4Address", () => {
  test("first octet from the network id, then the node id's low 24 bits", () => {
    const next = rng(4);
    for (let n = 0; n < 200; n++) {
      const octet = 1 + randInt(next, 254);
      const node = BigInt(randInt(next, 0x100000)) * 0x100000n + BigInt(randInt(next, 0x100000));
      const text = adhocIPv4Address(adhocIPv4NetworkId(octet, 0n), node);
      const bytes = parseIp(text);
      assert.ok(bytes && bytes.length === 4, text);
      const nb = idBytes(node, 5);
      assert.deepEqual([...bytes], [octet, nb[2], nb[3], nb[4]], `node ${hex(node, 10)}`);
    }
  });

  test("the hub does not change the address; string and bigint ids agree", () => {
    const a = adhocIPv4Address(adhocIPv4NetworkId(10, 0x1122334455n), 0x89e92ceee5n);
    const b = adhocIPv4Address(adhocIPv4NetworkId(10), "89e92ceee5");
    assert.equal(a, b);
    assert.equal(a, `10.${0x2c}.${0xee}.${0xe5}`);
  });

  test("rejects network ids that are not ad-hoc IPv4 ids, and bad node ids", () => {
    for (
      const net of ["8056c2e21c000001", "ff00160016000000", "fe0a000000000001", "ff0a000000000002"]
    ) {
      throwsArg(() => adhocIPv4Address(net, "89e92ceee5"), "networkId", net);
    }
    throwsArg(() => adhocIPv4Address("ff0a00000000001", "89e92ceee5"), "networkId", "15 digits");
    throwsArg(() => adhocIPv4Address("ff0a000000000001", "89e92ceee"), "nodeId", "9 digits");
    throwsArg(() => adhocIPv4Address("ff0a000000000001", 0x10000000000n), "nodeId", "41 bits");
  });
});

describe("sixPlaneAddress", () => {
  test("fc | (net hi32 xor lo32) | node (40 bits) | 0..0 01", () => {
    for (const net of NETWORK_IDS) {
      for (const node of NODE_IDS) {
        const text = sixPlaneAddress(net, node);
        const b = parseIp(text);
        assert.ok(b && b.length === 16, text);
        const nw = idBytes(net, 8);
        assert.equal(b[0], 0xfc);
        for (let i = 0; i < 4; i++) {
          assert.equal(b[1 + i], nw[i] ^ nw[4 + i], `byte ${1 + i} of ${text}`);
        }
        assert.deepEqual([...b.slice(5, 10)], idBytes(node, 5));
        assert.deepEqual([...b.slice(10, 15)], [0, 0, 0, 0, 0]);
        assert.equal(b[15], 1);
        assert.equal(text, text.toLowerCase());
      }
    }
  });

  test("string forms of the ids give the same address as bigints", () => {
    assert.equal(
      sixPlaneAddress("ff00160016000000", "89e92ceee5"),
      sixPlaneAddress(0xff00160016000000n, 0x89e92ceee5n),
    );
    assert.equal(
      sixPlaneAddress("0xFF00160016000000", "0x89E92CEEE5"),
      sixPlaneAddress(0xff00160016000000n, 0x89e92ceee5n),
    );
  });

  test("rejects bad ids, naming the argument", () => {
    throwsArg(() => sixPlaneAddress("ff0016001600000", "89e92ceee5"), "networkId");
    throwsArg(() => sixPlaneAddress(-1n, "89e92ceee5"), "networkId");
    throwsArg(() => sixPlaneAddress("ff00160016000000", "89e92ceee5a"), "nodeId");
    throwsArg(() => sixPlaneAddress("ff00160016000000", 123 as unknown as bigint), "nodeId");
  });
});

describe("rfc4193Address", () => {
  test("fd | net (64 bits) | 99 93 | node (40 bits)", () => {
    for (const net of NETWORK_IDS) {
      for (const node of NODE_IDS) {
        const text = rfc4193Address(net, node);
        const b = parseIp(text);
        assert.ok(b && b.length === 16, text);
        assert.equal(b[0], 0xfd);
        assert.deepEqual([...b.slice(1, 9)], idBytes(net, 8));
        assert.deepEqual([b[9], b[10]], [0x99, 0x93]);
        assert.deepEqual([...b.slice(11, 16)], idBytes(node, 5));
      }
    }
  });

  test("string forms of the ids give the same address as bigints", () => {
    assert.equal(
      rfc4193Address("8056c2e21c000001", "89e92ceee5"),
      rfc4193Address(0x8056c2e21c000001n, 0x89e92ceee5n),
    );
  });

  test("rejects bad ids, naming the argument", () => {
    throwsArg(() => rfc4193Address("8056c2e21c00000g", "89e92ceee5"), "networkId");
    throwsArg(() => rfc4193Address(0x10000000000000000n, "89e92ceee5"), "networkId");
    throwsArg(() => rfc4193Address("8056c2e21c000001", ""), "nodeId");
  });
});

describe("isNodeAddress", () => {
  const ADHOC4 = adhocIPv4NetworkId(10);

  test("a node's 6PLANE /80, RFC 4193 and ad-hoc IPv4 addresses are its own, no other node's", () => {
    for (const net of [...NETWORK_IDS, BigInt(`0x${ADHOC4}`)]) {
      for (const node of NODE_IDS) {
        const others = NODE_IDS.filter((n) => n !== node);
        const six = parseIp(sixPlaneAddress(net, node))!;
        // Any host in the node's /80 (6PLANE gives the node the whole prefix).
        const inPrefix = six.slice();
        inPrefix[12] = 0x42;
        inPrefix[15] = 0x99;
        for (
          const address of [
            sixPlaneAddress(net, node),
            formatIp(inPrefix),
            rfc4193Address(net, node),
          ]
        ) {
          assert.equal(isNodeAddress(address, net, node), true, address);
          for (const other of others) assert.equal(isNodeAddress(address, net, other), false);
          // Another network's arithmetic gives another address.
          assert.equal(isNodeAddress(address, net ^ 0x0100000000n, node), false, address);
        }
      }
    }
  });

  test("ad-hoc IPv4 counts only on ad-hoc IPv4 networks; IPv4-mapped IPv6 reads as IPv4", () => {
    const address = adhocIPv4Address(ADHOC4, "89e92ceee5"); // 10.233.44.238 -> low 24 bits
    assert.equal(isNodeAddress(address, ADHOC4, "89e92ceee5"), true);
    assert.equal(isNodeAddress(`::ffff:${address}`, ADHOC4, "89e92ceee5"), true);
    assert.equal(isNodeAddress(address, ADHOC4, "0102030405"), false);
    assert.equal(isNodeAddress(address, "8056c2e21c000001", "89e92ceee5"), false);
  });

  test("names and addresses a controller assigns never match; bad ids are typed errors", () => {
    assert.equal(isNodeAddress("example.com", ADHOC4, "89e92ceee5"), false);
    assert.equal(isNodeAddress("192.0.2.1", "8056c2e21c000001", "89e92ceee5"), false);
    throwsArg(() => isNodeAddress("10.0.0.1", "nope", "89e92ceee5"), "networkId");
    throwsArg(() => isNodeAddress("10.0.0.1", ADHOC4, "xyz"), "nodeId");
  });
});

describe("nodeIdOfAddress", () => {
  const ADHOC4 = adhocIPv4NetworkId(10);

  test("gives back the node id of any 6PLANE /80 host and of the RFC 4193 address", () => {
    for (const net of [...NETWORK_IDS, BigInt(`0x${ADHOC4}`)]) {
      for (const node of NODE_IDS) {
        const id = hex(BigInt(node), 10);
        const six = parseIp(sixPlaneAddress(net, node))!;
        six[12] = 0x42;
        six[15] = 0x99;
        for (
          const address of [sixPlaneAddress(net, node), formatIp(six), rfc4193Address(net, node)]
        ) {
          assert.equal(nodeIdOfAddress(address, net), id, address);
          assert.equal(isNodeAddress(address, net, id), true);
          // On another network the same address names nobody.
          assert.equal(nodeIdOfAddress(address, net ^ 0x0100000000n), undefined, address);
          assert.equal(nodeIdOfAddress(address, net ^ 0x01n), undefined, address);
        }
      }
    }
  });

  test("IPv4 (ad-hoc IPv4 encodes only 24 bits), assigned addresses and names give undefined", () => {
    assert.equal(nodeIdOfAddress(adhocIPv4Address(ADHOC4, "89e92ceee5"), ADHOC4), undefined);
    assert.equal(nodeIdOfAddress("::ffff:10.233.44.238", ADHOC4), undefined);
    assert.equal(nodeIdOfAddress("fd00::1", "8056c2e21c000001"), undefined);
    assert.equal(nodeIdOfAddress("2001:db8::1", "8056c2e21c000001"), undefined);
    assert.equal(nodeIdOfAddress("example.com", "8056c2e21c000001"), undefined);
    throwsArg(() => nodeIdOfAddress("fd00::1", "nope"), "networkId");
    throwsArg(() => nodeIdOfAddress(42 as unknown as string, ADHOC4), "address");
  });
});
