/**
 * Waiting for a direct path to a peer before connecting to it: the helpers
 * that read a node's `peer$`.
 *
 * @module
 */
import { filter, firstValueFrom, type Observable, timeout as rxTimeout } from "rxjs";
import { InvalidArgumentError, NodeStateError, TimeoutError } from "../errors.ts";
import { hexId } from "../ffi/events.ts";
import { readOptions, readProperty, toNodeId, toSignal, toTimeout } from "../validate.ts";
import { type ConnectOptions, validateConnectOptions } from "../streams/dial.ts";
import type { TcpConn } from "../streams/tcp.ts";
import type { PeerState } from "./state.ts";

/** What {@link whenDirect} and {@link connectWhenDirect} need of a node. */
export interface PeerSource {
  /** A peer's state over time (as `ZeroTierNode.peer$`). */
  peer$(peerId: string): Observable<PeerState>;
}

/**
 * Resolves once `peerId` is reachable over a direct path.
 *
 * @example
 * ```ts
 * import { whenDirect } from "@rxzt/rxzt";
 * await whenDirect(node, "89e92ceee5", { timeout: 60_000 });
 * ```
 */
export async function whenDirect(
  node: PeerSource,
  peerId: string,
  options: { timeout?: number; signal?: AbortSignal } = {},
): Promise<PeerState> {
  const peer = peerSource(node);
  const id = hexId(toNodeId(peerId, "peerId"), 10);
  const o = readOptions(options, "options", ["timeout", "signal"]);
  const timeout = toTimeout(o.timeout);
  const signal = toSignal(o.signal);
  signal?.throwIfAborted();
  let source$ = peer(id).pipe(filter((p) => p.link === "DIRECT"));
  if (timeout !== undefined) source$ = source$.pipe(rxTimeout(timeout));
  const pending = firstValueFrom(source$).catch((err) => {
    if (err?.name === "TimeoutError" && timeout !== undefined) {
      throw new TimeoutError(`waiting for a direct path to ${id}`, timeout);
    }
    if (err?.name === "EmptyError") {
      throw new NodeStateError(
        "NODE_STOPPED",
        `waiting for a direct path to ${id}: the node stopped`,
      );
    }
    throw err;
  });
  if (!signal) return await pending;
  let onAbort: () => void = () => {};
  try {
    return await Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function peerSource(node: unknown): (peerId: string) => Observable<PeerState> {
  const fn = readProperty(node, "peer$", "node");
  if (typeof fn !== "function") {
    throw new InvalidArgumentError("node", "must be a ZeroTierNode (something with peer$)", node);
  }
  return (id) => (fn as (id: string) => Observable<PeerState>).call(node, id);
}

/** What {@link reconnecting} and {@link connectWhenDirect} need of a node. */
export interface Dialer extends PeerSource {
  /** Opens a TCP connection (as `ZeroTierNode.connect`). */
  connect(options: ConnectOptions): Promise<TcpConn>;
}

/**
 * Waits until `peerId` is direct, then connects.
 *
 * @example
 * ```ts
 * import { connectWhenDirect } from "@rxzt/rxzt";
 * const conn = await connectWhenDirect(node, "89e92ceee5", { hostname: "10.44.238.229", port: 7000 });
 * ```
 */
export async function connectWhenDirect(
  node: Dialer,
  peerId: string,
  options: ConnectOptions,
): Promise<TcpConn> {
  if (typeof readProperty(node, "connect", "node") !== "function") {
    throw new InvalidArgumentError(
      "node",
      "must be a ZeroTierNode (something with connect and peer$)",
      node,
    );
  }
  const checked = validateConnectOptions(options);
  const connectOptions = {
    hostname: checked.hostname,
    port: checked.port,
    timeout: checked.timeout,
    readBufferSize: checked.readBufferSize,
    ...(checked.userSignal ? { signal: checked.userSignal } : {}),
  };
  await whenDirect(node, peerId, { timeout: checked.timeout, signal: checked.userSignal });
  return await node.connect(connectOptions);
}
