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
 * working directory, so rxzt signs in a child process of the same runtime
 * (`deno run --allow-ffi` of rxzt's `rootset_child_deno.ts`, or `node` of the
 * npm package's `rootset_child_node.js`) started in a private scratch
 * directory (0700, deleted afterwards) that holds exactly the keys given. The
 * child opens the same libzt file as this process. This process's working
 * directory never changes: the call is safe beside Workers, Node worker
 * threads (it works on them too) and any code that uses relative paths, and
 * the caller's directory is neither read nor written.
 *
 * The cost is one child process per call, which blocks the calling thread
 * while a runtime starts: measured on a 2-core test machine, 35 to 40 ms a
 * call under Deno and 130 ms under Node (where `node -e 0` alone takes 90 ms
 * there). Create root sets at setup time, not on a hot path. Deno needs
 * `--allow-run=<deno>` (`Deno.execPath()`; a `PermissionError` names it)
 * besides `--allow-write` and `--allow-read` for the temporary directory.
 * When rxzt is imported from a remote URL (JSR), the child's module is remote
 * too: Deno downloads it at the first call and runs it from its cache after
 * that, offline as well. `--allow-run` lets the process start programs with
 * any permissions, so an app that wants a narrow sandbox creates its root set
 * in a separate setup script.
 *
 * @throws {InvalidArgumentError} for a bad definition, before libzt is called.
 * @throws {LibztCallError} when libzt refuses to sign (`zts_util_sign_root_set`).
 * @throws {PermissionError} (Deno) when a permission is missing.
 * @throws {UnavailableError} when the signing process cannot run (e.g. a remote
 * child module that is not cached, offline).
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
