/**
 * The options of {@link ZeroTierNode}'s calls (start, join, waits) and the
 * validation of the start options: one checked copy, read once, which is
 * what libzt gets.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import type { IpFamily } from "../ip.ts";
import type { Readiness } from "./state.ts";
import type { ReceiveTuning } from "../streams/receive_loop.ts";
import { DEFAULT_RECEIVE_TUNING } from "../streams/receive_thread.ts";
import { DEFAULT_KEEPALIVE, type KeepAlive } from "../streams/keepalive.ts";
import {
  isInstance,
  readArray,
  readOptions,
  toBool,
  toChoice,
  toCString,
  toInteger,
  toPort,
  toSecretIdentity,
  toSignal,
  toTimeout,
} from "../validate.ts";
// For {@link} in the docs only.
// deno-lint-ignore no-unused-vars
import type { ZeroTierNode } from "./node.ts";

/** How long `start` waits for libzt to bring the node up by default, ms. */
export const DEFAULT_START_TIMEOUT = 30_000;
/** How long `join` waits for a network to be ready by default, ms. */
export const DEFAULT_JOIN_TIMEOUT = 60_000;
/** How long `leave` waits for a network to go down by default, ms. */
export const DEFAULT_LEAVE_TIMEOUT = 10_000;
/** Which readinesses `join` may wait for. */
const READINESS = ["any", "IPv4", "IPv6", "both"] as const;

/** Options of {@link ZeroTierNode.start}. Every field is optional. */
export interface StartOptions {
  /**
   * Path of libzt. Default: the `LIBZT_PATH` environment variable, then the
   * usual install locations (see the README's Install section).
   *
   * @default {undefined}
   */
  libraryPath?: string;
  /**
   * Directory where libzt keeps the identity (`identity.secret`) and caches.
   * rxzt creates it owner-only (0700) if it does not exist; an existing one
   * is used as it is (keep it private). Default: none; nothing is written.
   *
   * @default {undefined}
   */
  storagePath?: string;
  /**
   * A secret identity (`generateIdentity()` output) to start with, held in
   * memory. Default: the one in `storagePath`, or a new one.
   *
   * @default {undefined}
   */
  identity?: string;
  /**
   * Primary UDP port. Default: libzt's (9993).
   *
   * @default {9993}
   */
  port?: number;
  /**
   * Pick the primary port at random in this range instead. Default: unset.
   *
   * @default {undefined}
   */
  randomPortRange?: { start: number; end: number };
  /**
   * Also listen on a secondary port. Default: libzt's (true).
   *
   * @default {true}
   */
  secondaryPort?: boolean;
  /**
   * Try UPnP/NAT-PMP port mapping. Default: libzt's (true).
   *
   * @default {true}
   */
  portMapping?: boolean;
  /**
   * A custom root set (see `createRootSet`). Default: ZeroTier's public roots.
   *
   * @default {undefined}
   */
  roots?: Uint8Array;
  /**
   * Which caches libzt may write under `storagePath`. Default: all true.
   *
   * @default {{ identity: true, peers: true, networks: true, roots: true }}
   */
  cache?: { identity?: boolean; peers?: boolean; networks?: boolean; roots?: boolean };
  /**
   * Fewer keepalives and path probes, for metered links. Default: false.
   *
   * @default {false}
   */
  lowBandwidthMode?: boolean;
  /**
   * Interface name prefixes libzt must not send through (e.g. `["docker"]`). Default: none.
   *
   * @default {[]}
   */
  interfaceBlacklist?: string[];
  /**
   * How long to wait for libzt to bring the node up, ms. Default: 30000.
   *
   * @default {30000}
   */
  timeout?: number;
  /**
   * Abort the start. Default: none.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Read TCP connections on an I/O thread of the node's own (a Worker that
   * opens the same libzt), which drains libzt as fast as a C reader would and
   * wakes the JS thread in batches: when `wakeAfterBytes` (default 262144)
   * arrived, or `wakeWithinMs` (default 2) after the previous wake-up, and at
   * once after a quiet spell. `false` reads on the JS thread instead (no
   * Worker; libzt then drops data whenever the app is a few ms late, see the
   * README's Benchmark). Default: true.
   *
   * @default {true}
   */
  receiveThread?: boolean | { wakeAfterBytes?: number; wakeWithinMs?: number };
  /**
   * TCP keep-alive every connection starts with (seconds and probes; change
   * it per connection with `conn.setKeepAlive()`), or `false` for none. A
   * killed peer is noticed idle + interval × count seconds after it was last
   * heard from. Keep that bound above ~260 s, or connections may fail while
   * ZeroTier reroutes a cut path through a root (see {@link DEFAULT_KEEPALIVE}).
   *
   * @default {{ idle: 60, interval: 15, count: 16 }}
   */
  keepAlive?: KeepAlive | false;
  /**
   * Milliseconds a peer may stay `UNREACHABLE` in `peer$` (no direct path and
   * no root reachable) before its TCP connections fail with
   * `PeerUnreachableError`; `false` never fails them for that (keep-alive
   * still does). Connections are matched to peers by address, which works
   * for addresses that encode the node id: 6PLANE, RFC 4193 and ad-hoc IPv4.
   *
   * @default {30000}
   */
  peerUnreachableTimeout?: number | false;
}

