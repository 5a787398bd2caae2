/**
 * A TCP connection over ZeroTier as web streams, shaped like `Deno.connect`'s:
 * a {@link TcpConn} has a byte `readable` (BYOB-capable) and a `writable`.
 *
 * @module
 */
import { delay } from "../delay.ts";
import {
  InvalidArgumentError,
  LibztCallError,
  SocketClosedError,
  ZeroTierError,
} from "../errors.ts";
import { ERRNO } from "../ffi/codes.ts";
import type { SocketAddress } from "../ffi/sockaddr.ts";
import { SOCK, SocketCalls } from "../ffi/sockets.ts";
import { isInstance, readOptions, toBool, toInteger } from "../validate.ts";
import { NodeStateError } from "../errors.ts";
import { errorStreams, releaseSocket, type SocketHost } from "./host.ts";
// For {@link} in the docs only.
// deno-lint-ignore no-unused-vars
import type { DEFAULT_KEEPALIVE } from "./keepalive.ts";
import { type NetAddr, netAddr } from "./net_addr.ts";
import { DEFAULT_PACING_RATE, SendPacer } from "./pacing.ts";
import {
  DEFAULT_READ_BUFFER_SIZE,
  RING_SERVICE_GONE,
  RING_THREAD_FAILED,
  type RingReader,
} from "./receive_ring.ts";

const INT32_MAX = 2 ** 31 - 1;

const READ_CHUNK = 64 * 1024;
/** Send pacing delays only writes with at least this much left to send: bulk, not interactive, traffic. */
const PACED_MIN_BYTES = 64 * 1024;
const MIN_PACING_RATE = 1_000_000;

// The constructor stays private: its parameters (internals) stay out of the public types.
let createConn: (
  host: SocketHost,
  fd: number,
  remote?: SocketAddress,
  readBufferSize?: number,
) => TcpConn;

/** @internal Wraps a connected socket. */
export function openTcpConn(
  host: SocketHost,
  fd: number,
  remote?: SocketAddress,
  readBufferSize?: number,
): TcpConn {
  return createConn(host, fd, remote, readBufferSize);
}

/** The error a receive ring's end code stands for. */
function receiveFailure(end: number, host: SocketHost): unknown {
  if (end === RING_SERVICE_GONE) {
    return new NodeStateError("NODE_STOPPED", "The node stopped: its sockets are closed.");
  }
  if (end === RING_THREAD_FAILED) return host.receiver?.failure ?? new SocketClosedError("read");
  return LibztCallError.fromReturn("zts_bsd_recv", -1, -end);
}

/**
 * One TCP connection. Reading and writing go through `readable` and
 * `writable`; both respect backpressure. Once the app starts reading, the
 * node's I/O thread reads ahead of it into a buffer of `readBufferSize`
 * bytes (default 2 MiB) and stops when that is full; a write resolves once
 * libzt has taken the bytes.
 *
 * The socket is released exactly once: when both directions are finished
 * (read to the end or cancelled, and writable closed or aborted), or at
 * `close()`, or when the node stops.
 *
 * @example
 * ```ts
 * const conn = await node.connect({ hostname: "10.1.2.3", port: 5000 });
 * await conn.writable.getWriter().write(new TextEncoder().encode("hello"));
 * for await (const chunk of conn.readable) console.log(chunk.length);
 * ```
 */
export class TcpConn {
  /** Bytes from the peer; ends when the peer closes its sending side. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer; `close()` half-closes (the peer reads end of stream). */
  readonly writable: WritableStream<Uint8Array>;
  /** This end's address. */
  readonly localAddr: NetAddr;
  /** The peer's address. */
  readonly remoteAddr: NetAddr;

  /** Resolves when the socket is released, whatever the reason (never rejects). */
  readonly closed: Promise<void>;
  readonly #host: SocketHost;
  readonly #fd: number;
  #markClosed!: () => void;
  #readDone = false;
  #writeDone = false;
  #released = false;
  /** Send pacing (off by default since receivers read on their I/O thread; see setSendPacing). */
  #pacer: SendPacer | undefined;
  /** SO_LINGER seconds set by setLinger (0: none). */
  #linger = 0;
  #readController?: ReadableByteStreamController;
  #writeController?: WritableStreamDefaultController;
  readonly #readBufferSize: number;
  /** The receive ring, once the app started reading (through the I/O thread). */
  #ring?: Promise<RingReader>;
  #ringReader?: RingReader;

