/**
 * A TCP connection over ZeroTier as a `node:stream` `Duplex` that stands in
 * for a `net.Socket` where HTTP stacks look, so `node:http` (server and
 * client) and other socket-based libraries run over rxzt connections in
 * Node and in Deno. Made by `toNodeSocket` and `dialNodeSocket`
 * (`node_socket_wrap.ts`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { setTimeout as setNodeTimeout } from "node:timers";
import { asError, InvalidArgumentError, SocketClosedError, ZeroTierError } from "../errors.ts";
import { ipFamily } from "../ip.ts";
import { toBool, toInteger } from "../validate.ts";
import { TcpConn } from "./tcp.ts";

/** Options of {@link toNodeSocket} and {@link dialNodeSocket}. */
export interface NodeSocketOptions {
  /**
   * Keep the writable side open after the peer ended its side, as
   * `net.Socket`'s option of that name. Default: false (the socket ends its
   * side too once it read the peer's end, as `net.Socket` does).
   */
  allowHalfOpen?: boolean;
  /**
   * Bytes buffered in each direction before backpressure: `write()` returns
   * false past it, and reading from the connection pauses past it until the
   * app reads. Default: Node's stream default (16 KiB in Node 20, 64 KiB
   * from Node 22; Deno follows Node).
   */
  highWaterMark?: number;
}

/** The largest timeout Node's timers take (2^31 - 1 ms). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

// The constructor stays private: its parameters (internals) stay out of the public types.
let createSocket: (
  conn: TcpConn | Promise<TcpConn>,
  options: NodeSocketOptions,
  abortConnect?: AbortController,
) => ZeroTierSocket;

/**
 * A TCP connection over ZeroTier as a `Duplex` shaped like `net.Socket`:
 * the addresses (`remoteAddress`, `remotePort`, `remoteFamily`,
 * `localAddress`, `localPort`, `localFamily`, `address()`), `setNoDelay`,
 * `setKeepAlive`, `setTimeout` with its `'timeout'` event, `end`,
 * `destroy`, `destroySoon`, `resetAndDestroy`, `bytesRead`, `bytesWritten`,
 * `connecting`, `pending`, `readyState`, and `'connect'` / `'ready'` for a
 * socket from {@link dialNodeSocket}. Made by {@link toNodeSocket} or
 * {@link dialNodeSocket}.
 *
 * Backpressure holds both ways: it reads from the connection only when the
 * stream asks for more (its buffer is below `highWaterMark`), and it hands
 * one chunk at a time to libzt, calling the write's callback once libzt has
 * taken the bytes, so `write()` returns false and `'drain'` follows as with
 * a kernel socket.
 *
 * Errors of the connection (the peer reset it: a `LibztCallError` with code
 * `ECONNRESET`; it was closed under the socket: `SocketClosedError`; the
 * node stopped: `NodeStateError`) destroy the socket with that error, so
 * they arrive as one `'error'` event, never as an unhandled rejection.
 * `err.code` is the errno name where there is one (`ECONNRESET`,
 * `ETIMEDOUT`, `ECONNREFUSED`), as HTTP stacks expect.
 *
 * @example
 * ```ts ignore
 * import { toNodeSocket } from "@rxzt/rxzt";
 * const socket = toNodeSocket(await node.connect({ hostname: "10.1.2.3", port: 5000 }));
 * socket.setTimeout(30_000, () => socket.destroy()); // idle for 30 s: give up
 * socket.on("data", (chunk) => console.log(chunk.length));
 * socket.end("hello");
 * ```
 */
export class ZeroTierSocket extends Duplex {
  /** False once connected; true while a {@link dialNodeSocket} socket connects. */
  connecting: boolean;
  #conn?: TcpConn;
  readonly #ready: Promise<TcpConn>;
  readonly #abortConnect?: AbortController;
  #reader?: ReadableStreamDefaultReader<Uint8Array>;
  #writer?: WritableStreamDefaultWriter<Uint8Array>;
  #reading = false;
  #bytesRead = 0;
  #bytesWritten = 0;
  #timeoutMs = 0;
  #timer?: ReturnType<typeof setNodeTimeout>;
  /** Options set before the connection exists (dialNodeSocket), applied once it does. */
  #noDelay?: boolean;
  #keepAlive?: [boolean, number];

  static {
    createSocket = (conn, options, abortConnect) => new ZeroTierSocket(conn, options, abortConnect);
  }

