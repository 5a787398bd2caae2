/**
 * {@link ZeroTierNode}: one embedded ZeroTier node with a clear lifecycle
 * (start, wait until online, join networks, stop) and every libzt event as
 * RxJS observables. The node's public face: its events come through the
 * event pump (`event_pump.ts`), its sockets through its socket host
 * (`socket_host.ts`), libzt's init calls are in `src/ffi/init.ts`.
 *
 * @module
 */
import { distinctUntilChanged, type Observable } from "rxjs";
import { NodeStateError } from "../errors.ts";
import type { NativeLibrary } from "../ffi/backend.ts";
import { addressesOf, secretIdentityOf, statsOf } from "../ffi/calls.ts";
import { hexId, type IpPrefix, type StoreEvent, type ZeroTierEvent } from "../ffi/events.ts";
import { check, ensurePrivateDirectory, initializeNode, startNode } from "../ffi/init.ts";
import { loadLibrary } from "../ffi/runtime.ts";
import type { NodeStats } from "../ffi/stats.ts";
import { type ConnectOptions, connectTcp, type ListenOptions, listenTcp } from "../streams/dial.ts";
import type { Closable, SocketHost } from "../streams/host.ts";
import { DEFAULT_KEEPALIVE } from "../streams/keepalive.ts";
import type { TcpConn } from "../streams/tcp.ts";
import type { TcpListener } from "../streams/tcp_listener.ts";
import { type DatagramConn, type DatagramOptions, listenDatagram } from "../streams/udp.ts";
import { type NetworkIdInput, toNetworkId, toNodeId } from "../validate.ts";
import { HttpClient } from "../http/fetch.ts";
import {
  type HttpHandler,
  type HttpServeOptions,
  type HttpServer,
  serveHttp,
} from "../http/serve.ts";
import { type AddressChange, type EventCounters, EventPump } from "./event_pump.ts";
import { failConnectionsOf, type UnreachablePeers, unreachablePeersFor } from "./liveness.ts";
import {
  DEFAULT_LEAVE_TIMEOUT,
  DEFAULT_START_TIMEOUT,
  type JoinOptions,
  readJoinOptions,
  readWaitOptions,
  receiveTuningOf,
  type StartOptions,
  validateStartOptions,
  type WaitUntilOptions,
} from "./options.ts";
import { closeSocketHost, createSocketHost, type SocketHostParts } from "./socket_host.ts";
import type { NetworkState, PeerState } from "./state.ts";
import { assertNoProcessNode, claimProcessNode, releaseProcessNode } from "./process_node.ts";
import { describeInternals, exposeInternals } from "./internals.ts";
import { joinNetwork, leaveNetwork } from "./membership.ts";
import { waitFor } from "./wait.ts";

/** Lifecycle of a node. */
export type NodeLifecycle = "starting" | "running" | "stopping" | "stopped";

// Only start() may construct a node.
const CONSTRUCT = Symbol("ZeroTierNode.start");

/**
 * An embedded ZeroTier node. Create it with {@link ZeroTierNode.start}
 * (`new ZeroTierNode()` throws `NODE_NOT_STARTED`); one per process (a libzt
 * limit); after {@link ZeroTierNode.stop} a process cannot start another.
 * Printing a node (`console.log`, `Deno.inspect`, `util.inspect`,
 * `JSON.stringify`) shows its id, lifecycle and online state only.
 *
 * Observables: `events$` is hot (no replay); `online$`, `network$()`,
 * `networks$`, `peer$()` and `peers$` replay the current state to each new
 * subscriber; all complete when the node stops.
 *
 * @example
 * ```ts
 * import { ZeroTierNode, adhocNetworkId } from "@rxzt/rxzt";
 * const node = await ZeroTierNode.start();
 * node.online$.subscribe((up) => console.log("online:", up));
 * await node.waitUntilOnline({ timeout: 30_000 });
 * const net = await node.join(adhocNetworkId(5000, 5010));
 * console.log(net.assignedAddresses);
 * await node.stop();
 * ```
 */
