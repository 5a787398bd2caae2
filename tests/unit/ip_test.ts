/**
 * Tier 1: IP text <-> bytes (`src/ip.ts`). Expected IPv6 text comes from the
 * RFC 5952 examples and from two independent serializers (WHATWG URL and a
 * naive one in `_helpers.ts`).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "../../src/errors.ts";
import { formatIp, ipFamily, parseIp } from "../../src/ip.ts";
import { ipv6TextByUrl, ipv6TextNaive, randInt, rng } from "./_helpers.ts";

/** 16 bytes from 8 groups. */
function g(...groups: number[]): Uint8Array {
  assert.equal(groups.length, 8);
  const out = new Uint8Array(16);
  groups.forEach((v, i) => {
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** Canonical text of an IPv6 literal per the WHATWG URL parser, or undefined if it rejects it. */
function urlCanonical(text: string): string | undefined {
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

describe("formatIp", () => {
  test("IPv4 dotted quad", () => {
    assert.equal(formatIp(new Uint8Array([0, 0, 0, 0])), "0.0.0.0");
    assert.equal(formatIp(new Uint8Array([255, 255, 255, 255])), "255.255.255.255");
    assert.equal(formatIp(new Uint8Array([10, 147, 17, 5])), "10.147.17.5");
  });

  test("RFC 5952 section 4 examples", () => {
    // 4.1: leading zeros suppressed
    assert.equal(formatIp(g(0x2001, 0x0db8, 0, 0, 0, 0, 0x0002, 0x0001)), "2001:db8::2:1");
    // 4.2.1: "::" used to its maximum capability
    assert.equal(formatIp(g(0x2001, 0xdb8, 0, 0, 0, 0, 2, 1)), "2001:db8::2:1");
    // 4.2.2: a single 16-bit 0 field is not shortened
    assert.equal(formatIp(g(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1)), "2001:db8:0:1:1:1:1:1");
    // 4.2.3: the longest run is shortened...
    assert.equal(formatIp(g(0x2001, 0, 0, 1, 0, 0, 0, 1)), "2001:0:0:1::1");
    // ...and the first one on ties
    assert.equal(formatIp(g(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1)), "2001:db8::1:0:0:1");
    // 4.3: lowercase
    assert.equal(formatIp(g(0x2001, 0xdb8, 0, 0, 0, 0, 0xabcd, 0xef01)), "2001:db8::abcd:ef01");
  });

  test("edge placements of the zero run", () => {
    assert.equal(formatIp(new Uint8Array(16)), "::");
    assert.equal(formatIp(g(0, 0, 0, 0, 0, 0, 0, 1)), "::1");
    assert.equal(formatIp(g(1, 0, 0, 0, 0, 0, 0, 0)), "1::");
    assert.equal(formatIp(g(0, 0, 1, 1, 1, 1, 1, 1)), "::1:1:1:1:1:1");
    assert.equal(formatIp(g(1, 1, 1, 1, 1, 1, 0, 0)), "1:1:1:1:1:1::");
    assert.equal(formatIp(g(0, 1, 1, 1, 1, 1, 1, 0)), "0:1:1:1:1:1:1:0");
    assert.equal(formatIp(g(0xfe80, 0, 0, 0, 0, 0, 0, 1)), "fe80::1");
    assert.equal(formatIp(g(1, 2, 3, 4, 5, 6, 7, 8)), "1:2:3:4:5:6:7:8");
  });

  test("agrees with two independent RFC 5952 serializers on random zero-heavy addresses", () => {
    const next = rng(5952);
    for (let n = 0; n < 2000; n++) {
      const groups = Array.from({ length: 8 }, () => {
        const r = next();
        return r < 0.55 ? 0 : r < 0.75 ? randInt(next, 16) : randInt(next, 0x10000);
      });
      const bytes = g(...groups);
      const text = formatIp(bytes);
      assert.equal(text, ipv6TextByUrl(bytes), `groups ${groups}`);
      assert.equal(text, ipv6TextNaive(bytes), `groups ${groups}`);
    }
  });

  test("rejects byte lengths other than 4 and 16", () => {
    for (const len of [0, 1, 3, 5, 6, 15, 17, 32]) {
      assert.throws(() => formatIp(new Uint8Array(len)), InvalidArgumentError, `length ${len}`);
    }
  });
});

describe("parseIp", () => {
  test("IPv4 dotted quads", () => {
    assert.deepEqual(parseIp("0.0.0.0"), new Uint8Array([0, 0, 0, 0]));
    assert.deepEqual(parseIp("255.255.255.255"), new Uint8Array([255, 255, 255, 255]));
    assert.deepEqual(parseIp("10.147.17.5"), new Uint8Array([10, 147, 17, 5]));
    assert.deepEqual(parseIp("192.0.2.100"), new Uint8Array([192, 0, 2, 100]));
  });

  test("IPv6 full, compressed and uppercase forms", () => {
    const expected = g(0x2001, 0xdb8, 0, 0, 0, 0, 2, 1);
    for (
      const text of [
        "2001:db8::2:1",
        "2001:0db8:0000:0000:0000:0000:0002:0001",
        "2001:DB8::2:1",
        "2001:db8:0::0:2:1",
      ]
    ) {
      assert.deepEqual(parseIp(text), expected, text);
    }
    assert.deepEqual(parseIp("::"), new Uint8Array(16));
    assert.deepEqual(parseIp("::1"), g(0, 0, 0, 0, 0, 0, 0, 1));
    assert.deepEqual(parseIp("1::"), g(1, 0, 0, 0, 0, 0, 0, 0));
    // "::" may stand for a single zero group (RFC 4291 2.2).
    assert.deepEqual(parseIp("1:2:3:4:5:6:7::"), g(1, 2, 3, 4, 5, 6, 7, 0));
    assert.deepEqual(parseIp("::2:3:4:5:6:7:8"), g(0, 2, 3, 4, 5, 6, 7, 8));
  });

  test("bracketed literals", () => {
    assert.deepEqual(parseIp("[::1]"), parseIp("::1"));
    assert.deepEqual(parseIp("[fe80::1:2]"), g(0xfe80, 0, 0, 0, 0, 0, 1, 2));
  });

  test("embedded IPv4 tail", () => {
    assert.deepEqual(parseIp("::ffff:192.0.2.1"), g(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201));
    assert.deepEqual(parseIp("64:ff9b::192.0.2.33"), g(0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0221));
    assert.deepEqual(parseIp("1:2:3:4:5:6:10.0.0.1"), g(1, 2, 3, 4, 5, 6, 0x0a00, 0x0001));
    assert.deepEqual(parseIp("::1.2.3.4"), g(0, 0, 0, 0, 0, 0, 0x0102, 0x0304));
  });

  test("a zone id is accepted and dropped", () => {
    assert.deepEqual(parseIp("fe80::1%eth0"), parseIp("fe80::1"));
  });

  test("rejects malformed text", () => {
    const bad = [
      "",
      "1.2.3",
      "256.1.1.1",
      "1.256.1.1",
      "01.2.3.4",
      "1.02.3.4",
      "1.2.3.4.",
      ".1.2.3.4",
      "1..3.4",
      "1.2.3.4.5",
      "-1.2.3.4",
      "+1.2.3.4",
      " 1.2.3.4",
      "1.2.3.4 ",
      "0x1.2.3.4",
      "1e1.2.3.4",
      "::1::",
      "1::2::3",
      ":::",
      "g::1",
      "::g",
      ":",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "::1:2:3:4:5:6:7:8",
      ":1:2:3:4:5:6:7:8",
      "1:2:3:4:5:6:7:8:",
      "1::2:",
      ":1::2",
      "12345::",
      "::12345",
      "::1.2.3",
      "::256.0.0.1",
      "::1.2.3.04",
      "::1.2.3.4:5",
      "1:2:3:4:5:6:7:1.2.3.4",
      "[::1",
      "::1]",
      "[[::1]]",
      "[1.2.3.4]",
      "example.com",
      "localhost",
      "::1 ",
    ];
    for (const text of bad) assert.equal(parseIp(text), undefined, JSON.stringify(text));
  });

  test(
    "rejects an IPv4 part that is not the last 32 bits",
    () => {
      for (const text of ["1.2.3.4::", "1.2.3.4::5", "1:1.2.3.4::"]) {
        assert.equal(urlCanonical(text), undefined, `the WHATWG parser rejects ${text}`);
        assert.equal(parseIp(text), undefined, JSON.stringify(text));
      }
    },
  );

  test("agrees with the WHATWG URL parser on valid IPv6 literals", () => {
    const texts = [
      "2001:db8::2:1",
      "2001:0DB8:0:0:1:0:0:1",
      "::ffff:192.0.2.1",
      "1:2:3:4:5:6:7::",
      "::",
      "0:0:0:0:0:0:0:0",
      "fd80:56c2:e21c:0000:0199:9393:89e9:2cee",
      "fc12:3456:7889:e92c:eee5::1",
    ];
    for (const text of texts) {
      const bytes = parseIp(text);
      assert.ok(bytes, text);
      assert.equal(formatIp(bytes), urlCanonical(text), text);
    }
  });
});

describe("round trips", () => {
  test("bytes -> text -> bytes, both families", () => {
    const next = rng(42);
    for (let n = 0; n < 2000; n++) {
      const v4 = Uint8Array.from({ length: 4 }, () => randInt(next, 256));
      assert.deepEqual(parseIp(formatIp(v4)), v4);
      const v6 = Uint8Array.from({ length: 16 }, () => (next() < 0.5 ? 0 : randInt(next, 256)));
      assert.deepEqual(parseIp(formatIp(v6)), v6);
    }
  });

  test("text -> bytes -> text is the canonical form and idempotent", () => {
    for (
      const text of [
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "FE80::0:1",
        "[::0001]",
        "0.0.0.0",
        "10.0.0.1",
      ]
    ) {
      const once = formatIp(parseIp(text)!);
      assert.equal(formatIp(parseIp(once)!), once, text);
    }
    assert.equal(
      formatIp(parseIp("2001:0db8:0000:0000:0000:ff00:0042:8329")!),
      "2001:db8::ff00:42:8329",
    );
    assert.equal(formatIp(parseIp("FE80::0:1")!), "fe80::1");
  });
});

describe("ipFamily", () => {
  test("names the family of literals, undefined otherwise", () => {
    assert.equal(ipFamily("10.1.2.3"), "IPv4");
    assert.equal(ipFamily("::1"), "IPv6");
    assert.equal(ipFamily("[fe80::1]"), "IPv6");
    assert.equal(ipFamily("::ffff:1.2.3.4"), "IPv6");
    assert.equal(ipFamily("example.com"), undefined);
    assert.equal(ipFamily(""), undefined);
    assert.equal(ipFamily("1.2.3"), undefined);
  });
});
