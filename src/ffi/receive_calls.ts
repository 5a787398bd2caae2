/**
 * The libzt calls of the I/O thread, over the raw bound functions each
 * backend supplies: the one place that says which socket the wake socket is
 * and how a receive's size travels.
 *
 * @module
 */
import { AF_INET } from "./layout.ts";
import { SOCK } from "./sockets.ts";

/** The libzt calls the loop makes, all blocking ones run on the calling (I/O) thread. */
export interface ReceiveCalls {
  /** `zts_bsd_poll`, blocking this thread up to `timeoutMs` (-1: no limit). */
  poll(pollfds: Uint8Array, count: number, timeoutMs: number): number;
  /** `zts_bsd_recv` on a non-blocking socket. */
  recv(fd: number, into: Uint8Array): number;
  /** libzt's `zts_errno`. */
  errno(): number;
  /** A new TCP socket (`zts_bsd_socket`), never connected: the wake socket. */
  socket(): number;
  /** `zts_bsd_close`. */
  close(fd: number): number;
}

/** The raw functions, bound to block the calling thread. */
export interface RawReceiveFunctions {
  poll(pollfds: Uint8Array, count: number, timeoutMs: number): number;
  recv(fd: number, into: Uint8Array): number;
  socket(family: number, type: number): number;
  close(fd: number): number;
  errno(): number;
}

/** {@link ReceiveCalls} over a backend's raw functions. */
export function receiveCallsOver(f: RawReceiveFunctions): ReceiveCalls {
  return {
    poll: f.poll,
    recv: f.recv,
    errno: f.errno,
    // An IPv4 TCP socket that is never connected: shutting its receiving side down
    // (from the JS thread) is the one way to end a zts_bsd_poll early.
    socket: () => f.socket(AF_INET, SOCK.STREAM),
    close: f.close,
  };
}
