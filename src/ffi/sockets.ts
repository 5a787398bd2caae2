/**
 * libzt's BSD socket calls with libzt's sockaddr layout, as plain functions
 * over file descriptors. Every call here is non-blocking and runs on the JS
 * thread, whose own errno is read right after it; only `poll` runs elsewhere.
 *
 * @module
 */
import { LibztCallError } from "../errors.ts";
import type { NativeLibrary } from "./backend.ts";
import { ERRNO } from "./codes.ts";
import { AF_INET, AF_INET6, INT_SIZE, LINGER, SOCKADDR_STORAGE } from "./layout.ts";
import { decodeSockaddr, type SocketAddress } from "./sockaddr.ts";

/** libzt's socket constants (`ZeroTierSockets.h`). */
export const SOCK = {
  STREAM: 1,
  DGRAM: 2,
  SOL_SOCKET: 0x0fff,
  IPPROTO_TCP: 6,
  SO_REUSEADDR: 0x0004,
  SO_KEEPALIVE: 0x0008,
  SO_LINGER: 0x0080,
  SO_SNDBUF: 0x1001,
  SO_RCVBUF: 0x1002,
  SO_ERROR: 0x1007,
  TCP_NODELAY: 0x0001,
  TCP_KEEPIDLE: 0x0003,
  TCP_KEEPINTVL: 0x0004,
  TCP_KEEPCNT: 0x0005,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  F_GETFL: 3,
  F_SETFL: 4,
  O_NONBLOCK: 1,
  POLLIN: 0x001,
  POLLOUT: 0x002,
  POLLERR: 0x004,
  POLLNVAL: 0x008,
  POLLHUP: 0x200,
  MSG_DONTWAIT: 0x0008,
} as const;

/** Room for either family when libzt writes an address back. */
const SOCKADDR_MAX = SOCKADDR_STORAGE.size;

/** Result of a call that may fail with an errno. */
export type Outcome = { ok: true; value: number } | { ok: false; rc: number; errno: number };

/** The socket calls of one loaded libzt. */
export class SocketCalls {
  readonly #lib: NativeLibrary;
  readonly #addrLen = new Uint32Array(1);
  readonly #addrBuf = new Uint8Array(SOCKADDR_MAX);
  readonly #int = new Int32Array(1);
  readonly #intLen = new Uint32Array(1);

  constructor(lib: NativeLibrary) {
    this.#lib = lib;
  }

  #outcome(rc: number): Outcome {
    return rc >= 0
      ? { ok: true, value: rc }
      : { ok: false, rc, errno: rc === -1 ? this.#lib.errno() : 0 };
  }

