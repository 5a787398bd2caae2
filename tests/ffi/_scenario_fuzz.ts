/**
 * Tier-2 fuzz scenario (run in a child process by fuzz_test.ts: one libzt
 * node per process). Starts a node on the stand-in, then throws `count`
 * generated inputs at the public API: wrong types, edge numbers, NaN, huge
 * and negative values, weird strings (unicode, NUL, lone surrogates, long),
 * Proxies and getters that throw, revoked Proxies, objects with extra keys,
 * aborted signals. Every call must succeed or fail with a typed rxzt error
 * (a `ZeroTierError`; or, where a signal was given, that signal's reason),
 * within a per-call time limit. Whatever a call opened is closed, and at the
 * end `node.openSockets` and the stand-in's host sockets must be back to
 * where they started.
 *
 * The inputs are a pure function of the seed: input i is generated from the
 * seeded generator after inputs 0..i-1, whatever the timing.
 *
 * Usage: deno run -A _scenario_fuzz.ts <standinPath> <seed> <count>
 * Prints one JSON object on stdout (last line); stops its node; exits by itself.
 */
import { Observable } from "rxjs";
import * as rxzt from "../../mod.ts";
import {
  adhocIPv4NetworkId,
  adhocNetworkId,
  type TcpConn,
  type TcpListener,
  ZeroTierError,
  ZeroTierNode,
} from "../../mod.ts";
import { reportError, sleep } from "./_helpers.ts";

const [libraryPath, seedText, countText] = Deno.args;
const seed = Number(seedText) >>> 0;
const count = Number(countText);
const out: Record<string, unknown> = { seed, count };

const standin = Deno.dlopen(
  libraryPath,
  {
    standin_open_sockets: { parameters: [], result: "i32" },
  } as const,
);
const hostSockets = (): number => standin.symbols.standin_open_sockets();

// ---------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------

/** mulberry32: small, fast, good enough to pick inputs. */
function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(seed);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(list: readonly T[]): T => list[int(list.length)];
const chance = (p: number) => random() < p;

/** The reason of every signal the fuzzer aborts: rejecting with it is defined behaviour. */
const REASON = new Error("fuzz abort reason");
const timers = new Set<ReturnType<typeof setTimeout>>();

function abortingSoon(ms: number): AbortSignal {
  const c = new AbortController();
  const t = setTimeout(() => {
    timers.delete(t);
    c.abort(REASON);
  }, ms);
  timers.add(t);
  return c.signal;
}

function throwingGetter(base: Record<string, unknown>, key: string): Record<string, unknown> {
  return Object.defineProperty({ ...base }, key, {
    enumerable: true,
    get() {
      throw new TypeError("fuzz getter");
    },
  });
}

function hostileProxy(target: object = {}): object {
  const boom = () => {
    throw new RangeError("fuzz trap");
  };
  return new Proxy(target, {
    get: boom,
    has: boom,
    ownKeys: boom,
    getPrototypeOf: boom,
    getOwnPropertyDescriptor: boom,
  });
}

function revoked(): object {
  const r = Proxy.revocable({}, {});
  r.revoke();
  return r.proxy;
}

function randomString(): string {
  const len = pick([0, 1, 2, 5, 10, 16, 40, 300]);
  let s = "";
  for (let i = 0; i < len; i++) {
    s += pick([
      () => String.fromCharCode(32 + int(95)),
      () => String.fromCharCode(int(0x10000)), // includes lone surrogates
      () => "\0",
      () => "💥",
      () => "\u202e",
      () => "0123456789abcdef"[int(16)],
      () => pick([":", ".", "/", "%", "[", "]"]),
    ])();
  }
  return s;
}

function detachedBytes(): Uint8Array {
  const b = new Uint8Array(8);
  structuredClone(b.buffer, { transfer: [b.buffer] });
  return b;
}

