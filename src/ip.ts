/**
 * IP address text <-> bytes, without the network: parsing, canonical
 * formatting (RFC 5952 for IPv6) and family detection.
 *
 * @module
 */

import { InvalidArgumentError } from "./errors.ts";

function isUint8Array(value: unknown): value is Uint8Array {
  try {
    return value instanceof Uint8Array;
  } catch {
    return false; // a Proxy whose getPrototypeOf trap throws
  }
}

/** An IP address family as rxzt names it. */
export type IpFamily = "IPv4" | "IPv6";

/**
 * Formats 4 or 16 address bytes as text (IPv6 in RFC 5952 canonical form).
 *
 * @example
 * ```ts
 * import { formatIp } from "@rxzt/rxzt";
 * formatIp(new Uint8Array([10, 0, 0, 1])); // "10.0.0.1"
 * ```
 */
export function formatIp(bytes: Uint8Array): string {
  if (!isUint8Array(bytes) || (bytes.length !== 4 && bytes.length !== 16)) {
    throw new InvalidArgumentError(
      "bytes",
      "must be a Uint8Array of 4 (IPv4) or 16 (IPv6) bytes",
      bytes,
    );
  }
  if (bytes.length === 4) return bytes.join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // Longest run (length >= 2) of zero groups becomes "::".
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/**
 * Parses an IPv4 dotted quad or an IPv6 literal (with optional `[]` and
 * embedded IPv4 tail) into bytes; returns `undefined` when it is neither
 * (and throws {@link InvalidArgumentError} when `text` is not a string).
 *
 * @example
 * ```ts
 * import { parseIp } from "@rxzt/rxzt";
 * parseIp("fc00::1")?.length; // 16
 * parseIp("example.com"); // undefined
 * ```
 */
export function parseIp(text: string): Uint8Array | undefined {
  if (typeof text !== "string") throw new InvalidArgumentError("text", "must be a string", text);
  return parseIPv4(text) ?? parseIPv6(text);
}

/**
 * The family of an IP literal, or `undefined` if `text` is not one.
 *
 * @example
 * ```ts
 * import { ipFamily } from "@rxzt/rxzt";
 * ipFamily("10.1.2.3"); // "IPv4"
 * ```
 */
export function ipFamily(text: string): IpFamily | undefined {
  const bytes = parseIp(text);
  return bytes === undefined ? undefined : bytes.length === 4 ? "IPv4" : "IPv6";
}

function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIPv6(input: string): Uint8Array | undefined {
  let text = input.startsWith("[") && input.endsWith("]") ? input.slice(1, -1) : input;
  if (text.includes("%")) text = text.slice(0, text.indexOf("%")); // zone ids are not used
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length < 2) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  // An embedded IPv4 part may only be the last 32 bits of the address.
  const toGroups = (part: string, mayEndInIPv4: boolean): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (mayEndInIPv4 && i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIPv4(piece);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else return undefined;
    }
    return out;
  };
  const head = toGroups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? toGroups(halves[1], true) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * Whether `address` lies in `prefix`/`prefixLength` (same family only; false
 * when either is not an IP literal or the length does not fit the family).
 *
 * @example
 * ```ts
 * import { prefixContains } from "@rxzt/rxzt";
 * prefixContains("10.0.0.0", 8, "10.44.238.229"); // true
 * ```
 */
export function prefixContains(prefix: string, prefixLength: number, address: string): boolean {
  if (typeof prefixLength !== "number" || !Number.isInteger(prefixLength)) {
    throw new InvalidArgumentError(
      "prefixLength",
      "must be an integer (0-32 for IPv4, 0-128 for IPv6)",
      prefixLength,
    );
  }
  if (typeof prefix !== "string") {
    throw new InvalidArgumentError("prefix", "must be a string", prefix);
  }
  if (typeof address !== "string") {
    throw new InvalidArgumentError("address", "must be a string", address);
  }
  const p = parseIp(prefix);
  const a = parseIp(address);
  if (!p || !a || p.length !== a.length || prefixLength < 0 || prefixLength > p.length * 8) {
    return false;
  }
  const whole = prefixLength >> 3;
  for (let i = 0; i < whole; i++) if (p[i] !== a[i]) return false;
  const rest = prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (p[whole] & mask) === (a[whole] & mask);
}
