/**
 * Tier 1: the argument rules of issue 5 that need no libzt: option objects
 * read once (unknown keys, throwing getters and Proxies are typed errors),
 * numbers and durations in range, IP literals, functions and streams for the
 * RxJS helpers, error messages that never throw and never echo a secret, and
 * secret-holding objects redacted when inspected.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { inspect as nodeInspect } from "node:util";
import { of } from "rxjs";
import {
  connectWhenDirect,
  createRootSet,
  formatIp,
  fromReadable,
  generateIdentity,
  identityNodeId,
  InvalidArgumentError,
  ipFamily,
  isValidIdentity,
  loadLibzt,
  NodeStateError,
  parseIp,
  prefixContains,
  reconnecting,
  toReadable,
  whenDirect,
  ZeroTierError,
  ZeroTierNode,
} from "../../mod.ts";
import { describe as describeValue } from "../../src/errors.ts";
import { decodeEvent } from "../../src/ffi/event_decode.ts";
import { redactInspection } from "../../src/redact.ts";
import {
  MAX_DURATION_MS,
  readArray,
  readOptions,
  toChoice,
  toDestination,
  toFunction,
  toInteger,
  toIpAddress,
  toTimeout,
} from "../../src/validate.ts";

function isArg(argument: string, label = argument) {
  return (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, `${label}: not an InvalidArgumentError: ${err}`);
    assert.equal(err.argument, argument, `${label}: ${err.message}`);
    assert.equal(err.code, "EINVAL");
    assert.ok(err.message.includes(argument), `${label}: the message names the argument`);
    return true;
  };
}

const throwingGetter = (key: string) =>
  Object.defineProperty({}, key, {
    enumerable: true,
    get() {
      throw new Error("getter boom");
    },
  });

const hostileProxy = () =>
  new Proxy({}, {
    get() {
      throw new Error("trap boom");
    },
    ownKeys() {
      throw new Error("trap boom");
    },
    getPrototypeOf() {
      throw new Error("trap boom");
    },
  });

const revokedProxy = () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};

// A well-formed secret identity (not a real key pair: only the shape matters here).
const SECRET = `89e92ceee5:0:${"ab".repeat(64)}:${"cd".repeat(64)}`;

describe("readOptions", () => {
  test("copies known keys once; undefined is {}; undefined values are left out", () => {
    let reads = 0;
    const source = {
      get port() {
        reads++;
        return reads === 1 ? 80 : 70000; // answers differently the second time
      },
      hostname: undefined,
    };
    const copy = readOptions(source, "options", ["port", "hostname"]);
    assert.deepEqual(copy, { port: 80 });
    assert.equal(reads, 1);
    assert.deepEqual(readOptions(undefined, "options", ["a"]), {});
  });

  test("rejects non-objects, arrays and unknown keys (typos) by name", () => {
    for (const bad of [null, 1, "x", true, 1n, Symbol("s"), [], () => 1]) {
      assert.throws(() => readOptions(bad, "options", ["a"]), isArg("options", String(typeof bad)));
    }
    assert.throws(
      () => readOptions({ a: 1, timout: 5 }, "options", ["a"]),
      isArg("options.timout"),
    );
    assert.deepEqual(readOptions({ a: 1, extra: 2 }, "datagram", ["a"], "", true), { a: 1 });
  });

  test("a throwing getter, a hostile Proxy and a revoked Proxy are typed errors with the cause", () => {
    assert.throws(
      () => readOptions(throwingGetter("port"), "options", ["port"]),
      (e) => isArg("port")(e) && (e as Error).cause instanceof Error,
    );
    assert.throws(
      () => readOptions(throwingGetter("start"), "r", ["start"], "r."),
      isArg("r.start"),
    );
    assert.throws(() => readOptions(hostileProxy(), "options", ["port"]), isArg("options"));
    assert.throws(() => readOptions(revokedProxy(), "options", ["port"]), isArg("options"));
  });
});

describe("readArray", () => {
  test("copies, bounds the length, and turns unreadable arrays into typed errors", () => {
    const source = ["a", "b"];
    const copy = readArray(source, "list", 1, 3, "names");
    source[0] = "changed";
    assert.deepEqual(copy, ["a", "b"]);
    assert.throws(() => readArray([], "list", 1, 3, "names"), isArg("list"));
    assert.throws(() => readArray([1, 2, 3, 4], "list", 1, 3, "names"), isArg("list"));
    assert.throws(() => readArray("abc", "list", 1, 3, "names"), isArg("list"));
    const hostile = new Proxy(["a"], {
      get(t, k) {
        if (k === "0") throw new Error("boom");
        return Reflect.get(t, k);
      },
    });
    assert.throws(() => readArray(hostile, "list", 1, 3, "names"), isArg("list"));
  });
});

describe("numbers, durations, choices, functions", () => {
  test("toInteger: integers in range only", () => {
    assert.equal(toInteger(5, "n", 1, 10), 5);
    for (const bad of [0, 11, 1.5, NaN, Infinity, -Infinity, "5", 5n, null, undefined, -0.5]) {
      assert.throws(() => toInteger(bad, "n", 1, 10), isArg("n", String(bad)));
    }
  });

  test("toTimeout: 0 to 2^31-1 ms (a longer timer would fire at once)", () => {
    assert.equal(toTimeout(0), 0);
    assert.equal(toTimeout(MAX_DURATION_MS), MAX_DURATION_MS);
    assert.equal(toTimeout(undefined), undefined);
    for (const bad of [MAX_DURATION_MS + 1, 1e300, -1, NaN, Infinity, "10", 10n, null]) {
      assert.throws(() => toTimeout(bad), isArg("timeout", String(bad)));
    }
  });

  test("toChoice and toFunction", () => {
    assert.equal(toChoice("b", "mode", ["a", "b"]), "b");
    for (const bad of ["c", "", "A", 1, null, undefined, ["a"]]) {
      assert.throws(() => toChoice(bad, "mode", ["a", "b"]), isArg("mode", String(bad)));
    }
    const f = () => 1;
    assert.equal(toFunction(f, "fn"), f);
    assert.throws(() => toFunction({}, "fn"), isArg("fn"));
  });
});

describe("IP literals", () => {
  test("toIpAddress: both families, with the family; no host names, NUL, or over-long text", () => {
    assert.deepEqual(toIpAddress("10.1.2.3", "hostname"), { hostname: "10.1.2.3", family: "IPv4" });
    assert.deepEqual(toIpAddress("fc00::1", "hostname"), { hostname: "fc00::1", family: "IPv6" });
    assert.equal(toIpAddress("::ffff:10.0.0.1", "hostname").family, "IPv6");
    const bad = [
      "example.com",
      "localhost",
      "10.1.2.3\0",
      "10.1.2",
      "256.1.1.1",
      "1.2.3.4 ",
      "::1::2",
      "fc00::1%" + "x".repeat(64),
      "１.２.３.４", // full-width digits
      "",
      1,
      null,
      undefined,
      {},
    ];
    for (const v of bad) {
      assert.throws(() => toIpAddress(v, "hostname"), isArg("hostname", String(v)));
    }
  });

  test("toDestination: a peer's address, not the unspecified one", () => {
    assert.equal(toDestination("10.1.2.3", "hostname").family, "IPv4");
    assert.equal(toDestination("::1", "hostname").family, "IPv6");
    for (
      const v of ["0.0.0.0", "::", "0:0::0", "[::]", "::ffff:0.0.0.0".replace("ffff", "0"), "x"]
    ) {
      assert.throws(() => toDestination(v, "hostname"), isArg("hostname", v));
    }
  });

  test("parseIp/ipFamily/formatIp/prefixContains: wrong types are typed errors", () => {
    assert.throws(() => parseIp(1 as never), isArg("text"));
    assert.throws(() => ipFamily(null as never), isArg("text"));
    assert.throws(() => formatIp([10, 0, 0, 1] as never), isArg("bytes"));
    assert.throws(() => formatIp(new Uint8Array(5)), isArg("bytes"));
    assert.throws(() => prefixContains("10.0.0.0", NaN, "10.0.0.1"), isArg("prefixLength"));
    assert.throws(() => prefixContains("10.0.0.0", 8.5, "10.0.0.1"), isArg("prefixLength"));
    assert.throws(() => prefixContains(10 as never, 8, "10.0.0.1"), isArg("prefix"));
    assert.throws(() => prefixContains("10.0.0.0", 8, {} as never), isArg("address"));
    assert.equal(prefixContains("10.0.0.0", 8, "10.9.9.9"), true);
    assert.equal(
      prefixContains("10.0.0.0", 33, "10.9.9.9"),
      false,
      "length out of the family's range",
    );
  });
});

describe("error messages", () => {
  test("describing a received value never throws and never runs user code", () => {
    let ran = false;
    const sneaky = new Proxy({}, {
      get() {
        ran = true;
        return "x";
      },
      getPrototypeOf() {
        ran = true;
        return Object.prototype;
      },
    });
    const values: unknown[] = [
      hostileProxy(),
      revokedProxy(),
      throwingGetter("constructor"),
      10n ** 60n,
    ];
    for (const v of values) {
      const err = new InvalidArgumentError("arg", "rule", v);
      assert.match(err.message, /^Invalid arg: rule \(received .+\)$/);
    }
    new InvalidArgumentError("arg", "rule", sneaky);
    assert.equal(ran, true, "a Proxy's getPrototypeOf may run (it is caught), but nothing breaks");
    assert.equal(describeValue(hostileProxy()), "an unreadable value");
    assert.equal(describeValue(class Foo {}), "a function");
    assert.equal(describeValue(new Map()), "a Map");
  });

  test("a value that holds a secret identity is redacted wherever it is echoed", () => {
    const secretPart = SECRET.slice(-128);
    const errs: unknown[] = [
      new InvalidArgumentError("networkId", "rule", SECRET),
      new InvalidArgumentError("x", "rule", `prefix ${SECRET} suffix`),
    ];
    for (
      const fn of [
        () => identityNodeId(SECRET + "zz"),
        () =>
          parseIp(SECRET) ?? (() => {
            throw new Error("no");
          })(),
      ]
    ) {
      try {
        fn();
      } catch (e) {
        errs.push(e);
      }
    }
    for (const e of errs) {
      const text = `${(e as Error).message} ${Deno.inspect(e)} ${nodeInspect(e)}`;
      assert.ok(!text.includes(secretPart), `secret echoed: ${(e as Error).message}`);
      assert.ok(!text.includes(secretPart.slice(0, 40)));
    }
  });
});

describe("RxJS helpers validate their arguments", () => {
  test("fromReadable needs a ReadableStream", () => {
    for (const bad of [null, undefined, {}, "stream", of(1)]) {
      assert.throws(() => fromReadable(bad as never), isArg("readable", String(bad)));
    }
  });

  test("toReadable: an Observable and bounded options", () => {
    assert.throws(() => toReadable(null as never), isArg("source$"));
    assert.throws(() => toReadable({} as never), isArg("source$"));
    const cases: [unknown, string][] = [
      [null, "options"],
      [{ highWaterMark: 0 }, "highWaterMark"],
      [{ highWaterMark: 2 ** 40 }, "highWaterMark"],
      [{ highWaterMark: NaN }, "highWaterMark"],
      [{ overflow: "drop" }, "overflow"],
      [{ overflow: "error", extra: 1 }, "options.extra"],
      [throwingGetter("overflow"), "overflow"],
    ];
    for (const [options, argument] of cases) {
      assert.throws(() => toReadable(of(1), options as never), isArg(argument));
    }
  });

  test("reconnecting: a function and finite, bounded delays", () => {
    const connect = () => Promise.reject(new Error("never called"));
    assert.throws(() => reconnecting(null as never), isArg("connect"));
    const cases: [unknown, string][] = [
      [{ initialDelay: -1 }, "initialDelay"],
      [{ maxDelay: 2 ** 31 }, "maxDelay"],
      [{ factor: 0 }, "factor"],
      [{ factor: Infinity }, "factor"],
      [{ maxAttempts: 0 }, "maxAttempts"],
      [{ maxAttempts: 1.5 }, "maxAttempts"],
      [{ maxAttempts: NaN }, "maxAttempts"],
      [{ tries: 3 }, "options.tries"],
      [[], "options"],
    ];
    for (const [options, argument] of cases) {
      assert.throws(() => reconnecting(connect, options as never), isArg(argument));
    }
    assert.doesNotThrow(() => reconnecting(connect, { maxAttempts: Infinity }));
  });

  test("whenDirect and connectWhenDirect reject bad nodes, peer ids and options", async () => {
    const fake = { peer$: () => of(), connect: () => Promise.reject(new Error("never")) };
    const cases: [() => Promise<unknown>, string][] = [
      [() => whenDirect(null as never, "89e92ceee5"), "node"],
      [() => whenDirect({} as never, "89e92ceee5"), "node"],
      [() => whenDirect(fake, "zz"), "peerId"],
      [() => whenDirect(fake, 5 as never), "peerId"],
      [() => whenDirect(fake, "89e92ceee5", { timeout: -1 }), "timeout"],
      [() => whenDirect(fake, "89e92ceee5", { signal: {} as never }), "signal"],
      [() => whenDirect(fake, "89e92ceee5", null as never), "options"],
      [() => connectWhenDirect(fake, "89e92ceee5", undefined as never), "options"],
      [() => connectWhenDirect(fake, "89e92ceee5", { hostname: "x", port: 1 }), "hostname"],
      [() => connectWhenDirect(fake, "89e92ceee5", { hostname: "10.0.0.1", port: 0 }), "port"],
      [
        () =>
          connectWhenDirect({ peer$: fake.peer$ } as never, "89e92ceee5", {
            hostname: "10.0.0.1",
            port: 1,
          }),
        "node",
      ],
    ];
    for (const [fn, argument] of cases) await assert.rejects(fn(), isArg(argument));
  });

  test("whenDirect on a source that completes rejects NODE_STOPPED, not an RxJS EmptyError", async () => {
    const fake = { peer$: () => of() };
    await assert.rejects(
      whenDirect(fake, "89e92ceee5"),
      (e) => e instanceof NodeStateError && e.code === "NODE_STOPPED",
    );
  });
});

describe("entry points refuse bad input before loading libzt", () => {
  test("new ZeroTierNode() is a NodeStateError NODE_NOT_STARTED", () => {
    const Ctor = ZeroTierNode as unknown as new (...a: unknown[]) => unknown;
    assert.throws(
      () => new Ctor(),
      (e) => e instanceof NodeStateError && e.code === "NODE_NOT_STARTED",
    );
    assert.throws(
      () => new Ctor(Symbol("ZeroTierNode.start"), {}),
      (e) => e instanceof NodeStateError,
    );
  });

  test("start(): getters are read once, Proxies and unknown keys refused", async () => {
    const cases: [unknown, string][] = [
      [throwingGetter("port"), "port"],
      [hostileProxy(), "options"],
      [revokedProxy(), "options"],
      [{ randomPortRange: throwingGetter("start") }, "randomPortRange.start"],
      [{ randomPortRange: { start: 1, end: 2, step: 1 } }, "randomPortRange.step"],
      [{ cache: throwingGetter("peers") }, "cache.peers"],
      [{ interfaceBlacklist: [""] }, "interfaceBlacklist[0]"],
      [{ interfaceBlacklist: new Array(65).fill("eth") }, "interfaceBlacklist"],
      [{ storagePath: "" }, "storagePath"],
      [{ timeout: 2 ** 31 }, "timeout"],
      [{ identity: SECRET + "0" }, "identity"],
    ];
    for (const [options, argument] of cases) {
      const err = await ZeroTierNode.start(options as never).catch((e) => e);
      isArg(argument)(err);
      assert.ok(!(err as Error).message.includes(SECRET.slice(-128, -88)), "no secret echoed");
    }
  });

  test("identity helpers, createRootSet and loadLibzt check their options", () => {
    const pub = `89e92ceee5:0:${"ab".repeat(64)}`;
    const cases: [() => unknown, string][] = [
      [() => generateIdentity(null as never), "options"],
      [() => generateIdentity({ libraryPath: "" }), "libraryPath"],
      [() => generateIdentity({ path: "/x" } as never), "options.path"],
      [() => isValidIdentity(SECRET, 5 as never), "options"],
      [() => loadLibzt(null as never), "options"],
      [() => loadLibzt({ libraryPath: "a\0b" }), "libraryPath"],
      [() => createRootSet(undefined as never), "options"],
      [() => createRootSet({ roots: [] }), "roots"],
      [() => createRootSet({ roots: [null] } as never), "roots[0]"],
      [() => createRootSet({ roots: [throwingGetter("identity")] } as never), "roots[0].identity"],
      [
        () => createRootSet({ roots: [{ identity: SECRET, endpoints: ["1.2.3.4/9993"] }] }),
        "roots[0].identity",
      ],
      [
        () => createRootSet({ roots: [{ identity: pub, endpoints: ["[::1]/9993"] }] }),
        "roots[0].endpoints[0]",
      ],
      [
        () => createRootSet({ roots: [{ identity: pub, endpoints: ["fe80::1%eth0/9993"] }] }),
        "roots[0].endpoints[0]",
      ],
      [
        () => createRootSet({ roots: [{ identity: pub, endpoints: ["1.2.3.4/0"] }] }),
        "roots[0].endpoints[0]",
      ],
      [
        () =>
          createRootSet({ roots: [{ identity: pub, endpoints: ["1.2.3.4/9993"], x: 1 }] } as never),
        "roots[0].x",
      ],
      [
        () =>
          createRootSet(
            { roots: [{ identity: pub, endpoints: ["1.2.3.4/9993"] }], worldId: 5 } as never,
          ),
        "worldId",
      ],
      [
        () =>
          createRootSet(
            { roots: [{ identity: pub, endpoints: ["1.2.3.4/9993"] }], timestamp: "now" } as never,
          ),
        "timestamp",
      ],
      [
        () =>
          createRootSet(
            {
              roots: [{ identity: pub, endpoints: ["1.2.3.4/9993"] }],
              signingKeys: throwingGetter("previous"),
            } as never,
          ),
        "signingKeys.previous",
      ],
    ];
    for (const [fn, argument] of cases) assert.throws(fn, isArg(argument));
    // a secret identity given where a public one belongs is not echoed
    try {
      createRootSet({ roots: [{ identity: SECRET, endpoints: ["1.2.3.4/9993"] }] });
    } catch (e) {
      assert.ok(!(e as Error).message.includes(SECRET.slice(-64)));
    }
  });
});

describe("secrets are redacted when printed", () => {
  test("redactInspection: Deno.inspect, node:util inspect, console.log and JSON show the view", () => {
    const secret = new Uint8Array([1, 2, 3, 250, 251, 252]);
    const obj = redactInspection(
      { data: secret, name: "k" },
      () => ({ data: "[redacted]", name: "k" }),
    );
    for (
      const text of [
        Deno.inspect(obj),
        nodeInspect(obj),
        JSON.stringify(obj),
        Deno.inspect([obj], { depth: 5 }),
      ]
    ) {
      assert.ok(text.includes("[redacted]"), text);
      assert.ok(!text.includes("250"), text);
    }
    assert.equal(obj.data, secret, "the bytes stay readable");
    assert.deepEqual(Object.keys(obj), ["data", "name"], "the hooks are not enumerable");
  });

  test("a STORE_IDENTITY_SECRET event keeps data readable but prints redacted; other STORE events print as usual", () => {
    const text = new TextEncoder().encode(SECRET);
    const event = decodeEvent({ code: 270, cache: text }, 1);
    assert.equal(event.type, "STORE_IDENTITY_SECRET");
    assert.deepEqual((event as { data: Uint8Array }).data, text);
    const hex = (b: Uint8Array) => [...b.subarray(-20)].join(", ");
    for (const shown of [Deno.inspect(event), nodeInspect(event), JSON.stringify(event)]) {
      assert.ok(shown.includes("redacted"), shown);
      assert.ok(!shown.includes(hex(text)), shown);
      assert.ok(!shown.includes("cdcdcdcd"), shown);
    }
    const parsed = JSON.parse(JSON.stringify(event));
    assert.equal(parsed.type, "STORE_IDENTITY_SECRET");
    const pub = decodeEvent({ code: 271, cache: new Uint8Array([7, 8, 9]) }, 1);
    assert.ok(Deno.inspect(pub).includes("7"), "public data is shown");
  });

  test("all rxzt errors are ZeroTierErrors (a sanity check for the fuzz test's oracle)", () => {
    assert.ok(new InvalidArgumentError("a", "b") instanceof ZeroTierError);
  });
});