  static {
    createConn = (host, fd, remote, readBufferSize) =>
      new TcpConn(host, fd, remote, readBufferSize);
  }

  private constructor(
    host: SocketHost,
    fd: number,
    remote?: SocketAddress,
    readBufferSize = DEFAULT_READ_BUFFER_SIZE,
  ) {
    this.#host = host;
    this.#fd = fd;
    this.#readBufferSize = readBufferSize;
    this.closed = new Promise((resolve) => (this.#markClosed = resolve));
    this.localAddr = netAddr("tcp", host.calls.endpoint(fd, false));
    this.remoteAddr = netAddr("tcp", remote ?? host.calls.endpoint(fd, true));
    host.track(this);
    const calls = host.calls;
    // Keep-alive by default: without it a peer that vanished (process killed, link gone)
    // leaves reads waiting forever. Best effort: a connection already reset fails later anyway.
    const keepAlive = host.keepAlive;
    calls.setInt(fd, SOCK.SOL_SOCKET, SOCK.SO_KEEPALIVE, keepAlive ? 1 : 0);
    if (keepAlive) {
      calls.setInt(fd, SOCK.IPPROTO_TCP, SOCK.TCP_KEEPIDLE, keepAlive.idle);
      calls.setInt(fd, SOCK.IPPROTO_TCP, SOCK.TCP_KEEPINTVL, keepAlive.interval);
      calls.setInt(fd, SOCK.IPPROTO_TCP, SOCK.TCP_KEEPCNT, keepAlive.count);
    }
    this.readable = new ReadableStream({
      type: "bytes",
      start: (c) => {
        this.#readController = c;
      },
      pull: (c) => host.receiver ? this.#pullRing(c) : this.#pullDirect(c),
      cancel: () => {
        this.#readDone = true;
        if (!this.#released) calls.shutdown(this.#fd, SOCK.SHUT_RD);
        this.#detachRing();
        this.#maybeRelease();
      },
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      start: (c) => {
        this.#writeController = c;
      },
      write: async (chunk, controller) => {
        try {
          if (!isInstance(chunk, Uint8Array)) {
            throw new InvalidArgumentError("chunk", "must be a Uint8Array", chunk);
          }
          let offset = 0;
          while (offset < chunk.byteLength) {
            if (this.#released) throw new SocketClosedError("write");
            const r = calls.send(this.#fd, chunk.subarray(offset));
            const pacer = this.#pacer;
            if (r.ok) {
              offset += r.value;
              pacer?.sent(r.value, performance.now());
              continue;
            }
            const pause = pacer && chunk.byteLength - offset >= PACED_MIN_BYTES
              ? pacer.delay(performance.now())
              : 0;
            if (r.errno === ERRNO.EAGAIN && pause > 0) {
              // Send pacing (see setSendPacing): ahead of the rate, so let the stack drain first.
              await delay(pause, { signal: controller.signal });
            } else if (r.errno === ERRNO.EAGAIN) {
              // abort() must not wait for a peer that stopped reading.
              await host.poller.wait(this.#fd, SOCK.POLLOUT, controller.signal);
            } else {
              const err = LibztCallError.fromReturn("zts_bsd_send", r.rc, r.errno);
              this.#terminate(err);
              throw err;
            }
          }
        } catch (err) {
          // The writable is errored from here on: its side of the socket is done.
          this.#writeDone = true;
          this.#maybeRelease();
          throw err;
        }
      },
      close: () => {
        this.#writeDone = true;
        if (!this.#released) calls.shutdown(this.#fd, SOCK.SHUT_WR);
        this.#maybeRelease();
      },
      abort: () => {
        this.#writeDone = true;
        this.#maybeRelease();
      },
    });
  }

  // Reads what the I/O thread put in the ring: one copy, as much as is there (up to the
  // BYOB view, or 256 KiB), parking on an empty ring until the thread wakes us.
  async #pullRing(c: ReadableByteStreamController): Promise<void> {
    this.#ring ??= this.#host.receiver!.attach(this.#fd, this.#readBufferSize).then((
      r,
    ) => (this.#ringReader = r));
    const ring = await this.#ring;
    for (;;) {
      if (this.#released) throw new SocketClosedError("read");
      const request = c.byobRequest;
      // The end first, then the bytes: the I/O thread writes the last bytes before it records
      // the end, so an end seen here means those bytes are seen too (the other order could see
      // no bytes yet and then the end, and lose the last bytes).
      const end = ring.end;
      if (ring.available > 0) {
        if (!request) return c.enqueue(ring.take());
        const v = request.view!;
        return request.respond(
          ring.take(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).byteLength,
        );
      }
      if (end === 1) {
        this.#readDone = true;
        c.close();
        request?.respond(0);
        this.#detachRing();
        this.#maybeRelease();
        return;
      }
      if (end < 0) {
        // A failed connection is dead both ways: release it now, not when the app finishes.
        const err = receiveFailure(end, this.#host);
        this.#terminate(err);
        throw err;
      }
      await ring.parked();
    }
  }

  // Without an I/O thread (receiveThread: false): non-blocking receives on this thread,
  // waiting in the shared poller when there is nothing yet.
  async #pullDirect(c: ReadableByteStreamController): Promise<void> {
    const request = c.byobRequest;
    const v = request?.view;
    const view = v
      ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
      : new Uint8Array(READ_CHUNK);
    for (;;) {
      if (this.#released) throw new SocketClosedError("read");
      const r = this.#host.calls.recv(this.#fd, view);
      if (r.ok) {
        if (r.value === 0) {
          this.#readDone = true;
          c.close();
          request?.respond(0);
          this.#maybeRelease();
        } else if (request) {
          request.respond(r.value);
        } else {
          c.enqueue(view.subarray(0, r.value));
        }
        return;
      }
      if (r.errno !== ERRNO.EAGAIN) {
        const err = LibztCallError.fromReturn("zts_bsd_recv", r.rc, r.errno);
        this.#terminate(err);
        throw err;
      }
      await this.#host.poller.wait(this.#fd, SOCK.POLLIN);
    }
  }

  // The app is done reading: the I/O thread stops and the ring's memory goes.
  #detachRing(): void {
    if (this.#ring && !this.#released) this.#host.receiver?.release(this.#fd, () => {});
  }

  /** Half-closes: the peer reads end of stream; reading goes on. */
  async closeWrite(): Promise<void> {
    if (this.writable.locked) {
      throw new ZeroTierError(
        "STREAM_LOCKED",
        "closeWrite(): release the writable's writer first, or close it yourself.",
      );
    }
    await this.writable.close();
  }

  /**
   * Turns send pacing on or off (the default), and sets its rate. A paced
   * connection keeps its bulk writes under `bytesPerSecond` on average
   * (default {@link DEFAULT_PACING_RATE}, 84 MB/s; at least 1 MB/s): a write
   * with 64 KiB or more still to go that finds libzt's send buffer full while
   * ahead of that rate waits until it is back on schedule, and only then for
   * room in the buffer. Smaller writes are never delayed, so pacing is not a
   * bandwidth limit.
   *
   * What it is for: libzt's TCP advertises a 1 MB receive window but queues
   * at most 128 segments per connection on the receiving side; a sender that
   * keeps the pipe full overflows that queue whenever the receiving reader
   * is a few milliseconds late, and each overflow costs a retransmission
   * timeout of ~1.5 s. Paced, the receiver has ~4 ms rather than ~2.5 ms to
   * be late. It was on by default while rxzt read on the app's thread; now
   * that a node reads on an I/O thread of its own it no longer pays (an
   * unpaced rxzt sender moved 88 MB/s into a C receiver where a paced one
   * moved 47, and the same as a paced one into rxzt: see the README's
   * Benchmark). Turn it on toward a receiver that reads late, such as a
   * program that reads libzt on its busy main thread.
   *
   * @example
   * ```ts ignore
   * conn.setSendPacing(true); // 84 MB/s on average
   * conn.setSendPacing(true, { bytesPerSecond: 50_000_000 }); // a gentler sender
   * conn.setSendPacing(false); // the default
   * ```
   */
  setSendPacing(enabled = true, options: { bytesPerSecond?: number } = {}): void {
    toBool(enabled, "enabled");
    const o = readOptions(options, "options", ["bytesPerSecond"]);
    const rate = o.bytesPerSecond === undefined
      ? DEFAULT_PACING_RATE
      : toInteger(o.bytesPerSecond, "bytesPerSecond", MIN_PACING_RATE, Number.MAX_SAFE_INTEGER);
    this.#assertOpen("setSendPacing");
    this.#pacer = enabled ? new SendPacer(rate) : undefined;
  }

  /** Disables (true) or enables Nagle's algorithm. */
  setNoDelay(noDelay = true): void {
    toBool(noDelay, "noDelay");
    this.#option("setNoDelay", SOCK.IPPROTO_TCP, SOCK.TCP_NODELAY, noDelay ? 1 : 0);
  }

  /**
   * Enables TCP keep-alive (optionally with idle time, probe interval in
   * seconds and probe count), so a dead peer is noticed, or disables it.
   * Connections start with the node's `keepAlive` start option, by default
   * {@link DEFAULT_KEEPALIVE} (60 s, 15 s, 16 probes: a 300 s bound).
   */
  setKeepAlive(
    keepAlive = true,
    options: { idle?: number; interval?: number; count?: number } = {},
  ): void {
    toBool(keepAlive, "keepAlive");
    const o = readOptions(options, "options", ["idle", "interval", "count"]);
    const idle = o.idle === undefined ? undefined : toInteger(o.idle, "idle", 1, INT32_MAX);
    const interval = o.interval === undefined
      ? undefined
      : toInteger(o.interval, "interval", 1, INT32_MAX);
    const count = o.count === undefined ? undefined : toInteger(o.count, "count", 1, INT32_MAX);
    this.#option("setKeepAlive", SOCK.SOL_SOCKET, SOCK.SO_KEEPALIVE, keepAlive ? 1 : 0);
    if (idle !== undefined) this.#option("setKeepAlive", SOCK.IPPROTO_TCP, SOCK.TCP_KEEPIDLE, idle);
    if (interval !== undefined) {
      this.#option("setKeepAlive", SOCK.IPPROTO_TCP, SOCK.TCP_KEEPINTVL, interval);
    }
    if (count !== undefined) {
      this.#option("setKeepAlive", SOCK.IPPROTO_TCP, SOCK.TCP_KEEPCNT, count);
    }
  }

  /**
   * Sets `SO_LINGER`: seconds that closing may wait for unsent data to be
   * acknowledged before it resets the connection; 0 resets at once;
   * `undefined` turns it off (the default: close at once, the stack sends
   * what is left). `close()` itself never blocks: rxzt waits out the linger
   * in the background, because lwIP cannot linger on a non-blocking socket.
   */
  setLinger(seconds: number | undefined): void {
    if (seconds !== undefined) toInteger(seconds, "seconds", 0, 65535);
    this.#assertOpen("setLinger");
    const r = this.#host.calls.setLinger(this.#fd, seconds);
    if (!r.ok) SocketCalls.fail("zts_bsd_setsockopt", r);
    this.#linger = seconds ?? 0;
  }

  /** Sets the receive buffer size in bytes (`SO_RCVBUF`). */
  setReceiveBufferSize(bytes: number): void {
    toInteger(bytes, "bytes", 1, INT32_MAX);
    this.#option("setReceiveBufferSize", SOCK.SOL_SOCKET, SOCK.SO_RCVBUF, bytes);
  }

  #option(what: string, level: number, option: number, value: number): void {
    if (!Number.isInteger(value) || value < 0) {
      throw new InvalidArgumentError(what, "needs a non-negative integer", value);
    }
    this.#assertOpen(what);
    const r = this.#host.calls.setInt(this.#fd, level, option, value);
    if (!r.ok) SocketCalls.fail("zts_bsd_setsockopt", r);
  }

  #assertOpen(what: string): void {
    if (this.#released) throw new SocketClosedError(what);
  }

  /**
   * Closes both directions now and releases the socket. Pending reads and
   * writes fail with `SocketClosedError`. Safe to call more than once.
   */
  close(): void {
    this.#terminate(new SocketClosedError("use the connection"));
  }

  /** @internal Closes with a given reason (node stop). */
  terminate(reason: unknown): void {
    this.#terminate(reason);
  }

  #terminate(reason: unknown): void {
    if (this.#released) return;
    this.#readDone = this.#writeDone = true;
    errorStreams(reason, this.#readController, this.#writeController);
    this.#release(reason);
  }

  #maybeRelease(): void {
    if (this.#readDone && this.#writeDone) {
      this.#release(new SocketClosedError("use the connection"));
    }
  }

  #release(reason: unknown): void {
    if (this.#released) return;
    this.#released = true;
    this.#ringReader?.interrupt(); // a parked read sees the release
    this.#markClosed();
    releaseSocket(this.#host, this, this.#fd, reason, this.#linger);
  }
}
