/**
 * `node.serve()`: an HTTP server over ZeroTier shaped like `Deno.serve`, for
 * any fetch-style handler (`(request) => Response`, a Hono app's `app.fetch`,
 * ...). It runs `node:http`'s server (present in Node and Deno, well kept,
 * no parser of rxzt's own) over rxzt connections ({@link toNodeSocket}).
 *
 * @module
 */
import http from "node:http";
import { nodeIdOfAddress } from "../addressing.ts";
import { delay } from "../delay.ts";
import { InvalidArgumentError, NodeStateError, SocketClosedError } from "../errors.ts";
import { readOptions, toInteger, toPort, toSignal } from "../validate.ts";
import type { ListenOptions } from "../streams/dial.ts";
import type { NetAddr } from "../streams/net_addr.ts";
import type { TcpListener } from "../streams/tcp_listener.ts";
import type { ZeroTierSocket } from "../streams/node_socket.ts";
import { toNodeSocket } from "../streams/node_socket_wrap.ts";
import { toWebRequest, writeWebResponse } from "./messages.ts";

/** Options of `node.serve()`, as `Deno.serve`'s where they apply. */
export interface HttpServeOptions {
  /**
   * The port to listen on; 0 picks a free one (see `server.addr`).
   *
   * @default {8000}
   */
  port?: number;
  /**
   * The local address to listen on: `"::"` takes IPv6 and IPv4.
   *
   * @default {"::"}
   */
  hostname?: string;
  /**
   * Aborting it shuts the server down gracefully, as `server.shutdown()`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Called once the server listens, with its address. Default: nothing
   * (`Deno.serve` logs a line; rxzt does not log).
   *
   * @default {undefined}
   */
  onListen?: (addr: NetAddr) => void;
  /**
   * Makes the response for a handler that threw, rejected or returned
   * something that is not a `Response`. Default: logs the error with
   * `console.error` and answers 500 "Internal Server Error". If `onError`
   * throws too, the answer is that 500.
   *
   * @default {undefined}
   */
  onError?: (error: unknown) => Response | Promise<Response>;
  /**
   * `readBufferSize` of each accepted connection (see `node.listen()`).
   *
   * @default {2097152}
   */
  readBufferSize?: number;
}

/** What a handler learns about a request besides the request itself. */
export interface HttpServeInfo {
  /** The client's address and port (`transport: "tcp"`), as `Deno.ServeHandlerInfo`'s. */
  readonly remoteAddr: NetAddr;
  /**
   * The client's ZeroTier node id (10 hex digits) when its address encodes
   * it on a joined network (6PLANE or RFC 4193; see `nodeIdOfAddress`);
   * undefined for IPv4 and addresses a controller assigned.
   */
  readonly peerId?: string;
  /** Resolves once the response has been handed over or the client went away. */
  readonly completed: Promise<void>;
}

/** A fetch-style request handler: a `Response` or a promise of one. */
export type HttpHandler = (
  request: Request,
  info: HttpServeInfo,
) => Response | Promise<Response>;

/** A running server from `node.serve()`. */
export interface HttpServer extends AsyncDisposable {
  /** The address it listens on. */
  readonly addr: NetAddr;
  /**
   * Resolves once the server has stopped: after `shutdown()` (or the
   * `signal`) and its last connection closed, or when the node stopped.
   */
  readonly finished: Promise<void>;
  /**
   * Graceful shutdown: stops accepting connections, closes idle keep-alive
   * connections at once, lets requests in flight finish (their connections
   * close after the response), and resolves with `finished`.
   */
  shutdown(): Promise<void>;
}

/** What {@link serveHttp} needs of a node. */
export interface HttpServeHost {
  /** `node.listen()`. */
  listen(options: ListenOptions): TcpListener;
  /** The networks joined now (16 hex digits each), to read peer ids from addresses. */
  networkIds(): Iterable<string>;
}

const DEFAULT_PORT = 8000;
const OPTION_KEYS = [
  "port",
  "hostname",
  "signal",
  "onListen",
  "onError",
  "readBufferSize",
] as const;

/** Per-connection bookkeeping for graceful shutdown. */
interface Connection {
  socket: ZeroTierSocket;
  inFlight: number;
}

/**
 * Serves HTTP on `host` (a node) with `handler`; see `ZeroTierNode.serve`.
 * Throws `InvalidArgumentError` for bad options and what `node.listen()`
 * throws (`EADDRINUSE`, `NODE_STOPPED`).
 *
 * @example
 * ```ts ignore
 * const server = serveHttp(host, { port: 80 }, () => new Response("hi"));
 * await server.shutdown();
 * ```
 */
export function serveHttp(
  host: HttpServeHost,
  options: HttpServeOptions,
  handler: HttpHandler,
): HttpServer {
  const o = readOptions(options, "options", OPTION_KEYS);
  const port = o.port === undefined ? DEFAULT_PORT : toPort(o.port, "options.port");
  const hostname = o.hostname === undefined ? undefined : String(o.hostname);
  const signal = toSignal(o.signal);
  const onListen = optionalFunction(o.onListen, "options.onListen") as
    | HttpServeOptions["onListen"]
    | undefined;
  const onError = optionalFunction(o.onError, "options.onError") as
    | HttpServeOptions["onError"]
    | undefined;
  const readBufferSize = o.readBufferSize === undefined
    ? undefined
    : toInteger(o.readBufferSize, "options.readBufferSize", 1, 2 ** 31 - 1);
  if (typeof handler !== "function") {
    throw new InvalidArgumentError(
      "handler",
      "must be a function (request, info) => Response",
      handler,
    );
  }
  if (signal?.aborted) {
    throw new InvalidArgumentError("options.signal", "is already aborted", signal.reason);
  }
  const listener = host.listen({
    port,
    ...(hostname === undefined ? {} : { hostname }),
    ...(readBufferSize === undefined ? {} : { readBufferSize }),
  });
  return createServer(host, listener, handler, onError, signal, onListen);
}

