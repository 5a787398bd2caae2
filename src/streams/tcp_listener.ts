/**
 * A listening TCP socket over ZeroTier, shaped like `Deno.listen`'s: an async
 * iterable of {@link TcpConn}s, `accept()`, or `connection$`.
 *
 * @module
 */
import { Observable } from "rxjs";
import { SocketClosedError } from "../errors.ts";
import { ERRNO } from "../ffi/codes.ts";
import { SOCK, SocketCalls } from "../ffi/sockets.ts";
import { readOptions, toSignal } from "../validate.ts";
import { releaseSocket, type SocketHost } from "./host.ts";
import { type NetAddr, netAddr } from "./net_addr.ts";
import { openTcpConn, type TcpConn } from "./tcp.ts";

// The constructor stays private: its parameters (internals) stay out of the public types.
let createListener: (host: SocketHost, fd: number, readBufferSize?: number) => TcpListener;

/** @internal Wraps a listening socket; its connections read ahead into `readBufferSize` bytes. */
export function openTcpListener(
  host: SocketHost,
  fd: number,
  readBufferSize?: number,
): TcpListener {
  return createListener(host, fd, readBufferSize);
}

/**
 * A listening TCP socket: `for await (const conn of listener)`, `accept()`,
 * or `connection$`. Closing it ends the iteration.
 *
 * @example
 * ```ts
 * const listener = node.listen({ port: 5000 });
 * for await (const conn of listener) conn.readable.pipeTo(conn.writable); // echo
 * ```
 */
export class TcpListener implements AsyncIterable<TcpConn> {
  /** The address it listens on. */
  readonly addr: NetAddr;
  readonly #host: SocketHost;
  readonly #fd: number;
  readonly #readBufferSize?: number;
  #closed = false;

  static {
    createListener = (host, fd, readBufferSize) => new TcpListener(host, fd, readBufferSize);
  }

  private constructor(host: SocketHost, fd: number, readBufferSize?: number) {
    this.#host = host;
    this.#fd = fd;
    this.#readBufferSize = readBufferSize;
    this.addr = netAddr("tcp", host.calls.endpoint(fd, false));
    host.track(this);
  }

  /**
   * Waits for the next connection; rejects with `SocketClosedError` once
   * closed, or with `signal.reason` when aborted (no connection is taken then).
   */
  async accept(options: { signal?: AbortSignal } = {}): Promise<TcpConn> {
    const signal = toSignal(readOptions(options, "options", ["signal"]).signal);
    for (;;) {
      if (this.#closed) throw new SocketClosedError("accept");
      signal?.throwIfAborted();
      const r = this.#host.calls.accept(this.#fd);
      if (r.ok) return openTcpConn(this.#host, r.fd, r.peer, this.#readBufferSize);
      if (r.errno !== ERRNO.EAGAIN) SocketCalls.fail("zts_bsd_accept", r);
      await this.#host.poller.wait(this.#fd, SOCK.POLLIN, signal);
    }
  }

  /** Accepted connections, until the listener is closed (`for await (const conn of listener)`). */
  async *[Symbol.asyncIterator](): AsyncIterator<TcpConn> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (err) {
        if (err instanceof SocketClosedError || this.#closed) return;
        throw err;
      }
    }
  }

  /**
   * Accepted connections as an observable: subscribing starts accepting,
   * unsubscribing stops (the listener stays open; accepted connections are
   * the subscriber's to close).
   */
  get connection$(): Observable<TcpConn> {
    return new Observable<TcpConn>((subscriber) => {
      const stop = new AbortController();
      (async () => {
        while (!stop.signal.aborted) {
          try {
            subscriber.next(await this.accept({ signal: stop.signal }));
          } catch (err) {
            if (stop.signal.aborted) return;
            if (err instanceof SocketClosedError) subscriber.complete();
            else subscriber.error(err);
            return;
          }
        }
      })();
      // Unsubscribing withdraws the pending accept, so no connection is taken and dropped.
      return () => stop.abort();
    });
  }

  /** Stops listening; pending `accept()` calls reject, iteration ends. Safe to call twice. */
  close(): void {
    this.terminate(new SocketClosedError("accept"));
  }

  /** @internal */
  terminate(reason: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    releaseSocket(this.#host, this, this.#fd, reason);
  }
}
