/**
 * Argument checks shared by every public entry point. Each throws an
 * {@link InvalidArgumentError} naming the argument and the rule it broke,
 * so nothing unchecked reaches libzt.
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.ts";
import { ipFamily, parseIp } from "./ip.ts";

/** A network id as accepted by rxzt: a `bigint` or 16 hex digits. */
export type NetworkIdInput = bigint | string;
/** A node id as accepted by rxzt: a `bigint` or 10 hex digits. */
export type NodeIdInput = bigint | string;

function parseHexId(value: unknown, name: string, digits: number, max: bigint): bigint {
  if (typeof value === "bigint") {
    if (value < 0n || value > max) {
      throw new InvalidArgumentError(name, `must be from 0 to 0x${max.toString(16)}`, value);
    }
    return value;
  }
  if (typeof value === "string" && new RegExp(`^(0x)?[0-9a-fA-F]{${digits}}$`).test(value)) {
    return BigInt(`0x${value.replace(/^0x/, "")}`);
  }
  throw new InvalidArgumentError(name, `must be a bigint or ${digits} hex digits`, value);
}

/** Validates a network id; returns it as a bigint. */
export function toNetworkId(value: unknown, name = "networkId"): bigint {
  return parseHexId(value, name, 16, 0xffffffffffffffffn);
}

/** Validates a node id; returns it as a bigint. */
export function toNodeId(value: unknown, name = "nodeId"): bigint {
  return parseHexId(value, name, 10, 0xffffffffffn);
}

/** Validates a port (0–65535, `allowZero` for "any"). */
export function toPort(value: unknown, name = "port", allowZero = true): number {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < (allowZero ? 0 : 1) ||
    value > 65535
  ) {
    throw new InvalidArgumentError(
      name,
      `must be an integer from ${allowZero ? 0 : 1} to 65535`,
      value,
    );
  }
  return value;
}

/**
 * The longest duration rxzt accepts, in ms (about 24.8 days): timers cannot
 * wait longer (a longer `setTimeout` fires at once).
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Validates a duration in milliseconds from 0 to {@link MAX_DURATION_MS} (or undefined). */
export function toTimeout(value: unknown, name = "timeout"): number | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_DURATION_MS
  ) {
    throw new InvalidArgumentError(
      name,
      `must be a number of milliseconds from 0 to ${MAX_DURATION_MS}`,
      value,
    );
  }
  return value;
}

/**
 * Validates an integer from `min` to `max`.
 *
 * @example
 * ```ts
 * toInteger(128, "backlog", 1, 1024); // 128
 * ```
 */