function createServer(
  host: HttpServeHost,
  listener: TcpListener,
  handler: HttpHandler,
  onError: HttpServeOptions["onError"],
  signal: AbortSignal | undefined,
  onListen: HttpServeOptions["onListen"],
): HttpServer {
  const connections = new Set<Connection>();
  const bySocket = new WeakMap<object, Connection>();
  let closing = false;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
  let accepting = true;
  const maybeFinished = () => {
    if (!accepting && connections.size === 0) resolveFinished();
  };
  const base = `http://${formatHost(listener.addr.hostname)}:${listener.addr.port}`;

  const server = http.createServer(async (req, res) => {
    const conn = bySocket.get(req.socket);
    if (conn) conn.inFlight++;
    const abort = new AbortController();
    let done!: () => void;
    const completed = new Promise<void>((resolve) => (done = resolve));
    res.once("close", () => {
      if (!res.writableFinished) abort.abort(clientGone());
      done();
      if (conn) {
        conn.inFlight--;
        // Shutting down: the connection closes once its response is out.
        if (closing && conn.inFlight === 0) conn.socket.destroySoon();
      }
    });
    if (closing) res.setHeader("connection", "close");
    const socket = req.socket as unknown as ZeroTierSocket;
    const remoteAddr: NetAddr = {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    const info: HttpServeInfo = {
      remoteAddr,
      peerId: peerIdOf(host, remoteAddr.hostname),
      completed,
    };
    let response: Response;
    try {
      const request = toWebRequest(req, base, abort.signal);
      response = await handler(request, info);
      if (!(response instanceof Response)) {
        throw new TypeError(
          `The handler returned ${
            describeValue(response)
          }, not a Response (return new Response(...))`,
        );
      }
    } catch (err) {
      response = await errorResponse(err, onError);
    }
    if (closing && !res.headersSent) res.setHeader("connection", "close");
    try {
      await writeWebResponse(response, res, req.method === "HEAD");
    } catch {
      // The client went away mid-response: its connection is gone, nothing to answer.
      if (!res.destroyed) res.destroy();
    }
  });
  // Deno's http.Server closes emitted connections after each response unless it is listening.
  Object.defineProperty(server, "listening", { get: () => !closing });
  server.on("clientError", (_err: Error, socket: ZeroTierSocket) => {
    if (socket.writable && !socket.destroyed) {
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    }
    socket.destroySoon?.();
  });

  const shutdown = (): Promise<void> => {
    if (!closing) {
      closing = true;
      accepting = false;
      listener.close();
      for (const c of connections) if (c.inFlight === 0) c.socket.destroy();
      maybeFinished();
    }
    return finished;
  };
  signal?.addEventListener("abort", () => void shutdown(), { once: true });

  (async () => {
    for (;;) {
      let conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closing || err instanceof SocketClosedError || err instanceof NodeStateError) break;
        await delay(10); // a transient accept error
        continue;
      }
      if (closing) {
        conn.close();
        break;
      }
      const socket = toNodeSocket(conn);
      const entry: Connection = { socket, inFlight: 0 };
      connections.add(entry);
      bySocket.set(socket, entry);
      socket.once("close", () => {
        connections.delete(entry);
        maybeFinished();
      });
      socket.on("error", () => {}); // reported to the request (its signal), never unhandled
      server.emit("connection", socket);
    }
    // The node stopped or the listener closed: what is left closes with it.
    closing = true;
    accepting = false;
    listener.close();
    for (const c of connections) if (c.inFlight === 0) c.socket.destroy();
    maybeFinished();
  })();

  onListen?.(listener.addr);
  return {
    addr: listener.addr,
    finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/** The response for a handler that failed: `onError`'s, or 500. */
async function errorResponse(
  err: unknown,
  onError: HttpServeOptions["onError"],
): Promise<Response> {
  if (onError) {
    try {
      const r = await onError(err);
      if (r instanceof Response) return r;
      console.error("node.serve(): onError did not return a Response:", r);
    } catch (again) {
      console.error("node.serve(): onError threw:", again);
    }
  } else {
    console.error("node.serve(): the handler failed:", err);
  }
  return new Response("Internal Server Error", {
    status: 500,
    headers: { "content-type": "text/plain;charset=UTF-8" },
  });
}

function peerIdOf(host: HttpServeHost, address: string): string | undefined {
  if (!address.includes(":")) return undefined; // IPv4 encodes no whole node id
  for (const net of host.networkIds()) {
    const id = nodeIdOfAddress(address, net);
    if (id !== undefined) return id;
  }
  return undefined;
}

function clientGone(): Error {
  return Object.assign(new Error("The client went away before the response was complete"), {
    name: "AbortError",
    code: "ECONNRESET",
  });
}

function formatHost(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

function optionalFunction(value: unknown, name: string): unknown {
  if (value !== undefined && typeof value !== "function") {
    throw new InvalidArgumentError(name, "must be a function", value);
  }
  return value;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `a ${value.constructor?.name ?? "object"}`;
  return typeof value;
}
