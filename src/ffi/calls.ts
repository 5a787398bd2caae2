/**
 * Typed wrappers for the libzt calls that pass structs or buffers, so the
 * layers above see plain values; a failed call throws its typed error.
 *
 * @module
 */
import { LibztCallError, UnavailableError } from "../errors.ts";
import type { NativeLibrary } from "./backend.ts";
import { RETURN } from "./codes.ts";
import { cString } from "./cstring.ts";
import type { IpPrefix } from "./events.ts";
import { decodeSockaddr } from "./sockaddr.ts";
import { ID_STR_BUF_LEN, SOCKADDR_STORAGE, STATS_COUNTERS_SIZE } from "./layout.ts";
import { decodeStats, type NodeStats } from "./stats.ts";

/** A secret identity string in the fixed-size buffer libzt insists on. */
export function identityBuffer(identity: string): Uint8Array {
  const buf = new Uint8Array(ID_STR_BUF_LEN);
  buf.set(new TextEncoder().encode(identity).subarray(0, ID_STR_BUF_LEN - 1));
  return buf;
}

/** `zts_init_from_memory` with a secret identity string. */
export function initFromMemory(lib: NativeLibrary, identity: string): number {
  return lib.fn.zts_init_from_memory(identityBuffer(identity), ID_STR_BUF_LEN);
}

/** `zts_addr_get_all`: the addresses assigned on a network (none when it is not joined). */
export function addressesOf(lib: NativeLibrary, networkId: bigint): IpPrefix[] {
  const max = 16;
  const buf = new Uint8Array(max * SOCKADDR_STORAGE.size);
  const count = new Uint32Array([max]);
  const rc = lib.fn.zts_addr_get_all(networkId, buf, count);
  if (rc === RETURN.ZTS_ERR_NO_RESULT) return []; // not joined
  if (rc < 0) throw LibztCallError.fromReturn("zts_addr_get_all", rc);
  const view = new DataView(buf.buffer);
  const out: IpPrefix[] = [];
  for (let i = 0; i < Math.min(count[0], max); i++) {
    const sa = decodeSockaddr(view, i * SOCKADDR_STORAGE.size);
    if (sa) out.push({ family: sa.family, address: sa.address, prefixLength: sa.port });
  }
  return out;
}

/** The identity text a libzt call writes into an identity buffer. */
function identityText(fn: string, call: (buf: Uint8Array, len: Uint32Array) => number): string {
  const buf = new Uint8Array(ID_STR_BUF_LEN);
  const len = new Uint32Array([ID_STR_BUF_LEN]);
  const rc = call(buf, len);
  if (rc < 0) throw LibztCallError.fromReturn(fn, rc);
  return cString(buf.subarray(0, Math.min(len[0], ID_STR_BUF_LEN)));
}

/** `zts_node_get_id_pair`: the running node's secret identity. */
export function secretIdentityOf(lib: NativeLibrary): string {
  return identityText("zts_node_get_id_pair", (buf, len) => lib.fn.zts_node_get_id_pair(buf, len));
}

/**
 * `zts_stats_get_all`.
 *
 * @throws {UnavailableError} when this libzt build has no statistics.
 */
export function statsOf(lib: NativeLibrary): NodeStats {
  const buf = new Uint8Array(STATS_COUNTERS_SIZE);
  const rc = lib.fn.zts_stats_get_all(buf);
  if (rc === RETURN.ZTS_ERR_NO_RESULT) {
    throw new UnavailableError(
      "stats",
      "this libzt reports no statistics (zts_stats_get_all answers ZTS_ERR_NO_RESULT: its stats code is compiled out, as in libzt 1.8 host builds)",
    );
  }
  if (rc < 0) throw LibztCallError.fromReturn("zts_stats_get_all", rc);
  return decodeStats(new DataView(buf.buffer));
}

/** `zts_id_new`: a new secret identity string. */
export function newIdentity(lib: NativeLibrary): string {
  return identityText("zts_id_new", (buf, len) => lib.fn.zts_id_new(buf, len));
}

/** `zts_id_pair_is_valid` (libzt checks the public part against the address). */
export function identityIsValid(lib: NativeLibrary, identity: string): boolean {
  return lib.fn.zts_id_pair_is_valid(identityBuffer(identity), ID_STR_BUF_LEN) === 1;
}
