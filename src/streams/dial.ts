/**
 * `connect` and `listen`: argument checks, waiting for the address family to
 * be ready, and the retries ZeroTier's link setup needs.
 *
 * @module
 */
import { delay } from "../delay.ts";
import { InvalidArgumentError, LibztCallError, TimeoutError } from "../errors.ts";
import { ERRNO } from "../ffi/codes.ts";
import { encodeSockaddr } from "../ffi/sockaddr.ts";
import { SOCK, SocketCalls } from "../ffi/sockets.ts";
import {
  readOptions,
  toDestination,
  toInteger,
  toIpAddress,
  toPort,
  toSignal,
  toTimeout,
} from "../validate.ts";
import type { SocketHost } from "./host.ts";
import { giveConnectSlot, takeConnectSlot } from "./connect_slots.ts";
import { openTcpConn, type TcpConn } from "./tcp.ts";
import { openTcpListener, type TcpListener } from "./tcp_listener.ts";
import {
  DEFAULT_READ_BUFFER_SIZE,
  MAX_READ_BUFFER_SIZE,
  MIN_READ_BUFFER_SIZE,
} from "./receive_ring.ts";

/** Options of `node.connect()`, like `Deno.connect`. */
export interface ConnectOptions {
  /** The peer's IP address on a ZeroTier network (ZeroTier has no DNS). */
  hostname: string;
  /** The peer's port. */
  port: number;
  /**
   * Give up after this many milliseconds (`TimeoutError`). Default: 30000.
   *
   * @default {30000}
   */
  timeout?: number;
  /**
   * Abort the attempt (rejects with the signal's reason). Default: none.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Bytes the node's I/O thread may read ahead of the app on this
   * connection (64 KiB to 256 MiB). Default: 2 MiB (`DEFAULT_READ_BUFFER_SIZE`).
   *
   * @default {2097152}
   */
  readBufferSize?: number;
}

/** Options of `node.listen()`, like `Deno.listen`. */
export interface ListenOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /**
   * Local address to bind. Default: `"::"` (IPv6 and IPv4).
   *
   * @default {"::"}
   */
  hostname?: string;
  /**
   * Pending-connection queue length. Default: 128.
   *
   * @default {128}
   */
  backlog?: number;
  /**
   * `readBufferSize` of every accepted connection (see {@link ConnectOptions}). Default: 2 MiB.
   *
   * @default {2097152}
   */
  readBufferSize?: number;
}

const DEFAULT_CONNECT_TIMEOUT = 30_000;
// Errors that mean "the path is not there yet" while ZeroTier sets it up.
const RETRYABLE = new Set<number>([
  ERRNO.ENETUNREACH,
  ERRNO.EHOSTUNREACH,
  ERRNO.ETIMEDOUT,
  ERRNO.ECONNABORTED,
]);

/** The keys of {@link ConnectOptions}. */
export const CONNECT_KEYS = ["hostname", "port", "timeout", "signal", "readBufferSize"] as const;

function toReadBufferSize(value: unknown): number {
  return toInteger(
    value ?? DEFAULT_READ_BUFFER_SIZE,
    "readBufferSize",
    MIN_READ_BUFFER_SIZE,
    MAX_READ_BUFFER_SIZE,
  );
}

/**
 * Checks connect options (see {@link ConnectOptions}) and returns a checked copy.
 *
 * @example
 * ```ts
 * validateConnectOptions({ hostname: "10.1.2.3", port: 7000 }).family; // "IPv4"
 * ```
 */
export function validateConnectOptions(options: unknown): {
  hostname: string;
  port: number;
  timeout: number;
  userSignal: AbortSignal | undefined;
  family: "IPv4" | "IPv6";
  readBufferSize: number;
} {
  if (options === undefined) {
    throw new InvalidArgumentError("options", "must be an object with hostname and port");
  }
  const o = readOptions(options, "options", CONNECT_KEYS);
  const { hostname, family } = toDestination(o.hostname, "hostname");
  const port = toPort(o.port, "port", false);
  const timeout = toTimeout(o.timeout) ?? DEFAULT_CONNECT_TIMEOUT;
  const userSignal = toSignal(o.signal);
  const readBufferSize = toReadBufferSize(o.readBufferSize);
  return { hostname, port, timeout, userSignal, family, readBufferSize };
}

