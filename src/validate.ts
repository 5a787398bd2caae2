/**
 * Argument checks shared by every public entry point. Each throws an
 * {@link InvalidArgumentError} naming the argument and the rule it broke,
 * so nothing unchecked reaches libzt.
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.ts";

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
  if (typeof value !== "number" || !Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > 65535) {
    throw new InvalidArgumentError(name, `must be an integer from ${allowZero ? 0 : 1} to 65535`, value);
  }
  return value;
}

/** Validates a non-negative finite duration in milliseconds (or undefined). */
export function toTimeout(value: unknown, name = "timeout"): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(name, "must be a finite number of milliseconds >= 0", value);
  }
  return value;
}

/** Validates an optional boolean option. */
export function toBool(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw new InvalidArgumentError(name, "must be a boolean", value);
}

/** Validates an optional AbortSignal option. */
export function toSignal(value: unknown, name = "signal"): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw new InvalidArgumentError(name, "must be an AbortSignal", value);
}

/** Validates an options object (undefined becomes `{}`). */
export function toOptions<T extends object>(value: unknown, name = "options"): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidArgumentError(name, "must be an object", value);
  }
  return value as Partial<T>;
}

/** Validates a string without NUL characters, at most `max` bytes of UTF-8. */
export function toCString(value: unknown, name: string, max = 4096): string {
  if (typeof value !== "string" || value.includes("\0") || new TextEncoder().encode(value).length > max) {
    throw new InvalidArgumentError(name, `must be a string without NUL characters, at most ${max} bytes`, value);
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
    throw new InvalidArgumentError(name, "must be a secret identity nodeId:0:public:secret (see generateIdentity)");
  }
  return value;
}

/** Validates a public identity. */
export function toPublicIdentity(value: unknown, name = "identity"): string {
  if (typeof value !== "string" || !PUBLIC_IDENTITY.test(value)) {
    throw new InvalidArgumentError(name, "must be a public identity nodeId:0:public (use publicIdentity())");
  }
  return value;
}