/** Values of every kind, most of them wrong for any argument. */
const JUNK: (() => unknown)[] = [
  () => undefined,
  () => null,
  () => true,
  () => false,
  () => pick([0, -0, 1, -1, 0.5, 1.5, 7, 255, 256, 1023, 1024, 65535, 65536, 70000]),
  () => pick([NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON]),
  () => pick([2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e300, -1e300]),
  () =>
    pick([
      0n,
      1n,
      -1n,
      2n ** 40n - 1n,
      2n ** 40n,
      2n ** 64n - 1n,
      2n ** 64n,
      -(2n ** 63n),
      10n ** 80n,
    ]),
  () => randomString(),
  () =>
    pick([
      "",
      " ",
      "\0",
      "a\0b",
      "x".repeat(5000),
      "x".repeat(70_000),
      "\ud800",
      "null",
      "undefined",
    ]),
  () =>
    pick([
      "ff0a000000000001",
      "0xff0a000000000001",
      "FF0A000000000001",
      "ff0a00000000001",
      "ff0a0000000000011",
    ]),
  () => pick(["89e92ceee5", "0x89e92ceee5", "89e92ceee", "00000000aa", "00000000bb", "zzzzzzzzzz"]),
  () =>
    pick([
      "127.0.0.1",
      "::1",
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "1.2.3.4.5",
      "256.0.0.1",
      "::ffff:1.2.3.4",
      "fe80::1%lo",
    ]),
  () => pick(["IPv4", "IPv6", "any", "both", "ipv4", "error", "drop-oldest", "drop-newest"]),
  () => Symbol("fuzz"),
  () => ({}),
  () => Object.create(null),
  () => [],
  () => [1, 2, 3],
  () => ["docker", "veth"],
  () => new Array(100).fill("x"),
  () => new Uint8Array(pick([0, 1, 4, 16, 128, 65508])),
  () => detachedBytes(),
  () => new Uint8Array(new SharedArrayBuffer(8)),
  () => new Int8Array(4),
  () => new ArrayBuffer(4),
  () => new DataView(new ArrayBuffer(4)),
  () => new Date(0),
  () => new Map([["port", 80]]),
  () => () => 1,
  () => async () => await Promise.reject(new Error("fuzz connect")),
  () => Promise.resolve(1),
  () => ({ valueOf: () => 80, toString: () => "80" }),
  () => ({
    toString: () => {
      throw new Error("fuzz toString");
    },
  }),
  () => hostileProxy(),
  () => revoked(),
  () => throwingGetter({}, "port"),
  () => Object.freeze({ port: 80 }),
  () => AbortSignal.abort(REASON),
  () => new AbortController().signal,
  () => ({ aborted: false, addEventListener() {} }),
  () => new Observable(() => {}),
  () => new ReadableStream(),
  () => new Error("an error"),
];

const junk = () => pick(JUNK)();

type Kind =
  | "networkId"
  | "nodeId"
  | "port"
  | "listenPort"
  | "hostname"
  | "localHostname"
  | "timeout"
  | "signal"
  | "family"
  | "bool"
  | "backlog"
  | "small"
  | "libraryPath"
  | "identity"
  | "bytes"
  | "rate";

let identity = "";
let listenerPort = 1;

const NETWORKS = [
  "ff0a000000000001", // ad-hoc IPv4 10/8: IPv4 and IPv6 ready
  adhocNetworkId(7000, 7001), // ad-hoc IPv6
  "8056c2e21c000001", // "controller" network: OK with 10.147.17.x/24
  "00000000dd000001", // NOT_FOUND
  "00000000de000001", // ACCESS_DENIED
  "0000000000000000", // libzt refuses (ZTS_ERR_ARG)
];

