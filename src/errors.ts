/**
 * Typed errors. Every error rxzt throws or rejects with is a
 * {@link ZeroTierError} whose `code` names the problem, so callers can branch
 * on `err.code` (or `instanceof` a subclass) instead of parsing messages.
 *
 * @module
 */
import { ERRNO, RETURN } from "./ffi/codes.ts";

/** A table of names by value, from one of values by name. */
function byValue(table: Readonly<Record<string, number>>): Readonly<Record<number, string>> {
  return Object.fromEntries(Object.entries(table).map(([name, value]) => [value, name]));
}

/** libzt's own return codes (`ZTS_ERR_*`), by value. */
export const ZTS_RETURN_CODES: Readonly<Record<number, string>> = byValue(RETURN);

/** libzt's `zts_errno` values (lwIP's errno numbering), by value. */
export const ZTS_ERRNO_NAMES: Readonly<Record<number, string>> = byValue(ERRNO);

/** Options shared by all rxzt errors. */
export interface ZeroTierErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error rxzt produces.
 *
 * @example
 * ```ts
 * import { ZeroTierError } from "@rxzt/rxzt";
 * try {
 *   await node.join("ff00160016000000");
 * } catch (err) {
 *   if (err instanceof ZeroTierError && err.code === "NETWORK_NOT_FOUND") {
 *     console.log("no such network");
 *   }
 * }
 * ```
 */
