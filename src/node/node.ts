/**
 * {@link ZeroTierNode}: one embedded ZeroTier node with a clear lifecycle
 * (start, wait until online, join networks, stop) and every libzt event as
 * RxJS observables. The node's public face: its machinery (start, what it
 * holds, stop) is in `lifecycle.ts`, its events come through the event pump
 * (`event_pump.ts`), its sockets through its socket host (`socket_host.ts`).
 *
 * @module
 */
import { distinctUntilChanged, type Observable } from "rxjs";
import { NodeStateError } from "../errors.ts";
import { addressesOf, secretIdentityOf, statsOf } from "../ffi/calls.ts";
import { hexId, type IpPrefix, type StoreEvent, type ZeroTierEvent } from "../ffi/events.ts";
import { check } from "../ffi/init.ts";
import type { NodeStats } from "../ffi/stats.ts";
import {
  type HttpHandler,
  type HttpServeOptions,
  type HttpServer,
  serveHttp,
} from "../http/serve.ts";
import { type ConnectOptions, connectTcp, type ListenOptions, listenTcp } from "../streams/dial.ts";
import type { TcpConn } from "../streams/tcp.ts";
import type { TcpListener } from "../streams/tcp_listener.ts";
import { type DatagramConn, type DatagramOptions, listenDatagram } from "../streams/udp.ts";
import { type NetworkIdInput, toNetworkId, toNodeId } from "../validate.ts";
import type { AddressChange, EventCounters } from "./event_pump.ts";
import { exposeInternals } from "./internals.ts";
import { NodeCore, type NodeLifecycle } from "./lifecycle.ts";
import { joinNetwork, leaveNetwork } from "./membership.ts";
import {
  DEFAULT_LEAVE_TIMEOUT,
  type JoinOptions,
  readJoinOptions,
  readWaitOptions,
  type StartOptions,
  validateStartOptions,
  type WaitUntilOptions,
} from "./options.ts";
import type { NetworkState, PeerState } from "./state.ts";
import { waitFor } from "./wait.ts";

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
  readonly #core: NodeCore;

  /** Every libzt event, decoded. Hot: subscribers see events from when they subscribe. */
  readonly events$: Observable<ZeroTierEvent>;
  /** Whether the node reaches the ZeroTier roots. Replays the current value. */
  readonly online$: Observable<boolean>;
  /** Every known network's state, keyed by network id. Replays the current map. */
  readonly networks$: Observable<ReadonlyMap<string, NetworkState>>;
  /** Every known peer's state, keyed by peer id. Replays the current map. */
  readonly peers$: Observable<ReadonlyMap<string, PeerState>>;
  /** Addresses the node gains and loses on its networks. Hot. */
  readonly address$: Observable<AddressChange>;
  /**
   * Data libzt would persist (`STORE_IDENTITY_SECRET`, `STORE_IDENTITY_PUBLIC`,
   * `STORE_PLANET`, `STORE_PEER`, `STORE_NETWORK`), so an app can keep it
   * itself. Hot. The secret identity is sensitive: store it owner-only.
   */
  readonly store$: Observable<StoreEvent>;

  static {
    exposeInternals((n) => n.#core.internals);
  }

  private constructor(token: symbol, core: NodeCore) {
    if (token !== CONSTRUCT) {
      throw new NodeStateError(
        "NODE_NOT_STARTED",
        "A ZeroTierNode is made by `await ZeroTierNode.start(options)`, not by `new ZeroTierNode()`.",
      );
    }
    this.#core = core;
    const pump = core.pump;
    this.events$ = pump.events.asObservable();
    this.online$ = pump.online.pipe(distinctUntilChanged());
    this.networks$ = pump.networks.asObservable();
    this.peers$ = pump.peers.asObservable();
    this.address$ = pump.address$;
    this.store$ = pump.store$;
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
    return new ZeroTierNode(CONSTRUCT, await NodeCore.start(validateStartOptions(options)));
  }

  /** This node's id: 10 hex digits. */
  get nodeId(): string {
    return this.#core.nodeId;
  }

  /** Where the node is in its lifecycle. */
  get lifecycle(): NodeLifecycle {
    return this.#core.lifecycle;
  }

  /** Whether the node is online now. */
  get isOnline(): boolean {
    return this.#core.pump.online.value;
  }

  /** Path of the libzt this node runs on. */
  get libraryPath(): string {
    return this.#core.lib.path;
  }

  /** Counters of the event pipeline (received, decode errors, dropped). */
  get eventCounters(): EventCounters {
    return this.#core.pump.counters;
  }

  /** The primary UDP port libzt bound. */
  get port(): number {
    this.#core.assertRunning("port");
    const port = this.#core.lib.fn.zts_node_get_port();
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
    return this.#core.pump.network$(hexId(toNetworkId(networkId), 16));
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
    return this.#core.pump.peer$(
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
      this.#core.assertRunning("connect");
      return connectTcp(this.#core.socketHost, options);
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
    this.#core.assertRunning("listen");
    return listenTcp(this.#core.socketHost, options);
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
    this.#core.assertRunning("listenDatagram");
    return listenDatagram(this.#core.socketHost, options);
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
    this.#core.assertRunning("serve");
    const networks = this.#core.pump.networks;
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
      this.#core.assertRunning("fetch");
      return this.#core.httpClient(this).fetch(input, init);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sockets this node has open now (connections, listeners, UDP sockets). */
  get openSockets(): number {
    return this.#core.sockets.size;
  }

  /** Resolves when the node is online (immediately if it is). */
  async waitUntilOnline(options: WaitUntilOptions = {}): Promise<void> {
    const { timeout, signal } = readWaitOptions(options);
    this.#core.assertRunning("waitUntilOnline");
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
    this.#core.assertRunning("join");
    return await joinNetwork(this.#core.lib, this.#core.pump, id, hexId(id, 16), family, {
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
    this.#core.assertRunning("leave");
    await leaveNetwork(this.#core.lib, this.#core.pump, id, hexId(id, 16), { timeout, signal });
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
    this.#core.assertRunning("addresses");
    return addressesOf(this.#core.lib, id);
  }

  /**
   * The node's secret identity (`nodeId:0:public:secret`), to persist and
   * pass back as `StartOptions.identity`. Treat it like a private key.
   */
  secretIdentity(): string {
    this.#core.assertRunning("secretIdentity");
    return secretIdentityOf(this.#core.lib);
  }

  /**
   * lwIP's traffic counters for the whole node.
   *
   * @throws {UnavailableError} when this libzt build has no statistics.
   */
  stats(): NodeStats {
    this.#core.assertRunning("stats");
    return statsOf(this.#core.lib);
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
    return this.#core.stop();
  }

  /** `await using node = await ZeroTierNode.start()` stops it at scope end. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** A short description; internals stay out of logs. */
  toString(): string {
    return `ZeroTierNode { nodeId: "${this.#core.nodeId}", lifecycle: "${this.#core.lifecycle}", online: ${this.#core.pump.online.value} }`;
  }
  /** `JSON.stringify(node)`: the same short description, never internals or secrets. */
  toJSON(): { nodeId: string; lifecycle: NodeLifecycle; online: boolean } {
    return {
      nodeId: this.#core.nodeId,
      lifecycle: this.#core.lifecycle,
      online: this.#core.pump.online.value,
    };
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