/** A valid value of `kind`. Durations stay short so that nothing legitimately waits long. */
function good(kind: Kind): unknown {
  switch (kind) {
    case "networkId":
      return chance(0.8)
        ? pick(NETWORKS)
        : (chance(0.5) ? BigInt(`0x${pick(NETWORKS)}`) : `0x${pick(NETWORKS)}`);
    case "nodeId":
      return pick(["00000000aa", "00000000bb", "89e92ceee5", 0xaan, "0x00000000bb"]);
    case "port":
      return chance(0.6) ? listenerPort : 1 + int(65535);
    case "listenPort":
      return chance(0.8) ? 0 : 20_000 + int(40_000);
    case "hostname":
      return pick(["127.0.0.1", "::1", "127.0.0.1", "::ffff:127.0.0.1"]);
    case "localHostname":
      return pick(["127.0.0.1", "::1", "0.0.0.0", "::"]);
    case "timeout":
      return int(150);
    case "signal":
      return pick([
        undefined,
        new AbortController().signal,
        abortingSoon(int(20)),
        AbortSignal.abort(REASON),
      ]);
    case "family":
      return pick(["any", "IPv4", "IPv6", "both"]);
    case "bool":
      return chance(0.5);
    case "backlog":
      return 1 + int(1024);
    case "small":
      return int(100);
    case "libraryPath":
      return pick([undefined, libraryPath]);
    case "identity":
      return identity;
    case "bytes":
      return new Uint8Array(int(64));
    case "rate":
      return 1_000_000 + int(200_000_000);
  }
}

const value = (kind: Kind): unknown => (chance(0.6) ? good(kind) : junk());

function isPlainExtensible(v: unknown): boolean {
  try {
    if (v === null || typeof v !== "object" || Array.isArray(v) || !Object.isExtensible(v)) {
      return false;
    }
    const proto = Object.getPrototypeOf(v);
    return proto === Object.prototype || proto === null;
  } catch {
    return false; // a hostile or revoked Proxy
  }
}

/**
 * An options object with the given keys: sometimes junk instead, sometimes
 * with an extra key, a throwing getter, or wrapped in a (transparent or
 * hostile) Proxy. `bounded`: calls that may wait get a short timeout
 * whenever their options leave it out, so no valid input waits long.
 */
/** A timeout that is valid and long: a call given it may wait that long, as it should. */
const waitsLong = (t: unknown): boolean =>
  typeof t === "number" && Number.isInteger(t) && t >= 1000 && t <= 2 ** 31 - 1;

function options(keys: Record<string, Kind>, bounded = false): unknown {
  if (chance(0.1)) {
    const j = junk();
    if (!bounded) return j;
    // Options that are valid but empty ({} or undefined) would wait without limit.
    if (j === undefined) return { timeout: good("timeout") };
    if (isPlainExtensible(j)) (j as Record<string, unknown>).timeout = good("timeout");
    return j;
  }
  const o: Record<string, unknown> = {};
  for (const [key, kind] of Object.entries(keys)) if (chance(0.7)) o[key] = value(kind);
  // A junk value can be a valid long duration (65536 ms, say), which would rightly wait that long.
  if (bounded && (o.timeout === undefined || waitsLong(o.timeout))) o.timeout = good("timeout");
  const twist = random();
  if (twist < 0.05) o[pick(["extra", "timout", "__proto__x", "constructor", "💥"])] = junk();
  else if (twist < 0.08) return throwingGetter(o, pick(Object.keys(keys)));
  else if (twist < 0.1) return new Proxy(o, {}); // transparent: must behave like o
  else if (twist < 0.11) return hostileProxy(o);
  return o;
}

// ---------------------------------------------------------------------------
// What a call may do
// ---------------------------------------------------------------------------

// Valid durations in the inputs are under 150 ms (1 s for the fuzzer's own rejoin), so an answer
// later than this is a hang, with room for a loaded CI machine.
const LIMIT_MS = 5000;
const failures: Record<string, unknown>[] = [];
const outcomes: Record<string, number> = {};
const byTarget: Record<string, { ok: number; typed: number }> = {};
const unhandled: unknown[] = [];
let slowest = 0;
let nudgeFailures = 0;
let slowestTarget = "";

globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  unhandled.push(reportError(e.reason));
});

/** Closes whatever a successful call returned; subscribes once to observables. */
async function cleanUp(result: unknown): Promise<void> {
  if (result instanceof Observable) {
    let sub: { unsubscribe(): void } | undefined;
    try {
      sub = result.subscribe({ error: () => {} });
    } finally {
      sub?.unsubscribe();
    }
    return;
  }
  if (result instanceof ReadableStream) {
    await result.cancel().catch(() => {});
    return;
  }
  const closable = result as { close?: () => unknown } | null;
  if (closable && typeof closable === "object" && typeof closable.close === "function") {
    try {
      closable.close();
    } catch { /* closing twice is fine */ }
  }
}

