/**
 * The ways to a {@link ZeroTierSocket}: wrapping a connection
 * ({@link toNodeSocket}) or dialing one ({@link dialNodeSocket}).
 *
 * @module
 */
import { InvalidArgumentError, ZeroTierError } from "../errors.ts";
import { isInstance, readOptions, toBool, toInteger } from "../validate.ts";
import { CONNECT_KEYS, type ConnectOptions } from "./dial.ts";
import {
  isConn,
  newNodeSocket,
  type NodeSocketOptions,
  type ZeroTierSocket,
} from "./node_socket.ts";
import type { TcpConn } from "./tcp.ts";

/** The keys of {@link NodeSocketOptions}. */
const SOCKET_OPTION_KEYS = ["allowHalfOpen", "highWaterMark"] as const;

/** What {@link dialNodeSocket} needs of a node: its `connect` (a `ZeroTierNode` has it). */
export interface NodeSocketDialer {
  /** Opens a TCP connection, as `ZeroTierNode.connect`. */
  connect(options: ConnectOptions): Promise<TcpConn>;
}

function socketOptions(options: unknown, name: string): NodeSocketOptions {
  const o = readOptions(options, name, SOCKET_OPTION_KEYS);
  return {
    allowHalfOpen: toBool(o.allowHalfOpen, `${name}.allowHalfOpen`),
    highWaterMark: o.highWaterMark === undefined
      ? undefined
      : toInteger(o.highWaterMark, `${name}.highWaterMark`, 1, 2 ** 31 - 1),
  };
}

/**
 * Wraps a connection as a `net.Socket`-like `Duplex` ({@link ZeroTierSocket})
 * for `node:http` and other socket-based libraries. The socket takes over
 * the connection: it reads its `readable` and writes its `writable` (so
 * neither may be locked yet), and destroying the socket closes the
 * connection.
 *
 * On the server side, hand each accepted connection to an `http.Server`
 * with `server.emit("connection", toNodeSocket(conn))`. Deno 2.9's
 * `http.Server` closes such a connection after each response unless the
 * server reports `listening` (a Node server keeps it alive); see the
 * example for a server that keeps connections alive in both runtimes.
 *
 * @example
 * ```ts ignore
 * import http from "node:http";
 * import { toNodeSocket } from "@rxzt/rxzt";
 *
 * const server = http.createServer((req, res) => res.end(`hello ${req.socket.remoteAddress}`));
 * // Deno: without this an http.Server that never listen()ed closes kept-alive connections.
 * Object.defineProperty(server, "listening", { get: () => true });
 * for await (const conn of node.listen({ port: 80 })) server.emit("connection", toNodeSocket(conn));
 * ```
 */
export function toNodeSocket(conn: TcpConn, options: NodeSocketOptions = {}): ZeroTierSocket {
  if (!isConn(conn)) {
    throw new InvalidArgumentError(
      "conn",
      "must be a TcpConn (from node.connect() or a listener)",
      conn,
    );
  }
  const o = socketOptions(options, "options");
  if (conn.readable.locked || conn.writable.locked) {
    throw new ZeroTierError(
      "STREAM_LOCKED",
      "toNodeSocket(): the connection's readable or writable is locked; wrap a connection " +
        "before reading or writing it, and then use only the socket.",
    );
  }
  return newNodeSocket(conn, o);
}

/**
 * A socket that connects through `node.connect(options)` and is returned at
 * once, before the connection exists, as `net.connect()` returns one:
 * `connecting` is true until it has connected (then `'connect'` and
 * `'ready'`), writes made before are sent then, and a failed connect
 * destroys it with the error (an `'error'` event: `TimeoutError`,
 * `ECONNREFUSED`, ...). That is what `http.request`'s and `http.Agent`'s
 * `createConnection` need, which must return a socket synchronously.
 * Destroying it while it connects abandons the attempt.
 *
 * `options` are `node.connect`'s ({@link ConnectOptions}: `hostname` and
 * `port` required, `timeout` default 30 s, `signal`, `readBufferSize`) and
 * {@link NodeSocketOptions}.
 *
 * @example
 * ```ts ignore
 * import http from "node:http";
 * import { dialNodeSocket } from "@rxzt/rxzt";
 *
 * const req = http.request({
 *   host: "10.1.2.3", // for the Host header: ZeroTier has no DNS
 *   path: "/",
 *   createConnection: () => dialNodeSocket(node, { hostname: "10.1.2.3", port: 80 }),
 * }, (res) => res.pipe(process.stdout));
 * req.end();
 * ```
 */
export function dialNodeSocket(
  node: NodeSocketDialer,
  options: ConnectOptions & NodeSocketOptions,
): ZeroTierSocket {
  if (typeof (node as { connect?: unknown } | null)?.connect !== "function") {
    throw new InvalidArgumentError("node", "must be a ZeroTierNode (something with connect)", node);
  }
  const o = readOptions(options, "options", [...CONNECT_KEYS, ...SOCKET_OPTION_KEYS]);
  const socket = socketOptions(
    { allowHalfOpen: o.allowHalfOpen, highWaterMark: o.highWaterMark },
    "options",
  );
  const abort = new AbortController();
  const connect: Record<string, unknown> = {};
  for (const key of CONNECT_KEYS) if (o[key] !== undefined) connect[key] = o[key];
  const user = o.signal as AbortSignal | undefined;
  connect.signal = user === undefined ? abort.signal : anySignal(user, abort.signal);
  // node.connect validates the rest; a bad option rejects and destroys the socket with the error.
  let pending: Promise<TcpConn>;
  try {
    pending = node.connect(connect as unknown as ConnectOptions);
  } catch (err) {
    pending = Promise.reject(err);
  }
  return newNodeSocket(pending, socket, abort);
}

/** An AbortSignal that aborts when either does (a `signal` option that is not one is left to node.connect). */
function anySignal(a: unknown, b: AbortSignal): unknown {
  return isInstance(a, AbortSignal) ? AbortSignal.any([a, b]) : a;
}