/** Connects to a TCP peer. */
export async function connectTcp(host: SocketHost, options: ConnectOptions): Promise<TcpConn> {
  const { hostname, port, timeout, userSignal, family, readBufferSize } = validateConnectOptions(
    options,
  );
  const addr = encodeSockaddr(hostname, port)!;
  const deadlineController = new AbortController();
  const deadline = deadlineController.signal;
  const timer = setTimeout(() => deadlineController.abort(), timeout);
  const signal = AbortSignal.any(
    userSignal ? [userSignal, deadline, host.stopped] : [deadline, host.stopped],
  );
  const what = `connect to ${hostname}:${port}`;
  const rethrow = (err: unknown): never => {
    if (host.stopped.aborted) throw host.stopped.reason;
    if (deadline.aborted && !userSignal?.aborted) throw new TimeoutError(what, timeout);
    throw err;
  };
  let slot = false;
  try {
    await host.familyReady(family, signal).catch(rethrow);
    await takeConnectSlot(host, signal).catch(rethrow);
    slot = true;
    for (let attempt = 0;; attempt++) {
      if (host.stopped.aborted) throw host.stopped.reason;
      const fd = host.calls.open(family, SOCK.STREAM);
      if (!fd.ok) {
        SocketCalls.fail("zts_bsd_socket", fd, "Too many open sockets? (libzt allows about 1024)");
      }
      const failed = (errno: number) => {
        host.calls.close(fd.value);
        return errno;
      };
      let errno = 0;
      // libzt makes the last-joined network lwIP's default interface, and 6PLANE peers share
      // only 40 bits (lwIP assumes /64), so IPv6 would leave through the wrong network. lwIP
      // routes by source address first: bind to our address on the destination's network.
      const source = host.sourceAddressFor(hostname);
      if (source !== undefined) {
        const bound = host.calls.bind(fd.value, encodeSockaddr(source, 0)!);
        if (!bound.ok) {
          host.calls.close(fd.value);
          SocketCalls.fail(
            "zts_bsd_bind",
            bound,
            `binding to ${source}, this node's address on the peer's network`,
          );
        }
      }
      const started = host.calls.connect(fd.value, addr);
      if (started.ok || started.errno === ERRNO.EISCONN) {
        return openTcpConn(host, fd.value, undefined, readBufferSize);
      }
      if (started.errno !== ERRNO.EINPROGRESS && started.errno !== ERRNO.EALREADY) {
        errno = failed(started.errno);
      } else {
        try {
          await host.poller.wait(fd.value, SOCK.POLLOUT, signal);
        } catch (err) {
          host.poller.release(fd.value, () => host.calls.close(fd.value));
          rethrow(err);
        }
        const so = host.calls.getInt(fd.value, SOCK.SOL_SOCKET, SOCK.SO_ERROR);
        if (so.ok && so.value === 0) return openTcpConn(host, fd.value, undefined, readBufferSize);
        errno = failed(so.ok ? so.value : so.errno);
      }
      // lwIP reports the reset that answers a SYN as ECONNRESET; to the caller it is a
      // refusal, as with the platform's own sockets.
      if (errno === ERRNO.ECONNRESET) {
        throw LibztCallError.fromReturn(
          "zts_bsd_connect",
          -1,
          ERRNO.ECONNREFUSED,
          `nothing listens at ${hostname}:${port}`,
        );
      }
      if (!RETRYABLE.has(errno)) {
        throw LibztCallError.fromReturn("zts_bsd_connect", -1, errno, `while trying to ${what}`);
      }
      // ZeroTier may still be setting up the path to the peer: try again shortly.
      await delay(Math.min(1000, 100 * 2 ** attempt), { signal }).catch(rethrow);
    }
  } finally {
    if (slot) giveConnectSlot(host);
    // The deadline's timer must not outlive the attempt (10,000 connects would keep 10,000 timers).
    clearTimeout(timer);
  }
}

/** Starts listening for TCP connections. */
export function listenTcp(host: SocketHost, options: ListenOptions): TcpListener {
  if (options === undefined) {
    throw new InvalidArgumentError("options", "must be an object with port");
  }
  const o = readOptions(options, "options", ["port", "hostname", "backlog", "readBufferSize"]);
  const port = toPort(o.port, "port");
  const { hostname, family } = toIpAddress(
    o.hostname ?? "::",
    "hostname",
    "must be a local IPv4 or IPv6 address, or :: / 0.0.0.0 for any",
  );
  const backlog = toInteger(o.backlog ?? 128, "backlog", 1, 1024);
  const readBufferSize = toReadBufferSize(o.readBufferSize);
  const fd = host.calls.open(family, SOCK.STREAM);
  if (!fd.ok) {
    SocketCalls.fail("zts_bsd_socket", fd, "Too many open sockets? (libzt allows about 1024)");
  }
  const steps: [string, () => ReturnType<SocketCalls["bind"]>][] = [
    [
      "zts_bsd_setsockopt",
      () => host.calls.setInt(fd.value, SOCK.SOL_SOCKET, SOCK.SO_REUSEADDR, 1),
    ],
    ["zts_bsd_bind", () => host.calls.bind(fd.value, encodeSockaddr(hostname, port)!)],
    ["zts_bsd_listen", () => host.calls.listen(fd.value, backlog)],
  ];
  for (const [name, step] of steps) {
    const r = step();
    if (!r.ok) {
      host.calls.close(fd.value);
      SocketCalls.fail(name, r, name === "zts_bsd_bind" ? `Is port ${port} already in use?` : "");
    }
  }
  return openTcpListener(host, fd.value, readBufferSize);
}