interface Input {
  target: string;
  args: unknown[];
  run: () => unknown;
  /** Extra action when the call is still pending after a while (accept waits for a connection). */
  nudge?: () => Promise<void>;
}

function safeDescribe(args: unknown[]): string {
  try {
    return Deno.inspect(args, { depth: 2, strAbbreviateSize: 60, iterableLimit: 5 }).slice(0, 400);
  } catch {
    return "(uninspectable)";
  }
}

async function runInput(i: number, input: Input): Promise<void> {
  const started = performance.now();
  let result: unknown;
  let error: unknown;
  let failed = false;
  let state: "ok" | "error" | "hang" = "ok";
  try {
    const r = input.run();
    if (r instanceof Promise) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let nudger: ReturnType<typeof setInterval> | undefined;
      const HANG = Symbol("hang");
      const limit = new Promise<typeof HANG>((
        resolve,
      ) => (timer = setTimeout(() => resolve(HANG), LIMIT_MS)));
      // Nudged every 100 ms: a concurrent accept may take the connection meant for this one.
      if (input.nudge) nudger = setInterval(() => input.nudge!().catch(() => nudgeFailures++), 100);
      try {
        const v = await Promise.race([r, limit]);
        if (v === HANG) {
          state = "hang";
          r.then(cleanUp, () => {});
        } else result = v;
      } finally {
        clearTimeout(timer);
        clearInterval(nudger);
      }
    } else result = r;
  } catch (err) {
    state = "error";
    error = err;
    failed = true;
  }
  const elapsed = performance.now() - started;
  if (elapsed > slowest) {
    slowest = elapsed;
    slowestTarget = input.target;
  }
  const stats = (byTarget[input.target] ??= { ok: 0, typed: 0 });
  if (state === "hang") {
    failures.push({
      i,
      target: input.target,
      args: safeDescribe(input.args),
      problem: `no answer within ${LIMIT_MS} ms`,
    });
  } else if (failed) {
    const typed = error instanceof ZeroTierError || error === REASON;
    if (typed) {
      stats.typed++;
      const code = error instanceof ZeroTierError ? error.code : "signal reason";
      outcomes[code] = (outcomes[code] ?? 0) + 1;
    } else {
      failures.push({
        i,
        target: input.target,
        args: safeDescribe(input.args),
        problem: "untyped error",
        error: reportError(error),
        stack: (error as Error)?.stack?.split("\n").slice(0, 6).join("\n"),
      });
    }
  } else {
    stats.ok++;
    outcomes.ok = (outcomes.ok ?? 0) + 1;
    try {
      await cleanUp(result);
    } catch (err) {
      failures.push({
        i,
        target: input.target,
        problem: "cleanup failed",
        error: reportError(err),
      });
    }
  }
}

// ---------------------------------------------------------------------------
// The targets
// ---------------------------------------------------------------------------

/** The fuzzer may have left the IPv4 network that 127.0.0.1 connections wait for: rejoin. */
async function ensureIPv4(node: ZeroTierNode): Promise<void> {
  await node.join(adhocIPv4NetworkId(10), { timeout: 1000 });
}

