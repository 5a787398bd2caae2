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
