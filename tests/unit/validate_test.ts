/**
 * Tier 1: argument validators (`src/validate.ts`).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError, ZeroTierError } from "../../src/errors.ts";
import {
  toBool,
  toCString,
  toNetworkId,
  toNodeId,
  toPort,
  toSignal,
  toTimeout,
} from "../../src/validate.ts";

function throwsArg(fn: () => unknown, argument: string, label = ""): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, `${label}: not an InvalidArgumentError: ${err}`);
    assert.ok(err instanceof ZeroTierError);
    assert.ok(err instanceof Error);
    assert.equal(err.argument, argument, label);
    assert.equal(err.code, "EINVAL", label);
    assert.ok(
      err.message.includes(argument),
      `${label}: message names the argument: ${err.message}`,
    );
    return true;
  });
}

const NOT_IDS: unknown[] = [undefined, null, 123, 1.5, {}, [], true, Symbol("x")];

describe("toNetworkId", () => {
  test("accepts 16 hex digits (any case, optional 0x) and in-range bigints", () => {
    assert.equal(toNetworkId("8056c2e21c000001"), 0x8056c2e21c000001n);
    assert.equal(toNetworkId("8056C2E21C000001"), 0x8056c2e21c000001n);
    assert.equal(toNetworkId("0x8056c2e21c000001"), 0x8056c2e21c000001n);
    assert.equal(toNetworkId("0000000000000000"), 0n);
    assert.equal(toNetworkId("ffffffffffffffff"), 2n ** 64n - 1n);
    assert.equal(toNetworkId(0n), 0n);
    assert.equal(toNetworkId(2n ** 64n - 1n), 2n ** 64n - 1n);
  });

  test("rejects wrong lengths, non-hex, out-of-range bigints and other types", () => {
    const bad: unknown[] = [
      "",
      "8056c2e21c00000",
      "8056c2e21c0000011",
      "8056c2e21c00000g",
      " 8056c2e21c000001",
      "0X8056c2e21c000001",
      "0x",
      -1n,
      2n ** 64n,
      ...NOT_IDS,
    ];
    for (const v of bad) {
      throwsArg(() => toNetworkId(v), "networkId", String(typeof v === "symbol" ? "symbol" : v));
    }
  });

  test("uses the given argument name", () => {
    throwsArg(() => toNetworkId("nope", "target"), "target");
  });
});

describe("toNodeId", () => {
  test("accepts 10 hex digits and 40-bit bigints", () => {
    assert.equal(toNodeId("89e92ceee5"), 0x89e92ceee5n);
    assert.equal(toNodeId("0x89E92CEEE5"), 0x89e92ceee5n);
    assert.equal(toNodeId(0n), 0n);
    assert.equal(toNodeId(2n ** 40n - 1n), 2n ** 40n - 1n);
  });

  test("rejects wrong lengths, non-hex, out-of-range bigints and other types", () => {
    const bad: unknown[] = [
      "",
      "89e92ceee",
      "89e92ceee55",
      "89e92ceeeg",
      "8056c2e21c000001",
      -1n,
      2n ** 40n,
      ...NOT_IDS,
    ];
    for (const v of bad) {
      throwsArg(() => toNodeId(v), "nodeId", String(typeof v === "symbol" ? "symbol" : v));
    }
  });

  test("uses the given argument name", () => {
    throwsArg(() => toNodeId(1n << 41n, "peer"), "peer");
  });
});

describe("toPort", () => {
  test("accepts integers 0..65535 and returns them", () => {
    for (const p of [0, 1, 80, 9993, 65535]) assert.equal(toPort(p), p);
  });

  test("rejects non-integers, out of range and other types", () => {
    for (const v of [-1, 65536, 1.5, NaN, Infinity, -Infinity, "80", 80n, null, undefined, {}]) {
      throwsArg(() => toPort(v), "port", String(v));
    }
  });

  test("0 is rejected when not allowed", () => {
    throwsArg(() => toPort(0, "listenPort", false), "listenPort");
    assert.equal(toPort(1, "listenPort", false), 1);
  });
});

describe("toTimeout", () => {
  test("undefined passes through; finite non-negative numbers are returned", () => {
    assert.equal(toTimeout(undefined), undefined);
    for (const v of [0, 1, 1.5, 30_000]) assert.equal(toTimeout(v), v);
  });

  test("rejects negatives, non-finite numbers and other types", () => {
    for (const v of [-1, -0.5, NaN, Infinity, "1000", null, 1000n, {}]) {
      throwsArg(() => toTimeout(v), "timeout", String(v));
    }
    throwsArg(() => toTimeout(-1, "deadline"), "deadline");
  });
});

describe("toBool", () => {
  test("undefined and booleans pass through", () => {
    assert.equal(toBool(undefined, "flag"), undefined);
    assert.equal(toBool(true, "flag"), true);
    assert.equal(toBool(false, "flag"), false);
  });

  test("rejects everything else", () => {
    for (const v of [null, 0, 1, "true", "", {}, []]) {
      throwsArg(() => toBool(v, "allowDns"), "allowDns", String(v));
    }
  });
});

describe("toSignal", () => {
  test("undefined and AbortSignals pass through", () => {
    assert.equal(toSignal(undefined), undefined);
    const signal = new AbortController().signal;
    assert.equal(toSignal(signal), signal);
    const aborted = AbortSignal.abort();
    assert.equal(toSignal(aborted), aborted);
  });

  test("rejects look-alikes and other types", () => {
    for (
      const v of [
        null,
        {},
        { aborted: false, addEventListener() {} },
        "signal",
        new AbortController(),
      ]
    ) {
      throwsArg(() => toSignal(v), "signal", String(v));
    }
    throwsArg(() => toSignal(1, "abort"), "abort");
  });
});

describe("toCString", () => {
  test("accepts strings up to max UTF-8 bytes", () => {
    assert.equal(toCString("/tmp/zt", "path"), "/tmp/zt");
    assert.equal(toCString("a".repeat(4096), "path"), "a".repeat(4096));
    // "é" is 2 bytes of UTF-8, so "éa" is 3.
    assert.equal(toCString("éa", "path", 3), "éa");
  });

  test("rejects NUL, too many UTF-8 bytes and non-strings", () => {
    throwsArg(() => toCString("a\0b", "path"), "path");
    throwsArg(() => toCString("", "path"), "path"); // an empty path or prefix means "everything"
    throwsArg(() => toCString("a".repeat(4097), "path"), "path");
    throwsArg(() => toCString("éé", "name", 3), "name"); // 4 bytes although 2 characters
    throwsArg(() => toCString("✓✓", "name", 5), "name"); // 6 bytes
    for (const v of [undefined, null, 1, {}, ["a"]]) {
      throwsArg(() => toCString(v, "path"), "path", String(v));
    }
  });
});
