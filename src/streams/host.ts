/**
 * What the stream layer needs from a running node: the socket calls, the
 * shared poller, a registry of open sockets (for counts and for closing them
 * all at stop), and a way to wait until an address family can carry traffic.
 *
 * @module
 */
import type { SocketCalls } from "../ffi/sockets.ts";
import type { ReadinessPoller } from "./poller.ts";

/** Something that holds a socket and can be closed by the node. */
export interface Closable {
  terminate(reason: unknown): void;
}

/** The node side of sockets. */
export interface SocketHost {
  readonly calls: SocketCalls;
  readonly poller: ReadinessPoller;
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
 * waits with `reason`, and close the fd (after any poll in flight returns).
 */
export function releaseSocket(host: SocketHost, owner: Closable, fd: number, reason: unknown): void {
  host.untrack(owner);
  host.poller.cancel(fd, reason);
  host.poller.release(fd, () => host.calls.close(fd));
}

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