export class ZeroTierError extends Error {
  /** A stable, machine-readable name of the problem, e.g. `"NETWORK_NOT_FOUND"`. */
  readonly code: string;
  /** `code` is the stable name, `message` says what happened and what to do. */
  constructor(code: string, message: string, options: ZeroTierErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * No libzt shared library was found, or the one found could not be loaded.
 * `searched` lists every path that was tried, in order.
 *
 * @example
 * ```ts
 * import { LibraryNotFoundError, loadLibzt } from "@rxzt/rxzt";
 * try {
 *   loadLibzt();
 * } catch (err) {
 *   if (err instanceof LibraryNotFoundError) console.error(err.searched);
 * }
 * ```
 */
export class LibraryNotFoundError extends ZeroTierError {
  /** Every path that was tried, in order. */
  readonly searched: readonly string[];
  /** `searched` lists the paths tried; `message` says how to install libzt. */
  constructor(searched: readonly string[], message: string, options?: ZeroTierErrorOptions) {
    super("LIBZT_NOT_FOUND", message, options);
    this.searched = searched;
  }
}

/**
 * A library was loaded but is not a usable libzt: it lacks symbols rxzt needs
 * (`code` `"LIBZT_MISSING_SYMBOLS"`) or failed to load (`"LIBZT_LOAD_FAILED"`).
 *
 * @example
 * ```ts
 * import { LibraryLoadError } from "@rxzt/rxzt";
 * const err = new LibraryLoadError("LIBZT_MISSING_SYMBOLS", "/x/libzt.so", "lacks zts_node_start", ["zts_node_start"]);
 * console.log(err.missing);
 * ```
 */
export class LibraryLoadError extends ZeroTierError {
  /** Path of the library that was rejected. */
  readonly path: string;
  /** Symbols the library lacks (empty when the load itself failed). */
  readonly missing: readonly string[];
  /** Prefer {@link LibraryLoadError.loadFailed} and {@link LibraryLoadError.missingSymbols}. */
  constructor(
    code: "LIBZT_MISSING_SYMBOLS" | "LIBZT_LOAD_FAILED",
    path: string,
    message: string,
    missing: readonly string[] = [],
    options?: ZeroTierErrorOptions,
  ) {
    super(code, message, options);
    this.path = path;
    this.missing = missing;
  }

  /** `path` exists but is not a loadable shared library (`LIBZT_LOAD_FAILED`). */
  static loadFailed(path: string, cause: unknown): LibraryLoadError {
    return new LibraryLoadError(
      "LIBZT_LOAD_FAILED",
      path,
      `Could not load ${path} as a shared library: ${
        (cause as Error)?.message ?? String(cause)
      }. ` +
        "Check that it is libzt built for this platform and architecture.",
      [],
      { cause },
    );
  }

  /**
   * `path` loaded but lacks symbols rxzt needs (`LIBZT_MISSING_SYMBOLS`). A
   * library without the `zts_bsd_*` socket API is an older libzt (such as
   * homebrew-core's 1.4), and the message says so.
   */
  static missingSymbols(path: string, missing: readonly string[]): LibraryLoadError {
    const install = "Install libzt 1.8 or newer (the libzt formula of ZeroTier's Homebrew tap, " +
      "zerotier/tap, or a build made by following https://github.com/zerotier/libzt) and point " +
      "LIBZT_PATH at it.";
    const tooOld = missing.some((name) => name.startsWith("zts_bsd_"));
    const message = tooOld
      ? `${path} is a libzt too old for rxzt, which needs libzt 1.8 or newer: it lacks the ` +
        "zts_bsd_* socket API (homebrew-core's `libzt` formula is libzt 1.4, which has none). " +
        `Missing: ${missing.join(", ")}. ${install}`
      : `${path} is not a usable libzt 1.8: it lacks ${missing.join(", ")}. ${install}`;
    return new LibraryLoadError("LIBZT_MISSING_SYMBOLS", path, message, missing);
  }
}

/**
 * A libzt call failed. `code` is the libzt return code name (`ZTS_ERR_SERVICE`,
 * `ZTS_ERR_ARG`, ...) or, for socket calls, the errno name (`ECONNREFUSED`, ...).
 *
 * @example
 * ```ts
 * import { LibztCallError } from "@rxzt/rxzt";
 * const err = LibztCallError.fromReturn("zts_net_join", -2);
 * console.log(err.code, err.returnCode); // "ZTS_ERR_SERVICE" -2
 * ```
 */
export class LibztCallError extends ZeroTierError {
  /** The libzt function that failed. */
  readonly function: string;
  /** Its return value. */
  readonly returnCode: number;
  /** `zts_errno` after the call, when meaningful (socket calls), else 0. */
  readonly errno: number;

  /**
   * `fn` is the libzt function, `returnCode` what it returned, `errno` the
   * socket error (0 if none), `hint` a sentence on what to do.
   */
  constructor(
    fn: string,
    returnCode: number,
    errno = 0,
    hint = "",
    options?: ZeroTierErrorOptions,
  ) {
    const retName = ZTS_RETURN_CODES[returnCode] ?? `return value ${returnCode}`;
    const errnoName = errno ? ZTS_ERRNO_NAMES[errno] ?? `errno ${errno}` : "";
    const code = errnoName && !errnoName.startsWith("errno ") ? errnoName : retName;
    super(
      code,
      `${fn} failed: ${retName}${errnoName ? ` (${errnoName})` : ""}${hint ? `. ${hint}` : ""}`,
      options,
    );
    this.function = fn;
    this.returnCode = returnCode;
    this.errno = errno;
  }

  /** An error for a libzt call that returned `rc`. */
  static fromReturn(fn: string, rc: number, errno = 0, hint = ""): LibztCallError {
    return new LibztCallError(fn, rc, errno, hint);
  }
}

/**
 * An argument failed validation before reaching libzt. `argument` names it,
 * and the message states the rule it broke.
 *
 * @example
 * ```ts
 * import { InvalidArgumentError } from "@rxzt/rxzt";
 * const err = new InvalidArgumentError("port", "must be an integer from 0 to 65535", 70000);
 * console.log(err.code, err.argument); // "EINVAL" "port"
 * ```
 */
export class InvalidArgumentError extends ZeroTierError {
  /** Name of the offending argument or option. */
  readonly argument: string;
  /**
   * `received` is described briefly in the message (never in full, and a
   * value that looks like a secret identity is redacted); describing it
   * never throws, whatever it is (a Proxy, a revoked Proxy, a throwing getter).
   */
  constructor(argument: string, rule: string, received?: unknown, options?: ZeroTierErrorOptions) {
    super(
      "EINVAL",
      `Invalid ${argument}: ${rule}${
        received === undefined ? "" : ` (received ${describe(received)})`
      }`,
      options,
    );
    this.argument = argument;
  }
}

/**
 * An operation does not fit the node's lifecycle: `NODE_ALREADY_RUNNING`
 * (one libzt node per process), `NODE_STOPPED` (used after `stop()`),
 * `NODE_NOT_RESTARTABLE` (libzt cannot restart in one process).
 *
 * @example
 * ```ts
 * import { NodeStateError } from "@rxzt/rxzt";
 * const err = new NodeStateError("NODE_STOPPED", "the node was stopped");
 * console.log(err.code);
 * ```
 */
export class NodeStateError extends ZeroTierError {}

/**
 * A network reached a terminal state that is not "ready": `code` is one of
 * `NETWORK_NOT_FOUND`, `NETWORK_ACCESS_DENIED`, `NETWORK_CLIENT_TOO_OLD`,
 * `NETWORK_PORT_ERROR`, `NETWORK_DOWN`.
 *
 * @example
 * ```ts
 * import { NetworkError } from "@rxzt/rxzt";
 * const err = new NetworkError("NETWORK_NOT_FOUND", "ff00160016000000", "the controller does not know it");
 * console.log(err.networkId);
 * ```
 */
export class NetworkError extends ZeroTierError {
  /** The network, as 16 hex digits. */
  readonly networkId: string;
  /** `code` names the outcome (`NETWORK_NOT_FOUND`, ...), `detail` explains it. */
  constructor(code: string, networkId: string, detail: string) {
    super(code, `Network ${networkId}: ${detail}`);
    this.networkId = networkId;
  }
}

/**
 * A connection was failed because ZeroTier had no way to its peer for longer
 * than the node's `peerUnreachableTimeout` (code `PEER_UNREACHABLE`): the peer
 * had no direct path and this node reached no root. Reads and writes of the
 * connection reject with it.
 *
 * @example
 * ```ts
 * import { PeerUnreachableError } from "@rxzt/rxzt";
 * const err = new PeerUnreachableError("89e92ceee5", 30_000);
 * console.log(err.code, err.peerId, err.unreachableMs);
 * ```
 */
export class PeerUnreachableError extends ZeroTierError {
  /** The peer's node id (10 hex digits). */
  readonly peerId: string;
  /** How long the peer had been unreachable, in milliseconds. */
  readonly unreachableMs: number;
  /** `peerId`: the peer; `unreachableMs`: how long it had been unreachable. */
  constructor(peerId: string, unreachableMs: number) {
    super(
      "PEER_UNREACHABLE",
      `Peer ${peerId} has been unreachable for ${Math.round(unreachableMs)} ms (no direct path ` +
        "and no root reachable), so its connection was failed; dial again once peer$ reports it " +
        "DIRECT or RELAY, or raise peerUnreachableTimeout.",
    );
    this.peerId = peerId;
    this.unreachableMs = unreachableMs;
  }
}

/**
 * The socket was closed (by `close()`, `node.stop()` or the peer) while an
 * operation was pending or after it (code `SOCKET_CLOSED`).
 *
 * @example
 * ```ts
 * import { SocketClosedError } from "@rxzt/rxzt";
 * console.log(new SocketClosedError("read").code); // "SOCKET_CLOSED"
 * ```
 */
export class SocketClosedError extends ZeroTierError {
  /** `what` names the operation that failed (`"read"`, `"write"`, ...). */
  constructor(what: string) {
    super("SOCKET_CLOSED", `Cannot ${what}: the socket is closed.`);
  }
}

/**
 * An operation did not complete within its `timeout` (code `ETIMEDOUT`).
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@rxzt/rxzt";
 * const err = new TimeoutError("join ff00160016000000", 10_000);
 * console.log(err.code, err.timeoutMs);
 * ```
 */
export class TimeoutError extends ZeroTierError {
  /** The limit that was exceeded, in milliseconds. */
  readonly timeoutMs: number;
  /** `what` names the operation that timed out, `timeoutMs` its limit. */
  constructor(what: string, timeoutMs: number) {
    super("ETIMEDOUT", `${what} did not complete within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The runtime refused something rxzt needs for lack of a permission (code
 * `PERMISSION_DENIED`): under Deno, reading `LIBZT_PATH` without `--allow-env`,
 * looking for libzt without `--allow-read`, loading it without `--allow-ffi`.
 * `permissions` names the flags to add.
 *
 * @example
 * ```ts
 * import { loadLibzt, PermissionError } from "@rxzt/rxzt";
 * try {
 *   loadLibzt();
 * } catch (err) {
 *   if (err instanceof PermissionError) console.error(`run with ${err.permissions.join(" ")}`);
 * }
 * ```
 */
export class PermissionError extends ZeroTierError {
  /** The runtime flags that grant what was refused, e.g. `["--allow-env=LIBZT_PATH"]`. */
  readonly permissions: readonly string[];
  /** `permissions` are the flags to add; `message` says what was refused and why it is needed. */
  constructor(permissions: readonly string[], message: string, options?: ZeroTierErrorOptions) {
    super("PERMISSION_DENIED", message, options);
    this.permissions = permissions;
  }
}

/**
 * Something rxzt needs is not available in this libzt build or platform
 * (code `UNAVAILABLE`), e.g. statistics in a build without `LWIP_STATS`.
 *
 * @example
 * ```ts
 * import { UnavailableError } from "@rxzt/rxzt";
 * console.log(new UnavailableError("stats", "build libzt with stats").code);
 * ```
 */
export class UnavailableError extends ZeroTierError {
  /** `what` names the unavailable feature, `hint` says what to do about it. */
  constructor(what: string, hint: string) {
    super("UNAVAILABLE", `${what} is unavailable: ${hint}`);
  }
}

/**
 * `node.fetch()` was given a URL whose scheme it cannot serve over ZeroTier
 * (code `UNSUPPORTED_PROTOCOL`): only `http:` is supported. `https:` is not
 * yet: `node:tls` runs over an rxzt socket in both runtimes
 * (`tls.connect({ socket: dialNodeSocket(...) })`), but `fetch`'s options
 * have no way to name the CA or certificate a peer's ZeroTier IP address
 * would be checked against. ZeroTier already encrypts and authenticates
 * every packet between peers; use `http://` to the peer's ZeroTier address,
 * or `node:https` with your own `createConnection` for end-to-end TLS.
 *
 * @example
 * ```ts
 * import { UnsupportedProtocolError } from "@rxzt/rxzt";
 * const err = new UnsupportedProtocolError("https:", "https://10.1.2.3/");
 * console.log(err.code, err.protocol); // "UNSUPPORTED_PROTOCOL" "https:"
 * ```
 */
export class UnsupportedProtocolError extends ZeroTierError {
  /** The scheme that was refused, with its colon (`"https:"`). */
  readonly protocol: string;
  /** `protocol` is the URL's scheme, `url` the URL asked for (named in the message). */
  constructor(protocol: string, url: string) {
    super(
      "UNSUPPORTED_PROTOCOL",
      protocol === "https:"
        ? `node.fetch(${url}): https: is not supported over ZeroTier yet. ZeroTier encrypts ` +
          "and authenticates traffic between peers already: use http:// with the peer's " +
          "ZeroTier address (or node:https with createConnection over dialNodeSocket for " +
          "end-to-end TLS)."
        : `node.fetch(${url}): only http: URLs can be fetched over ZeroTier, not ${protocol}`,
    );
    this.protocol = protocol;
  }
}

/**
 * `err` as an `Error`: itself when it is one, else an `Error` whose message is
 * its text (for APIs such as `stream.destroy()` that take only errors).
 *
 * @example
 * ```ts
 * asError("gone").message; // "gone"
 * ```
 */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

// 128 hex digits after "nodeId:0:" and a colon: the secret half of an identity follows.
const SECRET_IDENTITY_LIKE = /[0-9a-fA-F]{10}:0:[0-9a-fA-F]{128}:/;

/**
 * A short description of a value for an error message. Never throws, never echoes a secret.
 *
 * @example
 * ```ts
 * describe(new Map()); // "a Map"
 * describe("x".repeat(100)); // the first 40 characters, quoted
 * ```
 */
export function describe(value: unknown): string {
  try {
    if (typeof value === "string") {
      if (SECRET_IDENTITY_LIKE.test(value)) return "a secret identity (redacted)";
      return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
    }
    if (typeof value === "bigint") {
      return value.toString(16).length > 40 ? "a bigint of over 160 bits" : `${value}n`;
    }
    if (typeof value === "symbol") return "a symbol";
    if (typeof value === "function") return "a function";
    if (value === null || typeof value !== "object") return String(value);
    if (Array.isArray(value)) return "an array";
    // Own data properties only: a getter or Proxy trap must not run from an error message.
    const proto = Object.getPrototypeOf(value);
    const ctor = proto === null
      ? undefined
      : Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
    const name = typeof ctor === "function"
      ? Object.getOwnPropertyDescriptor(ctor, "name")?.value
      : undefined;
    return typeof name === "string" && name !== "" ? `a ${name.slice(0, 40)}` : "an object";
  } catch {
    return "an unreadable value";
  }
}
