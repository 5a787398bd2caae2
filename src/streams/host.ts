/**
 * What the stream layer needs from a running node: the socket calls, the
 * shared poller, a registry of open sockets (for counts and for closing them
 * all at stop), and a way to wait until an address family can carry traffic.
 *
 * @module
 */
import { ERRNO } from "../ffi/codes.ts";
import type { Outcome, SocketCalls } from "../ffi/sockets.ts";
import type { ReadinessPoller } from "./poller.ts";
import type { ReceiveThread } from "./receive_thread.ts";
import type { KeepAlive } from "./keepalive.ts";

/** Something that holds a socket and can be closed by the node. */
export interface Closable {
  terminate(reason: unknown): void;
}

/** The node side of sockets. */
export interface SocketHost {
  readonly calls: SocketCalls;
  readonly poller: ReadinessPoller;
  /** The I/O thread that reads TCP connections (absent: they are read on the JS thread). */
  readonly receiver?: ReceiveThread;
  /** Keep-alive every new TCP connection starts with (`false`: none). */
  readonly keepAlive: KeepAlive | false;
  /** Aborted (with a NODE_STOPPED reason) when the node stops. */
  readonly stopped: AbortSignal;
  track(socket: Closable): void;
  untrack(socket: Closable): void;
  /** Resolves once some joined network is ready for `family`. */
  familyReady(family: "IPv4" | "IPv6", signal: AbortSignal): Promise<void>;
  /** This node's address on the joined network whose prefix contains `destination`, if any. */
  sourceAddressFor(destination: string): string | undefined;
}

/**
 * Releases a socket exactly as every owner must: forget it, fail its pending
 * waits with `reason`, and close the fd (after any poll in flight returns and
 * the I/O thread let go of it).
 * `lingerSeconds` is the socket's `SO_LINGER` time, if it set one.
 */
export function releaseSocket(
  host: SocketHost,
  owner: Closable,
  fd: number,
  reason: unknown,
  lingerSeconds = 0,
): void {
  host.untrack(owner);
  host.poller.cancel(fd, reason);
  const close = () => host.poller.release(fd, () => closeSocket(host, fd, lingerSeconds));
  // The I/O thread must have let go of the socket first (it may be polling it).
  if (host.receiver) host.receiver.release(fd, close);
  else close();
}

/** How often a lingering close is tried again. */
const LINGER_RETRY_MS = 50;

/**
 * Closes `fd`. With `SO_LINGER` > 0 and data not yet acknowledged, lwIP
 * refuses to close a non-blocking socket (EWOULDBLOCK) and leaves it open,
 * which would leak it. So rxzt lingers itself, without blocking the JS thread: it
 * tries again until the data is out (then the close goes through) or the
 * linger time is up, and then resets the connection, as a blocking close
 * would. Stopping the node ends the wait (libzt frees every socket then).
 */
function closeSocket(host: SocketHost, fd: number, lingerSeconds: number): void {
  if (!mustLinger(host.calls.close(fd), lingerSeconds) || host.stopped.aborted) return;
  const deadline = performance.now() + lingerSeconds * 1000;
  let timer: ReturnType<typeof setTimeout>;
  const onStop = () => clearTimeout(timer);
  const retry = () => {
    if (performance.now() >= deadline) host.calls.setLinger(fd, 0); // the close then resets
    if (mustLinger(host.calls.close(fd), lingerSeconds)) timer = setTimeout(retry, LINGER_RETRY_MS);
    else host.stopped.removeEventListener("abort", onStop);
  };
  host.stopped.addEventListener("abort", onStop, { once: true });
  timer = setTimeout(retry, LINGER_RETRY_MS);
}

const mustLinger = (closed: Outcome, lingerSeconds: number) =>
  !closed.ok && lingerSeconds > 0 && closed.errno === ERRNO.EAGAIN;

/** Errors the given stream controllers with `reason`, ignoring ones already closed. */
export function errorStreams(
  reason: unknown,
  ...controllers: ({ error(reason: unknown): void } | undefined)[]
): void {
  for (const controller of controllers) {
    try {
      controller?.error(reason);
    } catch { /* already closed or errored */ }
  }
}
