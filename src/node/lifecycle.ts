/**
 * A node's machinery behind its public face (`node.ts`): how it starts (from
 * checked start options to libzt reporting it up), what it holds while it
 * runs (libzt, the event pump, its sockets and their host, the liveness
 * timers, the HTTP client) and how it stops.
 *
 * @module
 */
import { NodeStateError } from "../errors.ts";
import type { NativeLibrary } from "../ffi/backend.ts";
import { hexId } from "../ffi/events.ts";
import { ensurePrivateDirectory, initializeNode, startNode } from "../ffi/init.ts";
import { loadLibrary } from "../ffi/runtime.ts";
import { HttpClient } from "../http/fetch.ts";
import type { Closable, SocketHost } from "../streams/host.ts";
import { DEFAULT_KEEPALIVE } from "../streams/keepalive.ts";
import type { NodeSocketDialer } from "../streams/node_socket_wrap.ts";
import { EventPump } from "./event_pump.ts";
import { describeInternals, type NodeInternals } from "./internals.ts";
import { failConnectionsOf, type UnreachablePeers, unreachablePeersFor } from "./liveness.ts";
import { DEFAULT_START_TIMEOUT, receiveTuningOf, type StartOptions } from "./options.ts";
import { assertNoProcessNode, claimProcessNode, releaseProcessNode } from "./process_node.ts";
import { closeSocketHost, createSocketHost, type SocketHostParts } from "./socket_host.ts";

/** Lifecycle of a node. */
export type NodeLifecycle = "starting" | "running" | "stopping" | "stopped";

/** @internal One node's machinery, from start to stop. */
export class NodeCore {
  /** The libzt the node runs on. */
  readonly lib: NativeLibrary;
  /** Its events and the state folded from them. */
  readonly pump: EventPump = new EventPump((peer) => this.#unreachable?.update(peer));
  /** Its open sockets. */
  readonly sockets: Set<Closable> = new Set();
  /** Where it is in its lifecycle. */
  lifecycle: NodeLifecycle = "starting";
  /** Its id (10 hex digits) once up. */
  nodeId = "";
  readonly #stopped = new AbortController();
  /** What its sockets start with (not the start options: those hold the secret identity). */
  readonly #socketOptions: Pick<SocketHostParts, "receiveTuning" | "keepAlive">;
  readonly #unreachable?: UnreachablePeers;
  #nativeStarted = false;
  #socketHost?: SocketHost;
  #http?: HttpClient;
  #stopping?: Promise<void>;

  private constructor(lib: NativeLibrary, options: StartOptions) {
    this.lib = lib;
    this.#socketOptions = {
      receiveTuning: receiveTuningOf(options),
      keepAlive: options.keepAlive ?? DEFAULT_KEEPALIVE,
    };
    this.#unreachable = unreachablePeersFor(options.peerUnreachableTimeout, (peerId, ms) => {
      if (this.lifecycle !== "running") return;
      failConnectionsOf(this.sockets, [...this.pump.networks.value.keys()], peerId, ms);
    });
  }

  /**
   * Starts a node from checked start options; resolves once libzt reports it
   * up. A start that fails before libzt ran anything leaves the process free
   * to start another.
   */
  static async start(options: StartOptions): Promise<NodeCore> {
    // An aborted start must not use up the process's one node.
    options.signal?.throwIfAborted();
    assertNoProcessNode();
    const lib = loadLibrary(options.libraryPath);
    if (options.storagePath !== undefined) ensurePrivateDirectory(options.storagePath);
    const core = new NodeCore(lib, options);
    claimProcessNode(core);
    try {
      initializeNode(lib, options, (raw) => core.pump.receive(raw));
      const up = core.pump.nodeUp(options.timeout ?? DEFAULT_START_TIMEOUT, options.signal);
      startNode(lib);
      core.#nativeStarted = true;
      await up;
      core.nodeId = hexId(lib.fn.zts_node_get_id(), 10);
      core.lifecycle = "running";
      return core;
    } catch (err) {
      await core.#shutdown();
      // Nothing ran natively: a corrected retry in this process is fine.
      if (!core.#nativeStarted) releaseProcessNode(core);
      throw err;
    }
  }

  /** What the node lends its sockets (made at the first socket). */
  get socketHost(): SocketHost {
    this.#socketHost ??= createSocketHost({
      lib: this.lib,
      sockets: this.sockets,
      networks: this.pump.networks,
      ...this.#socketOptions,
      stopped: this.#stopped.signal,
    });
    return this.#socketHost;
  }

  /** The node's HTTP client (made at the first fetch; `dialer` is the node). */
  httpClient(dialer: NodeSocketDialer): HttpClient {
    return this.#http ??= new HttpClient(dialer);
  }

  /** Counts of what the node holds, for leak tests. */
  get internals(): NodeInternals {
    return describeInternals(this.pump, this.sockets.size, this.#socketHost?.receiver);
  }

  /** Throws `NODE_STOPPED` once the node stops. */
  assertRunning(what: string): void {
    if (this.lifecycle === "stopped" || this.lifecycle === "stopping") {
      throw new NodeStateError("NODE_STOPPED", `Cannot use ${what}: the node was stopped.`);
    }
  }

  /** Stops the node; every call returns the same promise. */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    if (this.lifecycle === "stopped") return;
    this.lifecycle = "stopping";
    const reason = new NodeStateError("NODE_STOPPED", "The node stopped: its sockets are closed.");
    this.#stopped.abort(reason);
    this.#unreachable?.dispose();
    this.#http?.close();
    for (const socket of [...this.sockets]) socket.terminate(reason);
    if (this.#socketHost) await closeSocketHost(this.#socketHost, reason);
    try {
      // zts_node_stop takes libzt's service lock: run it off the JS thread.
      if (this.#nativeStarted) {
        await this.lib.fn.zts_node_stop();
        await this.pump.untilQuiet();
      }
    } finally {
      this.pump.flush();
      this.pump.online.next(false);
      this.lifecycle = "stopped";
      this.pump.complete();
      this.lib.releaseEventHandler();
    }
  }
}
