/**
 * Custom root sets ("planets"): a private ZeroTier universe whose roots are
 * your own nodes, e.g. for an offline or self-hosted deployment.
 *
 * @module
 */
import { InvalidArgumentError, LibztCallError } from "./errors.ts";
import { signRootSet } from "./ffi/rootset.ts";
import { loadLibrary } from "./ffi/runtime.ts";
import { parseIp } from "./ip.ts";
import { redactedBytes, redactInspection } from "./redact.ts";
import { isInstance, readArray, readOptions, toCString, toPublicIdentity } from "./validate.ts";

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
  /**
   * World id (any 64-bit value except ZeroTier's own planet's). Default: 0x7278_7a74 ("rxzt").
   *
   * @default {0x7278_7a74n}
   */
  worldId?: bigint;
  /**
   * Timestamp in ms; a newer root set replaces an older one with the same id. Default: `Date.now()`.
   *
   * @default {Date.now()}
   */
  timestamp?: number;
  /**
   * Signing keys of an earlier root set (its `signingKeys`), to publish an
   * update the nodes will accept. Default: a new key pair.
   *
   * @default {undefined}
   */
  signingKeys?: { previous: Uint8Array; current: Uint8Array };
  /**
   * Path of libzt. Default: the `LIBZT_PATH` environment variable, then the
   * usual install locations (see the README's Install section).
   *
   * @default {undefined}
   */
  libraryPath?: string;
}

/** A signed root set, and the keys to sign its successors with. */
export interface RootSet {
  /** Pass to `ZeroTierNode.start({ roots })`. */
  readonly bytes: Uint8Array;
  /**
   * Keep these private (owner-only storage) to sign updates. Printing or
   * `JSON.stringify` shows them redacted; read `previous` / `current` to store them.
   */
  readonly signingKeys: { readonly previous: Uint8Array; readonly current: Uint8Array };
}

/**
 * Creates and signs a root set with `zts_util_sign_root_set`. libzt reads and
 * writes the signing keys (`previous.c25519`, `current.c25519`) in the
 * working directory, so the call switches the process's working directory to
 * a private scratch directory for its duration (a few ms) and then restores
 * it: the caller's directory is neither read nor written, but other threads
 * (Workers, libzt's, Node's threadpool) that use relative paths meanwhile see
 * the scratch directory. Call it at startup, not while such work runs. Under
 * Node it works only on the main thread (a worker thread cannot change the
 * working directory: `UnavailableError`). Deno needs `--allow-write` and
 * `--allow-read` for the temporary directory.
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
  if (options === undefined) {
    throw new InvalidArgumentError("options", "must be an object with roots");
  }
  const o = readOptions(options, "options", [
    "roots",
    "worldId",
    "timestamp",
    "signingKeys",
    "libraryPath",
  ]);
  const roots: RootDefinition[] = readArray(o.roots, "roots", 1, 16, "root definitions").map(
    (root, i) => {
      if (root === undefined) {
        throw new InvalidArgumentError(`roots[${i}]`, "must be an object { identity, endpoints }");
      }
      const r = readOptions(root, `roots[${i}]`, ["identity", "endpoints"], `roots[${i}].`);
      const identity = toPublicIdentity(r.identity, `roots[${i}].identity`);
      const endpoints = readArray(r.endpoints, `roots[${i}].endpoints`, 1, 32, "ip/port strings")
        .map((ep, j) => {
          const m = typeof ep === "string" && ep.length <= 64
            ? /^([0-9a-fA-F.:]+)\/(\d{1,5})$/.exec(ep)
            : null;
          if (!m || !parseIp(m[1]) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
            throw new InvalidArgumentError(
              `roots[${i}].endpoints[${j}]`,
              'must be "ip/port" with an IP literal (no brackets or zone) and a port 1-65535',
              ep,
            );
          }
          return ep as string;
        });
      return { identity, endpoints };
    },
  );
  const worldId = o.worldId ?? 0x72787a74n;
  if (
    typeof worldId !== "bigint" || worldId <= 0n || worldId > 0xffffffffffffffffn ||
    worldId === 149604618n
  ) {
    throw new InvalidArgumentError(
      "worldId",
      "must be a 64-bit bigint > 0, not ZeroTier's planet id 149604618",
      worldId,
    );
  }
  const timestamp = o.timestamp ?? Date.now();
  if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new InvalidArgumentError("timestamp", "must be a non-negative integer (ms)", timestamp);
  }
  let signingKeys: { previous: Uint8Array; current: Uint8Array } | undefined;
  if (o.signingKeys !== undefined) {
    const k = readOptions(o.signingKeys, "signingKeys", ["previous", "current"], "signingKeys.");
    const key = (name: "previous" | "current") => {
      const v = k[name];
      if (!isInstance(v, Uint8Array) || v.length !== 128) {
        throw new InvalidArgumentError(
          `signingKeys.${name}`,
          "must be the 128-byte key from an earlier root set",
        );
      }
      return new Uint8Array(v);
    };
    signingKeys = { previous: key("previous"), current: key("current") };
  }
  const libraryPath = o.libraryPath === undefined
    ? undefined
    : toCString(o.libraryPath, "libraryPath");
  const result = signRootSet(
    loadLibrary(libraryPath),
    roots,
    worldId,
    BigInt(timestamp),
    signingKeys,
  );
  if (typeof result === "number") {
    throw LibztCallError.fromReturn(
      "zts_util_sign_root_set",
      result,
      0,
      "Check the identities and endpoints.",
    );
  }
  // The signing keys are private: readable, but redacted when printed or serialised.
  const keys = { previous: result.previousKey, current: result.currentKey };
  redactInspection(
    keys,
    () => ({ previous: redactedBytes(keys.previous), current: redactedBytes(keys.current) }),
  );
  return { bytes: result.rootSet, signingKeys: keys };
}