function targets(
  node: ZeroTierNode,
  acceptOnly: TcpListener,
  conn: TcpConn,
): [number, () => Input][] {
  const call = (
    target: string,
    fn: (...a: unknown[]) => unknown,
    args: unknown[],
    nudge?: () => Promise<void>,
  ) => ({
    target,
    args,
    run: () => fn(...args),
    nudge,
  });
  const m = <K extends keyof ZeroTierNode>(name: K) =>
    (node[name] as (...a: unknown[]) => unknown).bind(node);
  const f = (fn: unknown) => fn as (...a: unknown[]) => unknown;
  return [
    [
      6,
      () =>
        call("join", m("join"), [
          value("networkId"),
          options({ family: "family", timeout: "timeout", signal: "signal" }, true),
        ]),
    ],
    [
      3,
      () =>
        call("leave", m("leave"), [
          value("networkId"),
          options({ timeout: "timeout", signal: "signal" }, true),
        ]),
    ],
    [
      3,
      () =>
        call("waitUntilOnline", m("waitUntilOnline"), [
          options({ timeout: "timeout", signal: "signal" }, true),
        ]),
    ],
    [4, () => call("network$", m("network$"), [value("networkId")])],
    [4, () => call("peer$", m("peer$"), chance(0.2) ? [] : [value("nodeId")])],
    [3, () => call("addresses", m("addresses"), [value("networkId")])],
    [
      8,
      () =>
        call("connect", m("connect"), [
          options(
            { hostname: "hostname", port: "port", timeout: "timeout", signal: "signal" },
            true,
          ),
        ]),
    ],
    [
      6,
      () =>
        call("listen", m("listen"), [
          options({ port: "listenPort", hostname: "localHostname", backlog: "backlog" }),
        ]),
    ],
    [
      4,
      () =>
        call("listenDatagram", m("listenDatagram"), [
          options({ port: "listenPort", hostname: "localHostname" }),
        ]),
    ],
    [3, () => {
      const datagram = chance(0.15)
        ? junk()
        : options({ data: "bytes", hostname: "hostname", port: "port" });
      return {
        target: "datagram write",
        args: [datagram],
        run: async () => {
          const udp = node.listenDatagram({ port: 0, hostname: "127.0.0.1" });
          try {
            const writer = udp.writable.getWriter();
            await writer.write(datagram as never);
          } finally {
            udp.close();
          }
        },
      };
    }],
    [2, () => {
      const chunk = chance(0.5) ? junk() : good("bytes");
      return {
        target: "tcp write",
        args: [chunk],
        run: async () => {
          await ensureIPv4(node);
          const c = await node.connect({
            hostname: "127.0.0.1",
            port: listenerPort,
            timeout: 2000,
          });
          try {
            const writer = c.writable.getWriter();
            await writer.write(chunk as never);
          } finally {
            c.close();
          }
        },
      };
    }],
    [
      3,
      () =>
        call(
          "accept",
          f(acceptOnly.accept.bind(acceptOnly)),
          [options({ signal: "signal" })],
          async () => {
            // A valid accept waits for a connection: give it one (closed by cleanUp / the scenario).
            await ensureIPv4(node);
            const c = await node.connect({
              hostname: "127.0.0.1",
              port: acceptOnly.addr.port,
              timeout: 1000,
            });
            c.close();
          },
        ),
    ],
    [2, () => call("setNoDelay", f(conn.setNoDelay.bind(conn)), [value("bool")])],
    [
      1,
      () =>
        call("setSendPacing", f(conn.setSendPacing.bind(conn)), [
          value("bool"),
          options({ bytesPerSecond: "rate" }),
        ]),
    ],
    [
      2,
      () =>
        call("setKeepAlive", f(conn.setKeepAlive.bind(conn)), [
          value("bool"),
          options({ idle: "small", interval: "small", count: "small" }),
        ]),
    ],
    [
      2,
      () =>
        call("setLinger", f(conn.setLinger.bind(conn)), [chance(0.3) ? undefined : value("small")]),
    ],
    [
      2,
      () =>
        call("setReceiveBufferSize", f(conn.setReceiveBufferSize.bind(conn)), [
          chance(0.5) ? 1 + int(1 << 20) : junk(),
        ]),
    ],
    [3, () =>
      call("start", f(ZeroTierNode.start), [
        options({
          libraryPath: "libraryPath",
          identity: "identity",
          port: "listenPort",
          timeout: "timeout",
          signal: "signal",
          secondaryPort: "bool",
          portMapping: "bool",
          lowBandwidthMode: "bool",
        }),
      ])],
    [4, () => call("adhocNetworkId", f(rxzt.adhocNetworkId), [value("port"), value("port")])],
    [
      3,
      () =>
        call("adhocIPv4NetworkId", f(rxzt.adhocIPv4NetworkId), [
          chance(0.5) ? int(300) : junk(),
          ...(chance(0.5) ? [value("nodeId")] : []),
        ]),
    ],
    [
      3,
      () =>
        call("adhocIPv4Address", f(rxzt.adhocIPv4Address), [value("networkId"), value("nodeId")]),
    ],
    [
      3,
      () => call("sixPlaneAddress", f(rxzt.sixPlaneAddress), [value("networkId"), value("nodeId")]),
    ],
    [
      3,
      () => call("rfc4193Address", f(rxzt.rfc4193Address), [value("networkId"), value("nodeId")]),
    ],
    [3, () => call("parseIp", f(rxzt.parseIp), [value("hostname")])],
    [3, () => call("ipFamily", f(rxzt.ipFamily), [value("hostname")])],
    [
      3,
      () =>
        call("formatIp", f(rxzt.formatIp), [
          chance(0.5) ? new Uint8Array(pick([4, 16, 5])) : junk(),
        ]),
    ],
    [
      3,
      () =>
        call("prefixContains", f(rxzt.prefixContains), [
          value("hostname"),
          chance(0.5) ? int(140) - 5 : junk(),
          value("hostname"),
        ]),
    ],
    [2, () => call("eventName", f(rxzt.eventName), [chance(0.5) ? 200 + int(80) : junk()])],
    [
      2,
      () =>
        call(
          "generateIdentity",
          f(rxzt.generateIdentity),
          chance(0.3) ? [] : [options({ libraryPath: "libraryPath" })],
        ),
    ],
    [
      3,
      () =>
        call("isValidIdentity", f(rxzt.isValidIdentity), [
          value("identity"),
          options({ libraryPath: "libraryPath" }),
        ]),
    ],
    [3, () => call("publicIdentity", f(rxzt.publicIdentity), [value("identity")])],
    [3, () => call("identityNodeId", f(rxzt.identityNodeId), [value("identity")])],
    [2, () => call("loadLibzt", f(rxzt.loadLibzt), [options({ libraryPath: "libraryPath" })])],
    [3, () => {
      const root = chance(0.2) ? junk() : options({ identity: "identity", endpoints: "small" });
      const r = root as Record<string, unknown>;
      if (isPlainExtensible(r) && chance(0.7)) {
        try {
          r.identity = chance(0.7) ? rxzt.publicIdentity(identity) : junk();
          r.endpoints = chance(0.7)
            ? [pick(["10.0.0.1/9993", "::1/9993", "1.2.3.4/0", "[::1]/1", "x/1"])]
            : junk();
        } catch { /* frozen or hostile: keep as generated */ }
      }
      return call("createRootSet", f(rxzt.createRootSet), [
        chance(0.1) ? junk() : {
          roots: chance(0.8) ? [root] : junk(),
          ...(chance(0.2) ? { worldId: chance(0.5) ? BigInt(1 + int(1000)) : junk() } : {}),
          ...(chance(0.2) ? { timestamp: chance(0.5) ? int(1e9) : junk() } : {}),
          ...(chance(0.1)
            ? { signingKeys: { previous: junk(), current: new Uint8Array(128) } }
            : {}),
          ...(chance(0.3) ? { libraryPath: good("libraryPath") } : {}),
        },
      ]);
    }],
    [
      2,
      () =>
        call("fromReadable", f(rxzt.fromReadable), [
          chance(0.3) ? new ReadableStream({ start: (c) => c.close() }) : junk(),
        ]),
    ],
    [
      2,
      () =>
        call("toReadable", f(rxzt.toReadable), [
          chance(0.5) ? node.online$ : junk(),
          options({ highWaterMark: "small", overflow: "family" }),
        ]),
    ],
    [
      2,
      () =>
        call("reconnecting", f(rxzt.reconnecting), [
          chance(0.5) ? () => Promise.reject(new Error("x")) : junk(),
          options({
            initialDelay: "small",
            maxDelay: "small",
            factor: "small",
            maxAttempts: "small",
          }),
        ]),
    ],
    [
      3,
      () =>
        call("whenDirect", f(rxzt.whenDirect), [
          chance(0.8) ? node : junk(),
          value("nodeId"),
          options({ timeout: "timeout", signal: "signal" }, true),
        ]),
    ],
    [
      2,
      () =>
        call("connectWhenDirect", f(rxzt.connectWhenDirect), [
          chance(0.8) ? node : junk(),
          value("nodeId"),
          options(
            { hostname: "hostname", port: "port", timeout: "timeout", signal: "signal" },
            true,
          ),
        ]),
    ],
    [1, () => call("stats", m("stats"), [junk()])],
    [1, () => call("secretIdentity", m("secretIdentity"), [junk()])],
  ];
}