  /**
   * The outcome of a call that may simply have to wait (data calls, and a
   * close that must linger). The errno is the calling thread's own (see
   * `NativeLibrary.errno`); where only libzt's global `zts_errno` can be read,
   * lwIP sets it to 0 on every success on any thread, so a failure read as
   * errno 0 was overwritten: it is taken as "try again", and the retry after
   * the next poll reports a real error.
   */
  #dataOutcome(rc: number): Outcome {
    const o = this.#outcome(rc);
    return !o.ok && o.rc === -1 && o.errno === 0 ? { ok: false, rc: -1, errno: ERRNO.EAGAIN } : o;
  }

  /** Throws the typed error of a failed outcome. */
  static fail(fn: string, o: Outcome & { ok: false }, hint = ""): never {
    throw LibztCallError.fromReturn(fn, o.rc, o.errno, hint);
  }

  /** A new non-blocking socket. */
  open(family: "IPv4" | "IPv6", type: number): Outcome {
    const fd = this.#outcome(
      this.#lib.fn.zts_bsd_socket(family === "IPv6" ? AF_INET6 : AF_INET, type, 0),
    );
    return fd.ok ? this.#nonBlocking(fd.value) : fd;
  }

  // Every socket rxzt holds is non-blocking; accepted ones do not inherit it from the listener.
  #nonBlocking(fd: number): Outcome {
    const f = this.#lib.fn;
    const flags = f.zts_bsd_fcntl(fd, SOCK.F_GETFL, 0);
    const set = this.#outcome(
      f.zts_bsd_fcntl(fd, SOCK.F_SETFL, (flags < 0 ? 0 : flags) | SOCK.O_NONBLOCK),
    );
    if (!set.ok) {
      f.zts_bsd_close(fd);
      return set;
    }
    return { ok: true, value: fd };
  }

  connect(fd: number, addr: Uint8Array): Outcome {
    return this.#outcome(this.#lib.fn.zts_bsd_connect(fd, addr, addr.length));
  }

  bind(fd: number, addr: Uint8Array): Outcome {
    return this.#outcome(this.#lib.fn.zts_bsd_bind(fd, addr, addr.length));
  }

  listen(fd: number, backlog: number): Outcome {
    return this.#outcome(this.#lib.fn.zts_bsd_listen(fd, backlog));
  }

  /** Accepts one pending connection: the new fd and the peer's endpoint. */
  accept(
    fd: number,
  ): { ok: true; fd: number; peer: SocketAddress | undefined } | (Outcome & { ok: false }) {
    this.#addrLen[0] = SOCKADDR_MAX;
    const o = this.#dataOutcome(this.#lib.fn.zts_bsd_accept(fd, this.#addrBuf, this.#addrLen));
    if (!o.ok) return o;
    const peer = decodeSockaddr(new DataView(this.#addrBuf.buffer));
    const nb = this.#nonBlocking(o.value);
    return nb.ok ? { ok: true, fd: o.value, peer } : nb;
  }

  /** Reads into `buf`: bytes read (0 at end of stream) or a failure. */
  recv(fd: number, buf: Uint8Array): Outcome {
    return this.#dataOutcome(Number(this.#lib.fn.zts_bsd_recv(fd, buf, buf.byteLength, 0)));
  }

  /** Writes from `buf`: bytes accepted by the stack, or a failure. */
  send(fd: number, buf: Uint8Array): Outcome {
    return this.#dataOutcome(Number(this.#lib.fn.zts_bsd_send(fd, buf, buf.byteLength, 0)));
  }

  /** One datagram into `buf`, with its sender. */
  recvfrom(
    fd: number,
    buf: Uint8Array,
  ): { ok: true; size: number; from: SocketAddress | undefined } | (Outcome & { ok: false }) {
    this.#addrLen[0] = SOCKADDR_MAX;
    const o = this.#dataOutcome(
      Number(
        this.#lib.fn.zts_bsd_recvfrom(fd, buf, buf.byteLength, 0, this.#addrBuf, this.#addrLen),
      ),
    );
    if (!o.ok) return o;
    return { ok: true, size: o.value, from: decodeSockaddr(new DataView(this.#addrBuf.buffer)) };
  }

  sendto(fd: number, buf: Uint8Array, addr: Uint8Array): Outcome {
    return this.#dataOutcome(
      Number(this.#lib.fn.zts_bsd_sendto(fd, buf, buf.byteLength, 0, addr, addr.length)),
    );
  }

  shutdown(fd: number, how: number): Outcome {
    return this.#outcome(this.#lib.fn.zts_bsd_shutdown(fd, how));
  }

  /** Closes `fd`; EAGAIN: lwIP could not linger on this non-blocking socket, which stays open. */
  close(fd: number): Outcome {
    return this.#dataOutcome(this.#lib.fn.zts_bsd_close(fd));
  }

  setInt(fd: number, level: number, option: number, value: number): Outcome {
    this.#int[0] = value;
    return this.#outcome(
      this.#lib.fn.zts_bsd_setsockopt(
        fd,
        level,
        option,
        new Uint8Array(this.#int.buffer),
        INT_SIZE,
      ),
    );
  }

  getInt(fd: number, level: number, option: number): Outcome {
    this.#int[0] = 0;
    this.#intLen[0] = INT_SIZE;
    const o = this.#outcome(
      this.#lib.fn.zts_bsd_getsockopt(
        fd,
        level,
        option,
        new Uint8Array(this.#int.buffer),
        this.#intLen,
      ),
    );
    return o.ok ? { ok: true, value: this.#int[0] } : o;
  }

  /** `SO_LINGER` as libzt lays out `struct linger` (two ints). */
  setLinger(fd: number, seconds: number | undefined): Outcome {
    const linger = new Uint8Array(LINGER.size);
    const view = new DataView(linger.buffer);
    view.setInt32(LINGER.onoff, seconds === undefined ? 0 : 1, true);
    view.setInt32(LINGER.seconds, seconds ?? 0, true);
    return this.#outcome(
      this.#lib.fn.zts_bsd_setsockopt(
        fd,
        SOCK.SOL_SOCKET,
        SOCK.SO_LINGER,
        linger,
        LINGER.size,
      ),
    );
  }

  /** The local (`peer` false) or remote endpoint of a socket. */
  endpoint(fd: number, peer: boolean): SocketAddress | undefined {
    this.#addrLen[0] = SOCKADDR_MAX;
    this.#addrBuf.fill(0);
    const f = this.#lib.fn;
    const rc = peer
      ? f.zts_bsd_getpeername(fd, this.#addrBuf, this.#addrLen)
      : f.zts_bsd_getsockname(fd, this.#addrBuf, this.#addrLen);
    return rc < 0 ? undefined : decodeSockaddr(new DataView(this.#addrBuf.buffer));
  }

  /** Waits (off the JS thread) for readiness of the fds in `pollfds`. */
  poll(pollfds: Uint8Array, count: number, timeoutMs: number): Promise<number> {
    return this.#lib.fn.zts_bsd_poll(pollfds, count, timeoutMs);
  }
}
