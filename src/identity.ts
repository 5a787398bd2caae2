/**
 * Identity helpers: create a ZeroTier identity, check one, take its public
 * part. They need libzt loaded but not a running node.
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.ts";
import { identityIsValid, newIdentity } from "./ffi/calls.ts";
import { loadLibrary } from "./ffi/runtime.ts";
import {
  PUBLIC_IDENTITY,
  readOptions,
  SECRET_IDENTITY,
  toCString,
  toSecretIdentity,
} from "./validate.ts";

/** Options of the identity helpers. */
export interface IdentityOptions {
  /**
   * Path of libzt. Default: the `LIBZT_PATH` environment variable, then the
   * usual install locations (see the README's Install section).
   *
   * @default {undefined}
   */
  libraryPath?: string;
}

/**
 * Generates a new secret identity (`nodeId:0:public:secret`). Keep it like a
 * private key; pass it to `ZeroTierNode.start({ identity })`.
 *
 * @example
 * ```ts
 * import { generateIdentity, identityNodeId } from "@rxzt/rxzt";
 * const secret = generateIdentity();
 * console.log("node id will be", identityNodeId(secret));
 * ```
 */
export function generateIdentity(options: IdentityOptions = {}): string {
  return newIdentity(loadLibrary(libraryPathOf(options)));
}

/**
 * Whether `identity` is a well-formed secret identity whose address matches
 * its public key (libzt's check; it does not verify the secret half).
 *
 * @example
 * ```ts
 * import { generateIdentity, isValidIdentity } from "@rxzt/rxzt";
 * isValidIdentity(generateIdentity()); // true
 * isValidIdentity("nope"); // false
 * ```
 */
export function isValidIdentity(identity: string, options: IdentityOptions = {}): boolean {
  const libraryPath = libraryPathOf(options);
  if (typeof identity !== "string" || !SECRET_IDENTITY.test(identity)) return false;
  return identityIsValid(loadLibrary(libraryPath), identity);
}

/**
 * Checks {@link IdentityOptions} and returns the library path, if any.
 *
 * @example
 * ```ts
 * libraryPathOf({ libraryPath: "/usr/local/lib/libzt.so" }); // "/usr/local/lib/libzt.so"
 * ```
 */
export function libraryPathOf(options: unknown): string | undefined {
  const o = readOptions(options, "options", ["libraryPath"]);
  return o.libraryPath === undefined ? undefined : toCString(o.libraryPath, "libraryPath");
}

/**
 * The public part (`nodeId:0:public`) of a secret identity, safe to share;
 * root sets are made from it.
 *
 * @example
 * ```ts
 * import { generateIdentity, publicIdentity } from "@rxzt/rxzt";
 * publicIdentity(generateIdentity()).split(":").length; // 3
 * ```
 */
export function publicIdentity(identity: string): string {
  const [, nodeId, publicKey] = SECRET_IDENTITY.exec(toSecretIdentity(identity))!;
  return `${nodeId}:0:${publicKey}`;
}

/**
 * The node id (10 hex digits) of an identity, secret or public.
 *
 * @example
 * ```ts
 * import { identityNodeId } from "@rxzt/rxzt";
 * identityNodeId("89e92ceee5:0:" + "0".repeat(128)); // "89e92ceee5"
 * ```
 */
export function identityNodeId(identity: string): string {
  const m = typeof identity === "string"
    ? (SECRET_IDENTITY.exec(identity) ?? PUBLIC_IDENTITY.exec(identity))
    : null;
  if (!m) {
    throw new InvalidArgumentError("identity", "must be an identity nodeId:0:public[:secret]");
  }
  return m[1];
}
