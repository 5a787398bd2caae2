/**
 * Building the `zts_root_set_t` spec and calling `zts_util_sign_root_set`.
 *
 * @module
 */
import type { NativeLibrary } from "./backend.ts";
import { nulTerminated } from "./cstring.ts";
import { ROOT_SET, ROOT_SET_BUF_LEN, SIGNING_KEY_LEN } from "./layout.ts";

/** A root for the spec: its public identity and its endpoints as `ip/port`. */
export interface RootSpec {
  readonly identity: string;
  readonly endpoints: readonly string[];
}

/** Output of a successful signing. */
export interface SignedRootSet {
  readonly rootSet: Uint8Array;
  readonly previousKey: Uint8Array;
  readonly currentKey: Uint8Array;
}

/**
 * Signs a root set. libzt reads `previous.c25519`/`current.c25519` from the
 * working directory, so the call runs in a scratch directory holding exactly
 * the keys given (none: libzt generates a new pair). Returns the negative
 * libzt code on failure.
 */
export function signRootSet(
  lib: NativeLibrary,
  roots: readonly RootSpec[],
  worldId: bigint,
  timestamp: bigint,
  keys?: { previous: Uint8Array; current: Uint8Array },
): SignedRootSet | number {
  const spec = new Uint8Array(ROOT_SET.size);
  const view = new DataView(spec.buffer);
  const keep: Uint8Array[] = []; // the strings must outlive the call
  const put = (offset: number, text: string) => {
    const bytes = nulTerminated(text);
    keep.push(bytes);
    view.setBigUint64(offset, lib.addressOf(bytes), true);
  };
  roots.forEach((root, i) => {
    put(ROOT_SET.publicIds + i * 8, root.identity);
    root.endpoints.forEach((endpoint, j) => {
      put(ROOT_SET.endpoints + (i * ROOT_SET.maxEndpointsPerRoot + j) * 8, endpoint);
    });
  });
  const out = new Uint8Array(ROOT_SET_BUF_LEN);
  const outLen = new Uint32Array([ROOT_SET_BUF_LEN]);
  const prev = new Uint8Array(SIGNING_KEY_LEN);
  const prevLen = new Uint32Array([SIGNING_KEY_LEN]);
  const curr = new Uint8Array(SIGNING_KEY_LEN);
  const currLen = new Uint32Array([SIGNING_KEY_LEN]);
  const files: Record<string, Uint8Array> = keys
    ? { "previous.c25519": keys.previous, "current.c25519": keys.current }
    : {};
  const rc = lib.inScratchDirectory(
    files,
    () =>
      lib.fn.zts_util_sign_root_set(
        out,
        outLen,
        prev,
        prevLen,
        curr,
        currLen,
        worldId,
        timestamp,
        spec,
      ),
  );
  keep.length = 0;
  if (rc < 0) return rc;
  return {
    rootSet: out.slice(0, outLen[0]),
    previousKey: prev.slice(0, prevLen[0]),
    currentKey: curr.slice(0, currLen[0]),
  };
}