// ---------------------------------------------------------------------------

let node: ZeroTierNode | undefined;
const base = hostSockets();
try {
  identity = rxzt.generateIdentity({ libraryPath });
  node = await ZeroTierNode.start({ libraryPath, identity, timeout: 5000 });
  await node.waitUntilOnline({ timeout: 3000 });
  await node.join(adhocIPv4NetworkId(10), { timeout: 3000 });
  const n = node;

  // A listener whose connections are closed at once, one nobody accepts on but the fuzzer,
  // and one connection to call the setters on.
  const listener = n.listen({ hostname: "127.0.0.1", port: 0, backlog: 1024 });
  listenerPort = listener.addr.port;
  const serving = (async () => {
    for await (const c of listener) c.close();
  })();
  const acceptOnly = n.listen({ hostname: "127.0.0.1", port: 0 });
  const conn = await n.connect({ hostname: "127.0.0.1", port: listenerPort, timeout: 2000 });
  // listener, acceptOnly, conn (its server side is closed by the loop above)
  const settle = performance.now() + 3000;
  while ((n.openSockets !== 3 || hostSockets() - base !== 3) && performance.now() < settle) {
    await sleep(10);
  }
  const baseline = { node: n.openSockets, host: hostSockets() - base };
  out.baseline = baseline;

  const table = targets(n, acceptOnly, conn);
  const totalWeight = table.reduce((s, [w]) => s + w, 0);
  const nextInput = (): Input => {
    let r = int(totalWeight);
    for (const [w, make] of table) {
      if (r < w) return make();
      r -= w;
    }
    throw new Error("unreachable");
  };

  const t0 = performance.now();
  let next = 0;
  const CONCURRENCY = 8;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      const i = next++;
      let input: Input;
      try {
        input = nextInput();
      } catch (err) {
        failures.push({ i, problem: "the generator threw", error: reportError(err) });
        continue;
      }
      await runInput(i, input);
    }
  }));
  out.fuzzMs = Math.round(performance.now() - t0);
  out.slowestCallMs = Math.round(slowest);
  out.slowestTarget = slowestTarget;

  // Everything the calls opened is closed by now (or closing): wait for the deferred closes.
  for (const t of timers) clearTimeout(t);
  const deadline = performance.now() + 5000;
  while (
    (n.openSockets !== baseline.node || hostSockets() - base !== baseline.host) &&
    performance.now() < deadline
  ) await sleep(20);
  out.afterFuzz = { node: n.openSockets, host: hostSockets() - base };
  out.lifecycle = n.lifecycle;
  out.online = n.isOnline;

  conn.close();
  acceptOnly.close();
  listener.close();
  await serving;
} catch (err) {
  out.unexpected = reportError(err);
  out.unexpectedStack = (err as Error)?.stack;
  Deno.exitCode = 1;
}
await node?.stop();
const deadline = performance.now() + 3000;
while (hostSockets() !== base && performance.now() < deadline) await sleep(20);
out.hostSocketsAtEnd = hostSockets() - base;
out.openSocketsAtEnd = node?.openSockets;
out.failures = failures.slice(0, 20);
out.failureCount = failures.length;
out.unhandled = unhandled.slice(0, 10);
out.unhandledCount = unhandled.length;
out.nudgeFailures = nudgeFailures;
out.outcomes = outcomes;
out.byTarget = byTarget;
console.log(JSON.stringify(out));
