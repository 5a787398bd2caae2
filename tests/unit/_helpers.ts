/**
 * Helpers shared by the tier-1 unit tests. Nothing here imports code from
 * `src/` (types only): expected values in the tests are built with these
 * independent routines.
 */
import type { PeerState } from "../../src/node/state.ts";

/** Deterministic PRNG (mulberry32) so "random" cases are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random integer in [0, n). */
export function randInt(next: () => number, n: number): number {
  return Math.floor(next() * n);
}

/** Byte the helpers fill around a struct, so reads outside it show up as garbage. */
export const JUNK = 0xa5;

/**
 * A zeroed struct of `size` bytes, exposed as a DataView that does NOT start at
 * offset 0 of its ArrayBuffer and is surrounded by junk bytes (plus `slack`
 * junk bytes after it). Decoders that ignore `byteOffset` or read past
 * `byteLength` will see junk.
 */
export function struct(size: number, slack = 64): { view: DataView; bytes: Uint8Array } {
  const lead = 24;
  const buffer = new ArrayBuffer(lead + size + slack);
  new Uint8Array(buffer).fill(JUNK);
  const bytes = new Uint8Array(buffer, lead, size);
  bytes.fill(0);
  return { view: new DataView(buffer, lead, size), bytes };
}

/** Linux/lwIP address family numbers. */
export const FAMILY_INET = 2;
export const FAMILY_INET6 = 10;

/**
 * Writes an lwIP `struct sockaddr_in` (BSD layout: len u8, family u8,
 * port u16 big-endian, address 4 bytes) at `offset`.
 */
export function putSockaddr4(
  view: DataView,
  offset: number,
  addr: readonly number[],
  port: number,
): void {
  view.setUint8(offset, 16);
  view.setUint8(offset + 1, FAMILY_INET);
  view.setUint8(offset + 2, (port >> 8) & 0xff); // network byte order, written byte by byte
  view.setUint8(offset + 3, port & 0xff);
  addr.forEach((b, i) => view.setUint8(offset + 4 + i, b));
}

/**
 * Writes an lwIP `struct sockaddr_in6` (len u8, family u8, port u16 big-endian,
 * flowinfo u32, address 16 bytes, scope id u32) at `offset`.
 */
export function putSockaddr6(
  view: DataView,
  offset: number,
  addr: readonly number[],
  port: number,
  flow = 0,
  scope = 0,
): void {
  view.setUint8(offset, 28);
  view.setUint8(offset + 1, FAMILY_INET6);
  view.setUint8(offset + 2, (port >> 8) & 0xff);
  view.setUint8(offset + 3, port & 0xff);
  view.setUint32(offset + 4, flow, true);
  addr.forEach((b, i) => view.setUint8(offset + 8 + i, b));
  view.setUint32(offset + 24, scope, true);
}

/** Writes a little-endian uint64. */
export function putU64(view: DataView, offset: number, value: bigint): void {
  view.setBigUint64(offset, value, true);
}

/** Lowercase hex of a bigint, left-padded to `digits`. */
export function hex(value: bigint, digits: number): string {
  let s = "";
  for (let i = 0; i < digits; i++) {
    s = "0123456789abcdef"[Number((value >> BigInt(4 * i)) & 0xfn)] + s;
  }
  return s;
}

/**
 * RFC 5952 text of 16 address bytes, computed by the WHATWG URL parser
 * (its IPv6 serializer compresses the first longest run of 2+ zero groups,
 * lowercases, and drops leading zeros): an implementation independent of rxzt.
 */
export function ipv6TextByUrl(bytes: readonly number[] | Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16).padStart(4, "0"));
  }
  const host = new URL(`http://[${groups.join(":")}]/`).hostname;
  return host.slice(1, -1);
}

/**
 * RFC 5952 text computed by a second, deliberately naive route: try every
 * run length from 8 down to 2 and compress the leftmost run of that length.
 */
export function ipv6TextNaive(bytes: readonly number[] | Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes[i] * 256 + bytes[i + 1]);
  for (let len = 8; len >= 2; len--) {
    for (let start = 0; start + len <= 8; start++) {
      if (groups.slice(start, start + len).every((g) => g === 0)) {
        const left = groups.slice(0, start).map((g) => g.toString(16)).join(":");
        const right = groups.slice(start + len).map((g) => g.toString(16)).join(":");
        return `${left}::${right}`;
      }
    }
  }
  return groups.map((g) => g.toString(16)).join(":");
}

/** Ten hex digits of a 40-bit id split into bytes, most significant first. */
export function idBytes(value: bigint, byteCount: number): number[] {
  const out: number[] = [];
  for (let i = byteCount - 1; i >= 0; i--) out.push(Number((value >> BigInt(8 * i)) & 0xffn));
  return out;
}

/** Resolves after the current macrotask, so deferred (microtask) work has run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A peer's state as `peer$` reports it, for tests that need one (id `aaaaaaaaaa` unless given). */
export function peerState(link: PeerState["link"], peerId = "aaaaaaaaaa"): PeerState {
  return {
    peerId,
    version: "1.8.4",
    latency: 1,
    role: "leaf",
    paths: [],
    link,
    lastEvent: "PEER_RELAY",
    changedAt: 0,
  };
}
