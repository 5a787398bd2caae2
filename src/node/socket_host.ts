/**
 * A running node as the stream layer sees it (`SocketHost`): its socket
 * calls, readiness poller and I/O thread, the registry of its open sockets,
 * and the network state that says when a family can carry traffic and which
 * source address reaches a destination.
 *
 * @module
 */
import type { BehaviorSubject } from "rxjs";
import type { NativeLibrary } from "../ffi/backend.ts";
import { SocketCalls } from "../ffi/sockets.ts";
import type { Closable, SocketHost } from "../streams/host.ts";
import { ReadinessPoller } from "../streams/poller.ts";
import type { ReceiveTuning } from "../streams/receive_loop.ts";
import { ReceiveThread } from "../streams/receive_thread.ts";
import type { KeepAlive } from "../streams/keepalive.ts";
import { isReady, type NetworkState, sourceAddressFor } from "./state.ts";
import { waitFor } from "./wait.ts";

/** What a node lends its sockets. */
export interface SocketHostParts {
  readonly lib: NativeLibrary;
  /** The node's registry of open sockets. */
  readonly sockets: Set<Closable>;
  /** The node's network state. */
  readonly networks: BehaviorSubject<ReadonlyMap<string, NetworkState>>;
  /** Wake-up batching of the I/O thread; absent: TCP is read on the JS thread. */
  readonly receiveTuning?: ReceiveTuning;
  readonly keepAlive: KeepAlive | false;
  /** Aborted when the node stops. */
  readonly stopped: AbortSignal;
}

/** @internal The socket host of a node (made once, at its first socket). */
export function createSocketHost(parts: SocketHostParts): SocketHost {
  const { lib, sockets, networks, receiveTuning } = parts;
  const calls = new SocketCalls(lib);
  return {
    calls,
    poller: new ReadinessPoller(calls),
    receiver: receiveTuning &&
      new ReceiveThread((control, t) => lib.startReceiveWorker(control, t), calls, receiveTuning),
    keepAlive: parts.keepAlive,
    stopped: parts.stopped,
    track: (s) => void sockets.add(s),
    untrack: (s) => void sockets.delete(s),
    familyReady: (family, signal) =>
      waitFor(networks, (all) => {
        for (const n of all.values()) if (isReady(n, family)) return { done: undefined };
        return undefined;
      }, { signal, what: `waiting for a network ready for ${family}` }),
    sourceAddressFor: (destination) => sourceAddressFor(networks.value.values(), destination),
  };
}

/**
 * Stops a node's socket machinery once its sockets are terminated: the I/O
 * thread leaves libzt (the closes it held back run then), the poller fails
 * its waits with `reason`, and the poll in flight returns, so the deferred
 * closes run while libzt's service is still up.
 */
export async function closeSocketHost(host: SocketHost, reason: unknown): Promise<void> {
  await host.receiver?.stop();
  host.poller.shutdown(reason);
  await host.poller.idle();
}