  private constructor(
    conn: TcpConn | Promise<TcpConn>,
    options: NodeSocketOptions,
    abortConnect?: AbortController,
  ) {
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }),
      // Chunks go to the connection as they are: no string decoding on the way in.
      decodeStrings: true,
    });
    this.#abortConnect = abortConnect;
    if (isConn(conn)) {
      this.#conn = conn;
      this.connecting = false;
      this.#ready = Promise.resolve(conn);
    } else {
      this.connecting = true;
      this.#ready = conn.then((c) => this.#connected(c));
      // A failed connect destroys the socket with its error ('error' event).
      this.#ready.catch((err) => this.#fail(err));
    }
  }

  /** The rxzt connection under this socket (undefined while connecting). */
  get conn(): TcpConn | undefined {
    return this.#conn;
  }

  /** The peer's IP address (undefined while connecting), as `net.Socket`'s. */
  get remoteAddress(): string | undefined {
    return this.#conn?.remoteAddr.hostname || undefined;
  }

  /** The peer's port (undefined while connecting). */
  get remotePort(): number | undefined {
    return this.#conn?.remoteAddr.port || undefined;
  }

  /** `"IPv4"` or `"IPv6"`: the family of `remoteAddress` (undefined while connecting). */
  get remoteFamily(): string | undefined {
    const a = this.remoteAddress;
    return a === undefined ? undefined : ipFamily(a);
  }

  /** This end's IP address (undefined while connecting). */
  get localAddress(): string | undefined {
    return this.#conn?.localAddr.hostname || undefined;
  }

  /** This end's port (undefined while connecting). */
  get localPort(): number | undefined {
    return this.#conn?.localAddr.port || undefined;
  }

  /** `"IPv4"` or `"IPv6"`: the family of `localAddress` (undefined while connecting). */
  get localFamily(): string | undefined {
    const a = this.localAddress;
    return a === undefined ? undefined : ipFamily(a);
  }

  /** This end's address as `net.Socket.address()` gives it (`{}` while connecting). */
  address(): { address: string; family: string; port: number } | Record<string, never> {
    const address = this.localAddress;
    if (address === undefined) return {};
    return { address, family: ipFamily(address) ?? "", port: this.localPort ?? 0 };
  }

  /** Bytes read from the connection so far (including what waits in the stream's buffer). */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Bytes libzt has taken from this socket so far (not those still buffered). */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** True while connecting, as `net.Socket.pending`. */
  get pending(): boolean {
    return this.connecting;
  }

  /** `"opening"`, `"open"`, `"readOnly"`, `"writeOnly"` or `"closed"`, as `net.Socket.readyState`. */
  get readyState(): "opening" | "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }

  /** The idle timeout set by {@link setTimeout} in ms (undefined when none), as `net.Socket.timeout`. */
  get timeout(): number | undefined {
    return this.#timeoutMs || undefined;
  }

  /**
   * Disables (true, the default) or enables Nagle's algorithm
   * (`conn.setNoDelay`). On a closed socket it does nothing, as on a
   * `net.Socket`.
   */
  setNoDelay(noDelay = true): this {
    toBool(noDelay, "noDelay");
    if (this.#conn) this.#quietly(() => this.#conn!.setNoDelay(noDelay));
    else this.#noDelay = noDelay;
    return this;
  }

  /**
   * Enables or disables TCP keep-alive (`conn.setKeepAlive`), as
   * `net.Socket.setKeepAlive(enable = false, initialDelay = 0)`:
   * `initialDelay` is the idle time in milliseconds before the first probe
   * (rounded down to whole seconds, at least 1 s; 0 keeps the connection's
   * current idle time, 30 s unless changed).
   */
  setKeepAlive(enable = false, initialDelay = 0): this {
    toBool(enable, "enable");
    toInteger(initialDelay, "initialDelay", 0, Number.MAX_SAFE_INTEGER);
    if (this.#conn) this.#applyKeepAlive(this.#conn, enable, initialDelay);
    else this.#keepAlive = [enable, initialDelay];
    return this;
  }

  /**
   * Emits `'timeout'` once the socket has been idle (nothing read or
   * written) for `msecs` milliseconds, as `net.Socket.setTimeout`; it does
   * not close the socket (the listener decides). 0 turns it off. `callback`
   * is added as a one-time `'timeout'` listener (removed when `msecs` is 0).
   * The timer does not keep the process alive.
   */
  setTimeout(msecs: number, callback?: () => void): this {
    if (typeof msecs !== "number" || !Number.isFinite(msecs) || msecs < 0) {
      throw new InvalidArgumentError("msecs", "must be a non-negative finite number", msecs);
    }
    if (callback !== undefined && typeof callback !== "function") {
      throw new InvalidArgumentError("callback", "must be a function", callback);
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timeoutMs = Math.min(Math.floor(msecs), MAX_TIMEOUT_MS);
    if (this.#timeoutMs === 0) {
      if (callback) this.removeListener("timeout", callback);
      return this;
    }
    if (callback) this.once("timeout", callback);
    if (!this.destroyed) {
      this.#timer = setNodeTimeout(() => this.emit("timeout"), this.#timeoutMs);
      this.#timer.unref();
    }
    return this;
  }

  /** Ends the writable side, then destroys the socket once it has finished, as `net.Socket.destroySoon`. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  /**
   * Closes the connection with a reset (RST, by `SO_LINGER` 0) rather than
   * an orderly close, and destroys the socket, as `net.Socket.resetAndDestroy`.
   */
  resetAndDestroy(): this {
    if (this.#conn) this.#quietly(() => this.#conn!.setLinger(0));
    return this.destroy();
  }

  /** Does nothing (an rxzt connection does not hold the process open by itself); for `net.Socket` parity (HTTP agents call it). */
  ref(): this {
    return this;
  }

  /** Does nothing; see {@link ref}. */
  unref(): this {
    return this;
  }

  /** `Duplex` internals: reads the next chunk from the connection once the stream asks for more. */
  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    this.#readOnce();
  }

  async #readOnce(): Promise<void> {
    try {
      const conn = await this.#ready;
      if (this.destroyed) return;
      this.#reader ??= conn.readable.getReader();
      const r = await this.#reader.read();
      this.#reading = false;
      if (this.destroyed) return;
      if (r.done) {
        this.push(null);
        return;
      }
      const v = r.value;
      this.#bytesRead += v.byteLength;
      this.#touch();
      // No copy: a chunk read from a byte stream owns its buffer.
      this.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    } catch (err) {
      this.#reading = false;
      this.#fail(err);
    }
  }

  /** `Duplex` internals: hands one chunk to libzt; the callback runs once libzt took it. */
  override _write(
    chunk: Buffer,
    _encoding: string,
    callback: (error?: Error | null) => void,
  ): void {
    this.#send(chunk).then(
      () => callback(),
      (err) => callback(this.destroyed ? undefined : asError(err)),
    );
  }

  /** `Duplex` internals: corked chunks, sent as one write when they total 64 KiB or less. */
  override _writev(
    chunks: { chunk: Buffer; encoding: string }[],
    callback: (error?: Error | null) => void,
  ): void {
    // Corked writes (an HTTP head and body) go out as one send when small.
    const total = chunks.reduce((n, c) => n + c.chunk.byteLength, 0);
    const send = async () => {
      if (total <= 64 * 1024) return this.#send(Buffer.concat(chunks.map((c) => c.chunk), total));
      for (const c of chunks) await this.#send(c.chunk);
    };
    send().then(
      () => callback(),
      (err) => callback(this.destroyed ? undefined : asError(err)),
    );
  }

  async #send(chunk: Uint8Array): Promise<void> {
    const writer = await this.#writerOf();
    await writer.ready;
    await writer.write(chunk);
    this.#bytesWritten += chunk.byteLength;
    this.#touch();
  }

  /** `Duplex` internals: `end()` half-closes the connection (the peer reads end of stream). */
  override _final(callback: (error?: Error | null) => void): void {
    // Half-close: the peer reads end of stream; reading goes on.
    this.#writerOf().then((w) => w.close()).then(
      () => callback(),
      (err) => callback(this.destroyed ? undefined : asError(err)),
    );
  }

  /** `Duplex` internals: closes the connection, or abandons the connect still under way. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.connecting = false;
    if (this.#conn) this.#conn.close();
    else this.#abortConnect?.abort(new SocketClosedError("connect"));
    callback(error);
  }

  async #writerOf(): Promise<WritableStreamDefaultWriter<Uint8Array>> {
    const conn = await this.#ready;
    if (this.destroyed) throw new SocketClosedError("write");
    return this.#writer ??= conn.writable.getWriter();
  }

  /** Activity: the idle timeout starts over. */
  #touch(): void {
    this.#timer?.refresh();
  }

  #connected(conn: TcpConn): TcpConn {
    if (this.destroyed) {
      conn.close(); // destroyed while connecting (the abort came too late)
      return conn;
    }
    this.#conn = conn;
    this.connecting = false;
    if (this.#noDelay !== undefined) this.setNoDelay(this.#noDelay);
    if (this.#keepAlive) this.#applyKeepAlive(conn, ...this.#keepAlive);
    this.emit("connect");
    this.emit("ready");
    return conn;
  }

  #applyKeepAlive(conn: TcpConn, enable: boolean, initialDelay: number): void {
    const idle = Math.max(1, Math.min(Math.floor(initialDelay / 1000), 2 ** 31 - 1));
    this.#quietly(() => conn.setKeepAlive(enable, enable && initialDelay > 0 ? { idle } : {}));
  }

  /** Socket options on a connection that just closed fail; `net.Socket` ignores that too. */
  #quietly(set: () => void): void {
    try {
      set();
    } catch (err) {
      if (!(err instanceof ZeroTierError)) throw err;
    }
  }

  #fail(err: unknown): void {
    if (!this.destroyed) this.destroy(asError(err));
  }
}

/** @internal `instanceof TcpConn`, false (not a throw) for a Proxy or other odd values. */
export function isConn(value: unknown): value is TcpConn {
  try {
    return value instanceof TcpConn;
  } catch {
    return false;
  }
}

/** @internal A socket over `conn` (or the connection it will be); `abortConnect` abandons it. */
export function newNodeSocket(
  conn: TcpConn | Promise<TcpConn>,
  options: NodeSocketOptions,
  abortConnect?: AbortController,
): ZeroTierSocket {
  return createSocket(conn, options, abortConnect);
}