export function toInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}`, value);
  }
  return value;
}

/**
 * Validates a string that is one of `allowed`.
 *
 * @example
 * ```ts
 * toChoice("IPv4", "family", ["any", "IPv4", "IPv6"]); // "IPv4"
 * ```
 */
export function toChoice<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(
      name,
      `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`,
      value,
    );
  }
  return value as T;
}

/**
 * Validates a function.
 *
 * @example
 * ```ts
 * const connect = toFunction<() => Promise<unknown>>(() => Promise.resolve(), "connect");
 * ```
 */
export function toFunction<T extends (...args: never[]) => unknown>(
  value: unknown,
  name: string,
): T {
  if (typeof value !== "function") {
    throw new InvalidArgumentError(name, "must be a function", value);
  }
  return value as T;
}

/** The longest IP literal text accepted (an IPv6 address with an embedded IPv4 tail and brackets). */
const MAX_IP_TEXT = 47;

/**
 * Validates an IP literal of either family (ZeroTier has no DNS) and returns
 * its family. `rule` describes what the address is for.
 *
 * @example
 * ```ts
 * toIpAddress("fc00::1", "hostname"); // { hostname: "fc00::1", family: "IPv6" }
 * ```
 */
export function toIpAddress(
  value: unknown,
  name: string,
  rule = "must be an IPv4 or IPv6 address (ZeroTier networks have no DNS)",
): { hostname: string; family: "IPv4" | "IPv6" } {
  const family = typeof value === "string" && value.length <= MAX_IP_TEXT
    ? ipFamily(value)
    : undefined;
  if (!family) throw new InvalidArgumentError(name, rule, value);
  return { hostname: value as string, family };
}

/**
 * Validates a destination address: an IP literal of either family that is
 * not the unspecified address (`0.0.0.0`, `::`), which names no peer.
 *
 * @example
 * ```ts
 * toDestination("0.0.0.0", "hostname"); // throws InvalidArgumentError (argument "hostname")
 * ```
 */
export function toDestination(
  value: unknown,
  name: string,
): { hostname: string; family: "IPv4" | "IPv6" } {
  const rule =
    "must be a peer's IPv4 or IPv6 address (ZeroTier networks have no DNS; not 0.0.0.0 or ::)";
  const checked = toIpAddress(value, name, rule);
  if (parseIp(checked.hostname)!.every((b) => b === 0)) {
    throw new InvalidArgumentError(name, rule, value);
  }
  return checked;
}

/**
 * Reads an options object exactly once and returns a plain copy of its known
 * keys, so that what was validated is what is used (a getter cannot answer
 * differently later). `undefined` means `{}`. Rejects anything but an object,
 * unknown keys (typos would otherwise be ignored silently), and keys whose
 * getter or Proxy trap throws: all as {@link InvalidArgumentError}.
 * `prefix` is put before key names in errors (e.g. `"cache."`).
 *
 * @example
 * ```ts
 * const o = readOptions({ port: 80 }, "options", ["port", "hostname"]); // { port: 80 }
 * readOptions({ prot: 80 }, "options", ["port"]); // throws: argument "options.prot"
 * ```
 */
export function readOptions<K extends string>(
  value: unknown,
  name: string,
  keys: readonly K[],
  prefix = "",
  allowUnknown = false,
): { [P in K]?: unknown } {
  if (value === undefined) return {};
  let keysOfValue: string[];
  try {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new InvalidArgumentError(name, "must be an object", value);
    }
    // A plain object (or a Proxy of one): a Map, a typed array or a Date is a mistake.
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new InvalidArgumentError(name, "must be a plain object { ... }", value);
    }
    keysOfValue = allowUnknown ? [] : Object.keys(value);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw new InvalidArgumentError(name, "could not be read (a Proxy trap threw)", undefined, {
      cause: err,
    });
  }
  for (const key of keysOfValue) {
    if (!(keys as readonly string[]).includes(key)) {
      throw new InvalidArgumentError(
        `${name}.${key}`.slice(0, 200),
        `is not an option here (options: ${keys.join(", ")})`,
      );
    }
  }
  const out: { [P in K]?: unknown } = {};
  for (const key of keys) {
    let v: unknown;
    try {
      v = (value as Record<string, unknown>)[key];
    } catch (err) {
      throw new InvalidArgumentError(
        `${prefix}${key}`,
        "could not be read (its getter threw)",
        undefined,
        { cause: err },
      );
    }
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * Copies an array once (rejecting non-arrays, more than `max` entries, and
 * arrays whose reading throws), so later changes to it do not matter.
 *
 * @example
 * ```ts
 * readArray(["docker"], "interfaceBlacklist", 0, 64, "prefixes"); // ["docker"] (a copy)
 * ```
 */
export function readArray(
  value: unknown,
  name: string,
  min: number,
  max: number,
  what: string,
): unknown[] {
  let copy: unknown[];
  try {
    if (!Array.isArray(value)) {
      throw new InvalidArgumentError(name, `must be an array of ${min} to ${max} ${what}`, value);
    }
    const length = value.length;
    if (length < min || length > max) {
      throw new InvalidArgumentError(
        name,
        `must be an array of ${min} to ${max} ${what}`,
        `${length} entries`,
      );
    }
    copy = Array.from({ length }, (_, i) => value[i]);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw new InvalidArgumentError(
      name,
      "could not be read (a getter or Proxy trap threw)",
      undefined,
      { cause: err },
    );
  }
  return copy;
}

/** Validates an optional boolean option. */
export function toBool(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw new InvalidArgumentError(name, "must be a boolean", value);
}

/**
 * `value instanceof ctor`, but false instead of throwing when `value` is a
 * Proxy whose `getPrototypeOf` trap throws (or a revoked Proxy).
 *
 * @example
 * ```ts
 * isInstance(new Uint8Array(1), Uint8Array); // true
 * isInstance(new Proxy({}, { getPrototypeOf() { throw 1; } }), Uint8Array); // false
 * ```
 */
export function isInstance<T>(
  value: unknown,
  ctor: abstract new (...args: never[]) => T,
): value is T {
  try {
    return value instanceof ctor;
  } catch {
    return false;
  }
}

/**
 * Reads `object[key]` of a caller's object, turning a throwing getter or
 * Proxy trap into an {@link InvalidArgumentError} naming `name`.
 *
 * @example
 * ```ts
 * const subscribe = readProperty(source$, "subscribe", "source$");
 * ```
 */
export function readProperty(object: unknown, key: string, name: string): unknown {
  try {
    return (object as Record<string, unknown> | null | undefined)?.[key];
  } catch (err) {
    throw new InvalidArgumentError(
      name,
      "could not be read (a getter or Proxy trap threw)",
      undefined,
      { cause: err },
    );
  }
}

/** Validates an optional AbortSignal option. */
export function toSignal(value: unknown, name = "signal"): AbortSignal | undefined {
  if (value === undefined || isInstance(value, AbortSignal)) return value;
  throw new InvalidArgumentError(name, "must be an AbortSignal", value);
}

/** Validates a non-empty string without NUL characters, at most `max` bytes of UTF-8. */
export function toCString(value: unknown, name: string, max = 4096): string {
  if (
    typeof value !== "string" || value === "" || value.length > max || value.includes("\0") ||
    new TextEncoder().encode(value).length > max
  ) {
    throw new InvalidArgumentError(
      name,
      `must be a non-empty string without NUL characters, at most ${max} bytes`,
      value,
    );
  }
  return value;
}

/** `nodeId:0:public:secret`, as libzt writes a secret identity. */
export const SECRET_IDENTITY = /^([0-9a-f]{10}):0:([0-9a-f]{128}):([0-9a-f]{128})$/;
/** `nodeId:0:public`, a public identity. */
export const PUBLIC_IDENTITY = /^([0-9a-f]{10}):0:([0-9a-f]{128})$/;

/** Validates a secret identity. The value is a secret: errors never echo it. */
export function toSecretIdentity(value: unknown, name = "identity"): string {
  if (typeof value !== "string" || !SECRET_IDENTITY.test(value)) {
    throw new InvalidArgumentError(
      name,
      "must be a secret identity nodeId:0:public:secret (see generateIdentity)",
    );
  }
  return value;
}

/** Validates a public identity. */
export function toPublicIdentity(value: unknown, name = "identity"): string {
  if (typeof value !== "string" || !PUBLIC_IDENTITY.test(value)) {
    throw new InvalidArgumentError(
      name,
      "must be a public identity nodeId:0:public (use publicIdentity())",
    );
  }
  return value;
}
