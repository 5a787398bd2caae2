/**
 * Custom root sets ("planets"): a private ZeroTier universe whose roots are
 * your own nodes, e.g. for an offline or self-hosted deployment.
 *
 * @module
 */
import { InvalidArgumentError, LibztCallError } from "../errors.ts";
import { signRootSet } from "../ffi/rootset.ts";
import { loadLibrary } from "../ffi/runtime.ts";
import { parseIp } from "../ip.ts";
import { toPublicIdentity } from "../validate.ts";

/** One root of a root set. */
export interface RootDefinition {
  /** The root's public identity (`publicIdentity(secret)`), `nodeId:0:public`. */
  identity: string;
  /** Stable endpoints where the root listens, as `ip/port` (e.g. `"10.0.0.1/9993"`). */
  endpoints: string[];
}

/** Options of {@link createRootSet}. */
export interface CreateRootSetOptions {
  /** The roots, 1 to 16. */
  roots: RootDefinition[];
  /** World id (any 64-bit value except ZeroTier's own planet's). Default: 0x7278_7a74 ("rxzt"). */
  worldId?: bigint;
  /** Timestamp in ms; a newer root set replaces an older one with the same id. Default: `Date.now()`. */
  timestamp?: number;
  /**
   * Signing keys of an earlier root set (its `signingKeys`), to publish an
   * update the nodes will accept. Default: a new key pair.
   */
  signingKeys?: { previous: Uint8Array; current: Uint8Array };
  /** Path of libzt. Default: `LIBZT_PATH`, then the usual install locations. */
  libraryPath?: string;
}

/** A signed root set, and the keys to sign its successors with. */
export interface RootSet {
  /** Pass to `ZeroTierNode.start({ roots })`. */
  readonly bytes: Uint8Array;
  /** Keep these private (owner-only storage) to sign updates. */
  readonly signingKeys: { readonly previous: Uint8Array; readonly current: Uint8Array };
}

/**
 * Creates and signs a root set with `zts_util_sign_root_set`. It runs in a
 * private scratch directory, so the caller's working directory is neither
 * read nor written.
 *
 * @example
 * ```ts
 * import { createRootSet, generateIdentity, publicIdentity } from "@rxzt/rxzt";
 * const rootSecret = generateIdentity();
 * const planet = createRootSet({
 *   roots: [{ identity: publicIdentity(rootSecret), endpoints: ["10.99.0.1/9993"] }],
 * });
 * // every node: ZeroTierNode.start({ roots: planet.bytes })
 * ```
 */
export function createRootSet(options: CreateRootSetOptions): RootSet {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError("options", "must be an object with roots", options);
  }
  const { roots, worldId = 0x72787a74n, timestamp = Date.now(), signingKeys, libraryPath } = options;
  if (!Array.isArray(roots) || roots.length < 1 || roots.length > 16) {
    throw new InvalidArgumentError("roots", "must be an array of 1 to 16 root definitions", roots);
  }
  roots.forEach((root, i) => {
    if (root === null || typeof root !== "object") throw new InvalidArgumentError(`roots[${i}]`, "must be an object");
    toPublicIdentity(root.identity, `roots[${i}].identity`);
    if (!Array.isArray(root.endpoints) || root.endpoints.length < 1 || root.endpoints.length > 32) {
      throw new InvalidArgumentError(`roots[${i}].endpoints`, "must be an array of 1 to 32 ip/port strings", root.endpoints);
    }
    root.endpoints.forEach((ep, j) => {
      const m = typeof ep === "string" ? /^(.+)\/(\d{1,5})$/.exec(ep) : null;
      if (!m || !parseIp(m[1]) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
        throw new InvalidArgumentError(`roots[${i}].endpoints[${j}]`, 'must be "ip/port" with an IP literal and a port 1-65535', ep);
      }
    });
  });
  if (typeof worldId !== "bigint" || worldId <= 0n || worldId > 0xffffffffffffffffn || worldId === 149604618n) {
    throw new InvalidArgumentError("worldId", "must be a 64-bit bigint > 0, not ZeroTier's planet id 149604618", worldId);
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new InvalidArgumentError("timestamp", "must be a non-negative integer (ms)", timestamp);
  }
  if (signingKeys !== undefined) {
    for (const k of ["previous", "current"] as const) {
      const key = signingKeys?.[k];
      if (!(key instanceof Uint8Array) || key.length !== 128) {
        throw new InvalidArgumentError(`signingKeys.${k}`, "must be the 128-byte key from an earlier root set");
      }
    }
  }
  const result = signRootSet(loadLibrary(libraryPath), roots, worldId, BigInt(timestamp), signingKeys);
  if (typeof result === "number") {
    throw LibztCallError.fromReturn("zts_util_sign_root_set", result, 0, "Check the identities and endpoints.");
  }
  return { bytes: result.rootSet, signingKeys: { previous: result.previousKey, current: result.currentKey } };
}