export class ZeroTierNode {
  readonly #lib: NativeLibrary;
  readonly #pump = new EventPump((peer) => this.#unreachable?.update(peer));
  #lifecycle: NodeLifecycle = "starting";
  #stopping?: Promise<void>;
  #nodeId = "";
  #nativeStarted = false;
  #socketHost?: SocketHost;
  /** What its sockets start with (not the start options: those hold the secret identity). */
  #socketOptions: Pick<SocketHostParts, "receiveTuning" | "keepAlive"> = {
    keepAlive: DEFAULT_KEEPALIVE,
  };
  #unreachable?: UnreachablePeers;
  #http?: HttpClient;
  readonly #stopped = new AbortController();
  readonly #sockets = new Set<Closable>();

  /** Every libzt event, decoded. Hot: subscribers see events from when they subscribe. */
  readonly events$: Observable<ZeroTierEvent> = this.#pump.events.asObservable();
  /** Whether the node reaches the ZeroTier roots. Replays the current value. */
  readonly online$: Observable<boolean> = this.#pump.online.pipe(
    distinctUntilChanged(),
  );
  /** Every known network's state, keyed by network id. Replays the current map. */
  readonly networks$: Observable<ReadonlyMap<string, NetworkState>> = this.#pump.networks
    .asObservable();
  /** Every known peer's state, keyed by peer id. Replays the current map. */
  readonly peers$: Observable<ReadonlyMap<string, PeerState>> = this.#pump.peers.asObservable();
  /** Addresses the node gains and loses on its networks. Hot. */
  readonly address$: Observable<AddressChange> = this.#pump.address$;
  /**
   * Data libzt would persist (`STORE_IDENTITY_SECRET`, `STORE_IDENTITY_PUBLIC`,
   * `STORE_PLANET`, `STORE_PEER`, `STORE_NETWORK`), so an app can keep it
   * itself. Hot. The secret identity is sensitive: store it owner-only.
   */
  readonly store$: Observable<StoreEvent> = this.#pump.store$;

  static {
    exposeInternals((n) => describeInternals(n.#pump, n.#sockets.size, n.#socketHost?.receiver));
  }

  private constructor(token: symbol, lib: NativeLibrary) {
    if (token !== CONSTRUCT) {
      throw new NodeStateError(
        "NODE_NOT_STARTED",
        "A ZeroTierNode is made by `await ZeroTierNode.start(options)`, not by `new ZeroTierNode()`.",
      );
    }
    this.#lib = lib;
  }

  /**
   * Starts the node and resolves once libzt reports it up (it then needs a
   * few seconds more to come online: see {@link waitUntilOnline}).
   *
   * @throws {NodeStateError} `NODE_ALREADY_RUNNING` if this process has a node
   *   (running or starting), `NODE_NOT_RESTARTABLE` if it had one that stopped.
   *   A start that fails before libzt starts (bad option, aborted signal) does
   *   not use up the process's one node.
   * @throws {InvalidArgumentError} for a bad option (an unknown key too); the
   *   options are read once. A missing `storagePath` is created 0700.
   *
   * @example
   * ```ts
   * const node = await ZeroTierNode.start({ storagePath: "./zt-state", timeout: 10_000 });
   * ```
   * @throws {LibraryNotFoundError | LibraryLoadError} when libzt is missing or unusable.
   */
  static async start(options: StartOptions = {}): Promise<ZeroTierNode> {
    const opts = validateStartOptions(options);
    // An aborted start must not use up the process's one node.
    opts.signal?.throwIfAborted();
    assertNoProcessNode();
    const lib = loadLibrary(opts.libraryPath);
    if (opts.storagePath !== undefined) ensurePrivateDirectory(opts.storagePath);
    const node = new ZeroTierNode(CONSTRUCT, lib);
    node.#socketOptions = {
      receiveTuning: receiveTuningOf(opts),
      keepAlive: opts.keepAlive ?? DEFAULT_KEEPALIVE,
    };
    node.#unreachable = unreachablePeersFor(opts.peerUnreachableTimeout, (peerId, ms) => {
      if (node.#lifecycle !== "running") return;
      failConnectionsOf(node.#sockets, [...node.#pump.networks.value.keys()], peerId, ms);
    });
    claimProcessNode(node);
    try {
      initializeNode(lib, opts, (raw) => node.#pump.receive(raw));
      const up = node.#pump.nodeUp(opts.timeout ?? DEFAULT_START_TIMEOUT, opts.signal);
      startNode(lib);
      node.#nativeStarted = true;
      await up;
      node.#nodeId = hexId(lib.fn.zts_node_get_id(), 10);
      node.#lifecycle = "running";
      return node;
    } catch (err) {
      await node.#shutdown();
      // Nothing ran natively: a corrected retry in this process is fine.
      if (!node.#nativeStarted) releaseProcessNode(node);
      throw err;
    }
  }

  /** This node's id: 10 hex digits. */
  get nodeId(): string {
    return this.#nodeId;
  }

  /** Where the node is in its lifecycle. */
  get lifecycle(): NodeLifecycle {
    return this.#lifecycle;
  }

  /** Whether the node is online now. */
  get isOnline(): boolean {
    return this.#pump.online.value;
  }

  /** Path of the libzt this node runs on. */
  get libraryPath(): string {
    return this.#lib.path;
  }

  /** Counters of the event pipeline (received, decode errors, dropped). */
  get eventCounters(): EventCounters {
    return this.#pump.counters;
  }

  /** The primary UDP port libzt bound. */
  get port(): number {
    this.#assertRunning("port");
    const port = this.#lib.fn.zts_node_get_port();
    check("zts_node_get_port", port);
    return port;
  }

  /**
   * The state of one network over time: emits the current state (if the
   * node knows the network) and every change. Completes when the node stops.
   *
   * @example
   * ```ts
   * node.network$("ff00160016000000").subscribe((n) => console.log(n.status, n.readyIPv6));
   * ```
   */
  network$(networkId: NetworkIdInput): Observable<NetworkState> {
    return this.#pump.network$(hexId(toNetworkId(networkId), 16));
  }

  /**
   * Peer state changes (link DIRECT / RELAY / UNREACHABLE, paths, latency).
   * With a peer id: that peer's current state, then its changes. Without:
   * every known peer's current state, then every change.
   *
   * @example
   * ```ts
   * node.peer$().subscribe((p) => console.log(p.peerId, p.link, p.paths));
   * ```
   */
  peer$(peerId?: string | bigint): Observable<PeerState> {
    return this.#pump.peer$(
      peerId === undefined ? undefined : hexId(toNodeId(peerId, "peerId"), 10),
    );
  }

  /**
   * Opens a TCP connection to a peer on a joined network, like
   * `Deno.connect`. Waits (within `timeout`) until some joined network is
   * ready for the address's family, and retries while ZeroTier sets up the
   * path to the peer.
   *
   * @example
   * ```ts
   * const conn = await node.connect({ hostname: "fc12:3456:78aa:bbcc:dd00::1", port: 5000 });
   * await conn.readable.pipeTo(Deno.stdout.writable);
   * ```
   */
  connect(options: ConnectOptions): Promise<TcpConn> {
    try {
      this.#assertRunning("connect");
      return connectTcp(this.#sockets$(), options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Listens for TCP connections, like `Deno.listen`.
   *
   * @example
   * ```ts
   * const listener = node.listen({ port: 5000 });
   * for await (const conn of listener) conn.readable.pipeTo(conn.writable); // echo
   * ```
   */
  listen(options: ListenOptions): TcpListener {
    this.#assertRunning("listen");
    return listenTcp(this.#sockets$(), options);
  }

  /**
   * Opens a UDP socket: a readable of received datagrams and a writable of
   * datagrams to send.
   *
   * @example
   * ```ts
   * const udp = node.listenDatagram({ port: 5003 });
   * for await (const { data, remoteAddr } of udp.readable) console.log(remoteAddr, data);
   * ```
   */
  listenDatagram(options: DatagramOptions): DatagramConn {
    this.#assertRunning("listenDatagram");
    return listenDatagram(this.#sockets$(), options);
  }

  /**
   * Serves HTTP over ZeroTier, like `Deno.serve`: `handler(request, info)`
   * returns a `Response` (a Hono app's `app.fetch` serves as it is). See
   * {@link HttpServeOptions}; `info.peerId` is the client's node id where its
   * address encodes it. Runs `node:http` over rxzt connections.
   *
   * @example
   * ```ts
   * const server = node.serve({ port: 8000 }, (req) => Response.json({ path: new URL(req.url).pathname }));
   * await server.shutdown();
   * ```
   */
  serve(options: HttpServeOptions, handler: HttpHandler): HttpServer {
    this.#assertRunning("serve");
    const networks = this.#pump.networks;
    return serveHttp(
      { listen: (o) => this.listen(o), networkIds: () => networks.value.keys() },
      options,
      handler,
    );
  }

  /**
   * `fetch` over ZeroTier (`http:` URLs to peers' ZeroTier addresses), with the global
   * `fetch`'s signature and semantics; keep-alive connections are pooled per origin and
   * closed at `stop()`. `https:` rejects with `UnsupportedProtocolError`.
   *
   * @example
   * ```ts
   * const res = await node.fetch("http://10.44.238.229:8000/", { signal: AbortSignal.timeout(10_000) });
   * console.log(await res.json());
   * ```
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    try {
      this.#assertRunning("fetch");
      return (this.#http ??= new HttpClient(this)).fetch(input, init);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sockets this node has open now (connections, listeners, UDP sockets). */
  get openSockets(): number {
    return this.#sockets.size;
  }

  #sockets$(): SocketHost {
    this.#socketHost ??= createSocketHost({
      lib: this.#lib,
      sockets: this.#sockets,
      networks: this.#pump.networks,
      ...this.#socketOptions,
      stopped: this.#stopped.signal,
    });
    return this.#socketHost;
  }

  /** Resolves when the node is online (immediately if it is). */
  async waitUntilOnline(options: WaitUntilOptions = {}): Promise<void> {
    const { timeout, signal } = readWaitOptions(options);
    this.#assertRunning("waitUntilOnline");
    return await waitFor(this.online$, (up) => (up ? { done: undefined } : undefined), {
      timeout,
      signal,
      what: "waiting for the node to come online",
    });
  }

  /**
   * Joins a network and resolves with its state once it is ready for the
   * requested address family; rejects with a {@link NetworkError} when the
   * network turns out not found, access denied, client too old or down.
   * Joining a network already joined (in turn or concurrently) waits for the
   * same readiness and resolves with the same state. Joining a network that
   * ended not found, access denied, client too old or port error asks its
   * controller anew (rxzt leaves it first: libzt would not ask again).
   *
   * @example
   * ```ts
   * const net = await node.join("ff00160016000000", { family: "IPv6", timeout: 30_000 });
   * ```
   */
  async join(networkId: NetworkIdInput, options: JoinOptions = {}): Promise<NetworkState> {
    const id = toNetworkId(networkId);
    const { family, timeout, signal } = readJoinOptions(options);
    this.#assertRunning("join");
    return await joinNetwork(this.#lib, this.#pump, id, hexId(id, 16), family, {
      timeout,
      signal,
    });
  }

  /**
   * Leaves a network; resolves when libzt reports it down.
   *
   * @example
   * ```ts
   * await node.leave("ff00160016000000");
   * ```
   */
  async leave(networkId: NetworkIdInput, options: WaitUntilOptions = {}): Promise<void> {
    const id = toNetworkId(networkId);
    const { timeout = DEFAULT_LEAVE_TIMEOUT, signal } = readWaitOptions(options);
    this.#assertRunning("leave");
    await leaveNetwork(this.#lib, this.#pump, id, hexId(id, 16), { timeout, signal });
  }

  /**
   * The addresses libzt has assigned to this node on a network right now.
   *
   * @example
   * ```ts
   * console.log(node.addresses("ff00160016000000"));
   * ```
   */
  addresses(networkId: NetworkIdInput): IpPrefix[] {
    const id = toNetworkId(networkId);
    this.#assertRunning("addresses");
    return addressesOf(this.#lib, id);
  }

  /**
   * The node's secret identity (`nodeId:0:public:secret`), to persist and
   * pass back as `StartOptions.identity`. Treat it like a private key.
   */
  secretIdentity(): string {
    this.#assertRunning("secretIdentity");
    return secretIdentityOf(this.#lib);
  }

  /**
   * lwIP's traffic counters for the whole node.
   *
   * @throws {UnavailableError} when this libzt build has no statistics.
   */
  stats(): NodeStats {
    this.#assertRunning("stats");
    return statsOf(this.#lib);
  }

  /**
   * Stops the node: completes every observable, releases libzt's callback and
   * lets the process exit by itself. Safe to call more than once, concurrently
   * or from inside a subscriber: every call returns the same promise. Pending
   * waits, reads, writes and accepts reject with `NodeStateError`
   * `NODE_STOPPED`, and so does every later call (argument errors first).
   *
   * @example
   * ```ts
   * await node.stop();
   * await node.stop(); // resolves again at once
   * ```
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  /** `await using node = await ZeroTierNode.start()` stops it at scope end. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #shutdown(): Promise<void> {
    if (this.#lifecycle === "stopped") return;
    this.#lifecycle = "stopping";
    const reason = new NodeStateError("NODE_STOPPED", "The node stopped: its sockets are closed.");
    this.#stopped.abort(reason);
    this.#unreachable?.dispose();
    this.#http?.close();
    for (const socket of [...this.#sockets]) socket.terminate(reason);
    if (this.#socketHost) await closeSocketHost(this.#socketHost, reason);
    try {
      // zts_node_stop takes libzt's service lock: run it off the JS thread.
      if (this.#nativeStarted) {
        await this.#lib.fn.zts_node_stop();
        await this.#pump.untilQuiet();
      }
    } finally {
      this.#pump.flush();
      this.#pump.online.next(false);
      this.#lifecycle = "stopped";
      this.#pump.complete();
      this.#lib.releaseEventHandler();
    }
  }

  #assertRunning(what: string): void {
    if (this.#lifecycle === "stopped" || this.#lifecycle === "stopping") {
      throw new NodeStateError("NODE_STOPPED", `Cannot use ${what}: the node was stopped.`);
    }
  }

  /** A short description; internals stay out of logs. */
  toString(): string {
    return `ZeroTierNode { nodeId: "${this.#nodeId}", lifecycle: "${this.#lifecycle}", online: ${this.#pump.online.value} }`;
  }
  /** `JSON.stringify(node)`: the same short description, never internals or secrets. */
  toJSON(): { nodeId: string; lifecycle: NodeLifecycle; online: boolean } {
    return { nodeId: this.#nodeId, lifecycle: this.#lifecycle, online: this.#pump.online.value };
  }
  /** Deno's inspect hook: keeps internals out of `console.log`. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
  /** Node's inspect hook, same output. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
