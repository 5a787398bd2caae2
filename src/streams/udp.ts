/**
 * UDP over ZeroTier as web streams: a readable of received datagrams and a
 * writable of datagrams to send, one chunk per datagram.
 *
 * @module
 */
import {
  InvalidArgumentError,
  LibztCallError,
  SocketClosedError,
  ZeroTierError,
} from "../errors.ts";
import { ERRNO } from "../ffi/codes.ts";
import { encodeSockaddr } from "../ffi/sockaddr.ts";
import { SOCK, SocketCalls } from "../ffi/sockets.ts";
import { isInstance, readOptions, toDestination, toIpAddress, toPort } from "../validate.ts";
import { errorStreams, releaseSocket, type SocketHost } from "./host.ts";
import { type NetAddr, netAddr } from "./net_addr.ts";

/** The largest UDP payload over IPv4 (65535 − 8 − 20); larger sends are refused. */
export const MAX_DATAGRAM = 65507;

/** A received datagram. */
export interface Datagram {
  /** The payload, one whole datagram. */
  readonly data: Uint8Array;
  /** Who sent it. */
  readonly remoteAddr: NetAddr;
}

/** A datagram to send. */
export interface OutgoingDatagram {
  /** The payload, at most `MAX_DATAGRAM` bytes. */
  readonly data: Uint8Array;
  /** Destination IP address. */
  readonly hostname: string;
  /** Destination port. */
  readonly port: number;
}

/** Options of `node.listenDatagram()`. */
export interface DatagramOptions {
  /** Local port; 0 picks a free one. */
  port: number;
  /**
   * Local address. Default `"::"` (IPv4 and IPv6). With several networks
   * joined, bind to your address on the network you talk on: libzt sends
   * IPv6 from unbound sockets through the last network joined.
   *
   * @default {"::"}
   */
  hostname?: string;
}

// The constructor stays private: its parameters (internals) stay out of the public types.
let createDatagramConn: (host: SocketHost, fd: number) => DatagramConn;

/**
 * A UDP socket. Message boundaries are kept: each chunk read is one datagram,
 * each chunk written is sent as one datagram (a datagram over
 * {@link MAX_DATAGRAM} bytes fails with code `EMSGSIZE`).
 *
 * @example
 * ```ts
 * const udp = node.listenDatagram({ port: 5003 });
 * const writer = udp.writable.getWriter();
 * await writer.write({ data: new TextEncoder().encode("ping"), hostname: "10.1.2.3", port: 5003 });
 * for await (const { data, remoteAddr } of udp.readable) console.log(remoteAddr.hostname, data.length);
 * ```
 */
export class DatagramConn {
  /** Received datagrams. Nothing is read from libzt unless a reader asks. */
  readonly readable: ReadableStream<Datagram>;
  /** Datagrams to send. */
  readonly writable: WritableStream<OutgoingDatagram>;
  /** The local address. */
  readonly addr: NetAddr;
  readonly #host: SocketHost;
  readonly #fd: number;
  #released = false;
  #readController?: ReadableStreamDefaultController<Datagram>;
  #writeController?: WritableStreamDefaultController;

  static {
    createDatagramConn = (host, fd) => new DatagramConn(host, fd);
  }

  private constructor(host: SocketHost, fd: number) {
    this.#host = host;
    this.#fd = fd;
    this.addr = netAddr("udp", host.calls.endpoint(fd, false));
    host.track(this);
    const buffer = new Uint8Array(65536); // larger than any datagram: nothing is truncated
    this.readable = new ReadableStream<Datagram>({
      start: (c) => {
        this.#readController = c;
      },
      pull: async (c) => {
        for (;;) {
          if (this.#released) throw new SocketClosedError("receive");
          const r = host.calls.recvfrom(fd, buffer);
          if (r.ok) {
            c.enqueue({ data: buffer.slice(0, r.size), remoteAddr: netAddr("udp", r.from) });
            return;
          }
          if (r.errno !== ERRNO.EAGAIN) {
            throw LibztCallError.fromReturn("zts_bsd_recvfrom", r.rc, r.errno);
          }
          await host.poller.wait(fd, SOCK.POLLIN);
        }
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<OutgoingDatagram>({
      start: (c) => {
        this.#writeController = c;
      },
      write: async (d) => {
        if (d === undefined) {
          throw new InvalidArgumentError("datagram", "must be an object { data, hostname, port }");
        }
        // Extra keys are fine here: a received Datagram may be reused as the reply.
        const o = readOptions(d, "datagram", ["data", "hostname", "port"], "datagram.", true);
        const data = o.data;
        if (!isInstance(data, Uint8Array)) {
          throw new InvalidArgumentError("datagram.data", "must be a Uint8Array", data);
        }
        if (data.byteLength > MAX_DATAGRAM) {
          throw new ZeroTierError(
            "EMSGSIZE",
            `A datagram carries at most ${MAX_DATAGRAM} bytes, not ${data.byteLength}: split it.`,
          );
        }
        const port = toPort(o.port, "datagram.port", false);
        const { hostname } = toDestination(o.hostname, "datagram.hostname");
        const to = encodeSockaddr(hostname, port)!;
        for (;;) {
          if (this.#released) throw new SocketClosedError("send");
          const r = host.calls.sendto(fd, data, to);
          if (r.ok) return;
          if (r.errno !== ERRNO.EAGAIN) {
            throw LibztCallError.fromReturn("zts_bsd_sendto", r.rc, r.errno);
          }
          await host.poller.wait(fd, SOCK.POLLOUT);
        }
      },
      close: () => this.close(),
      abort: () => this.close(),
    });
  }

  /** Closes the socket; pending reads and writes fail with `SocketClosedError`. Safe to call twice. */
  close(): void {
    this.terminate(new SocketClosedError("use the socket"));
  }

  /** @internal */
  terminate(reason: unknown): void {
    if (this.#released) return;
    this.#released = true;
    errorStreams(reason, this.#readController, this.#writeController);
    releaseSocket(this.#host, this, this.#fd, reason);
  }
}

/** Opens a UDP socket. */
export function listenDatagram(host: SocketHost, options: DatagramOptions): DatagramConn {
  if (options === undefined) {
    throw new InvalidArgumentError("options", "must be an object with port");
  }
  const o = readOptions(options, "options", ["port", "hostname"]);
  const port = toPort(o.port, "port");
  const { hostname, family } = toIpAddress(
    o.hostname ?? "::",
    "hostname",
    "must be a local IPv4 or IPv6 address, or :: / 0.0.0.0",
  );
  const fd = host.calls.open(family, SOCK.DGRAM);
  if (!fd.ok) {
    SocketCalls.fail("zts_bsd_socket", fd, "Too many open sockets? (libzt allows about 1024)");
  }
  const bound = host.calls.bind(fd.value, encodeSockaddr(hostname, port)!);
  if (!bound.ok) {
    host.calls.close(fd.value);
    SocketCalls.fail("zts_bsd_bind", bound, `Is port ${port} already in use?`);
  }
  return createDatagramConn(host, fd.value);
}