/** Options of {@link ZeroTierNode.join}. */
export interface JoinOptions {
  /**
   * Which readiness to wait for: `"any"` (first of IPv4/IPv6, default),
   * `"IPv4"`, `"IPv6"` or `"both"`.
   *
   * @default {"any"}
   */
  family?: "any" | IpFamily | "both";
  /**
   * Milliseconds before rejecting with `TimeoutError`. Default: 60000.
   *
   * @default {60000}
   */
  timeout?: number;
  /**
   * Abort the wait (the join itself stays in effect; call `leave`). Default: none.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Options of waits that only take a timeout and a signal. */
export interface WaitUntilOptions {
  /**
   * Milliseconds before rejecting with `TimeoutError`. Default: no limit.
   *
   * @default {undefined}
   */
  timeout?: number;
  /**
   * Abort the wait. Default: none.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

const START_KEYS = [
  "libraryPath",
  "storagePath",
  "identity",
  "port",
  "randomPortRange",
  "secondaryPort",
  "portMapping",
  "roots",
  "cache",
  "lowBandwidthMode",
  "interfaceBlacklist",
  "timeout",
  "signal",
  "receiveThread",
  "keepAlive",
  "peerUnreachableTimeout",
] as const;
const CACHE_KEYS = ["identity", "peers", "networks", "roots"] as const;

/** Validates start options and returns a checked copy (what libzt gets is what was checked). */
export function validateStartOptions(options: unknown): StartOptions {
  const o = readOptions(options, "options", START_KEYS);
  const out: StartOptions = {};
  if (o.libraryPath !== undefined) out.libraryPath = toCString(o.libraryPath, "libraryPath");
  if (o.storagePath !== undefined) out.storagePath = toCString(o.storagePath, "storagePath");
  if (o.identity !== undefined) out.identity = toSecretIdentity(o.identity);
  if (o.port !== undefined) out.port = toPort(o.port, "port");
  if (o.randomPortRange !== undefined) {
    const r = readOptions(
      o.randomPortRange,
      "randomPortRange",
      ["start", "end"],
      "randomPortRange.",
    );
    const start = toPort(r.start, "randomPortRange.start", false);
    const end = toPort(r.end, "randomPortRange.end", false);
    if (end < start) {
      throw new InvalidArgumentError(
        "randomPortRange.end",
        "must be >= randomPortRange.start",
        end,
      );
    }
    out.randomPortRange = { start, end };
  }
  out.secondaryPort = toBool(o.secondaryPort, "secondaryPort");
  out.portMapping = toBool(o.portMapping, "portMapping");
  out.lowBandwidthMode = toBool(o.lowBandwidthMode, "lowBandwidthMode");
  if (o.roots !== undefined) {
    const roots = o.roots;
    if (!isInstance(roots, Uint8Array) || roots.length === 0 || roots.length > 65536) {
      throw new InvalidArgumentError(
        "roots",
        "must be a non-empty Uint8Array of at most 65536 bytes (see createRootSet)",
        roots,
      );
    }
    out.roots = new Uint8Array(roots); // a private copy: the caller may reuse its buffer
  }
  if (o.cache !== undefined) {
    const c = readOptions(o.cache, "cache", CACHE_KEYS, "cache.");
    out.cache = {};
    for (const k of CACHE_KEYS) out.cache[k] = toBool(c[k], `cache.${k}`);
  }
  if (o.interfaceBlacklist !== undefined) {
    const list = readArray(
      o.interfaceBlacklist,
      "interfaceBlacklist",
      0,
      64,
      "interface name prefixes",
    );
    out.interfaceBlacklist = list.map((p, i) => toCString(p, `interfaceBlacklist[${i}]`, 15));
  }
  out.timeout = toTimeout(o.timeout);
  out.signal = toSignal(o.signal);
  if (o.keepAlive === false) out.keepAlive = false;
  else if (o.keepAlive !== undefined) {
    const k = readOptions(o.keepAlive, "keepAlive", ["idle", "interval", "count"], "keepAlive.");
    out.keepAlive = {
      idle: toInteger(k.idle ?? DEFAULT_KEEPALIVE.idle, "keepAlive.idle", 1, 86_400),
      interval: toInteger(
        k.interval ?? DEFAULT_KEEPALIVE.interval,
        "keepAlive.interval",
        1,
        86_400,
      ),
      count: toInteger(k.count ?? DEFAULT_KEEPALIVE.count, "keepAlive.count", 1, 1_000),
    };
  }
  if (o.peerUnreachableTimeout === false) out.peerUnreachableTimeout = false;
  else if (o.peerUnreachableTimeout !== undefined) {
    out.peerUnreachableTimeout = toInteger(
      o.peerUnreachableTimeout,
      "peerUnreachableTimeout",
      0,
      2_147_483_647,
    );
  }
  if (o.receiveThread === undefined || o.receiveThread === true || o.receiveThread === false) {
    out.receiveThread = o.receiveThread ?? true;
  } else {
    const r = readOptions(
      o.receiveThread,
      "receiveThread",
      ["wakeAfterBytes", "wakeWithinMs"],
      "receiveThread.",
    );
    out.receiveThread = {
      wakeAfterBytes: toInteger(
        r.wakeAfterBytes ?? DEFAULT_RECEIVE_TUNING.wakeAfterBytes,
        "receiveThread.wakeAfterBytes",
        1,
        1 << 30,
      ),
      wakeWithinMs: toInteger(
        r.wakeWithinMs ?? DEFAULT_RECEIVE_TUNING.wakeWithinMs,
        "receiveThread.wakeWithinMs",
        0,
        1000,
      ),
    };
  }
  return out;
}

/** The I/O thread's tuning that checked start options ask for; `undefined`: no I/O thread. */
export function receiveTuningOf(options: StartOptions): ReceiveTuning | undefined {
  const r = options.receiveThread;
  if (r === false) return undefined;
  return r === true || r === undefined ? DEFAULT_RECEIVE_TUNING : r as ReceiveTuning;
}

/** Checked {@link WaitUntilOptions}. */
export function readWaitOptions(options: unknown): { timeout?: number; signal?: AbortSignal } {
  const o = readOptions(options, "options", ["timeout", "signal"]);
  return { timeout: toTimeout(o.timeout), signal: toSignal(o.signal) };
}

/** Checked {@link JoinOptions}, with their defaults. */
export function readJoinOptions(
  options: unknown,
): { family: Readiness; timeout: number; signal?: AbortSignal } {
  const o = readOptions(options, "options", ["family", "timeout", "signal"]);
  return {
    family: toChoice(o.family ?? "any", "family", READINESS),
    timeout: toTimeout(o.timeout) ?? DEFAULT_JOIN_TIMEOUT,
    signal: toSignal(o.signal),
  };
}
