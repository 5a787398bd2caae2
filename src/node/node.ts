/**
 * {@link ZeroTierNode}: one embedded ZeroTier node with a clear lifecycle
 * (start, wait until online, join networks, stop) and every libzt event as
 * RxJS observables.
 *
 * @module
 */
import { existsSync, mkdirSync } from "node:fs";
import {
  BehaviorSubject,
  defer,
  distinctUntilChanged,
  filter,
  map,
  merge,
  type Observable,
  Subject,
} from "rxjs";
import {
  InvalidArgumentError,
  LibztCallError,
  NetworkError,
  NodeStateError,
  PeerUnreachableError,
  UnavailableError,
} from "../errors.ts";
import type { NativeLibrary, RawEvent } from "../ffi/backend.ts";
import {
  type AddrEvent,
  decodeEvent,
  hexId,
  type IpPrefix,
  type NetworkEvent,
  type PeerEvent,
  type StoreEvent,
  type ZeroTierEvent,
} from "../ffi/events.ts";
import { loadLibrary } from "../ffi/runtime.ts";
import { type IpFamily, prefixContains } from "../ip.ts";
import {
  isInstance,
  type NetworkIdInput,
  readArray,
  readOptions,
  toBool,
  toChoice,
  toCString,
  toInteger,
  toNetworkId,
  toNodeId,
  toPort,
  toSecretIdentity,
  toSignal,
  toTimeout,
} from "../validate.ts";
import { addressesOf, initFromMemory, secretIdentityOf, statsOf } from "../ffi/calls.ts";
import { nulTerminated } from "../ffi/cstring.ts";
import type { NodeStats } from "../ffi/stats.ts";
import {
  initialNetworkState,
  type NetworkState,
  type PeerState,
  reachPeer,
  reduceNetwork,
  reducePeer,
  TERMINAL_PHASES,
} from "./state.ts";
import { waitFor } from "./wait.ts";
import { SocketCalls } from "../ffi/sockets.ts";
import { type ConnectOptions, connectTcp, type ListenOptions, listenTcp } from "../streams/dial.ts";
import type { Closable, SocketHost } from "../streams/host.ts";
import { ReadinessPoller } from "../streams/poller.ts";
import type { ReceiveCounters } from "../streams/receive_control.ts";
import type { ReceiveTuning } from "../streams/receive_loop.ts";
import { DEFAULT_RECEIVE_TUNING, ReceiveThread } from "../streams/receive_thread.ts";
import {
  DEFAULT_KEEPALIVE,
  type KeepAlive,
  type TcpConn,
  type TcpListener,
} from "../streams/tcp.ts";
import { DEFAULT_PEER_UNREACHABLE_TIMEOUT, UnreachablePeers } from "./liveness.ts";
import { isNodeAddress } from "../addressing.ts";
import { type DatagramConn, type DatagramOptions, listenDatagram } from "../streams/udp.ts";

/** Options of {@link ZeroTierNode.start}. Every field is optional. */
export interface StartOptions {
  /**
   * Path of libzt. Default: the `LIBZT_PATH` environment variable, then the
   * usual install locations (see the README's Install section).
   *
   * @default {undefined}
   */
  libraryPath?: string;
  /**
   * Directory where libzt keeps the identity (`identity.secret`) and caches.
   * rxzt creates it owner-only (0700) if it does not exist; an existing one
   * is used as it is (keep it private). Default: none; nothing is written.
   *
   * @default {undefined}
   */
  storagePath?: string;
  /**
   * A secret identity (`generateIdentity()` output) to start with, held in
   * memory. Default: the one in `storagePath`, or a new one.
   *
   * @default {undefined}
   */
  identity?: string;
  /**
   * Primary UDP port. Default: libzt's (9993).
   *
   * @default {9993}
   */
  port?: number;
  /**
   * Pick the primary port at random in this range instead. Default: unset.
   *
   * @default {undefined}
   */
  randomPortRange?: { start: number; end: number };
  /**
   * Also listen on a secondary port. Default: libzt's (true).
   *
   * @default {true}
   */
  secondaryPort?: boolean;
  /**
   * Try UPnP/NAT-PMP port mapping. Default: libzt's (true).
   *
   * @default {true}
   */
  portMapping?: boolean;
  /**
   * A custom root set (see `createRootSet`). Default: ZeroTier's public roots.
   *
   * @default {undefined}
   */
  roots?: Uint8Array;
  /**
   * Which caches libzt may write under `storagePath`. Default: all true.
   *
   * @default {{ identity: true, peers: true, networks: true, roots: true }}
   */
  cache?: { identity?: boolean; peers?: boolean; networks?: boolean; roots?: boolean };
  /**
   * Fewer keepalives and path probes, for metered links. Default: false.
   *
   * @default {false}
   */
  lowBandwidthMode?: boolean;
  /**
   * Interface name prefixes libzt must not send through (e.g. `["docker"]`). Default: none.
   *
   * @default {[]}
   */
  interfaceBlacklist?: string[];
  /**
   * How long to wait for libzt to bring the node up, ms. Default: 30000.
   *
   * @default {30000}
   */
  timeout?: number;
  /**
   * Abort the start. Default: none.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Read TCP connections on an I/O thread of the node's own (a Worker that
   * opens the same libzt), which drains libzt as fast as a C reader would and
   * wakes the JS thread in batches: when `wakeAfterBytes` (default 262144)
   * arrived, or `wakeWithinMs` (default 2) after the previous wake-up, and at
   * once after a quiet spell. `false` reads on the JS thread instead (no
   * Worker; libzt then drops data whenever the app is a few ms late, see the
   * README's Benchmark). Default: true.
   *
   * @default {true}
   */
  receiveThread?: boolean | { wakeAfterBytes?: number; wakeWithinMs?: number };
  /**
   * TCP keep-alive every connection starts with (seconds and probes; change
   * it per connection with `conn.setKeepAlive()`), or `false` for none. A
   * killed peer is noticed idle + interval × count seconds after it was last
   * heard from. Keep that bound above ~100 s, or connections may fail while
   * ZeroTier reroutes a cut path through a root (see {@link DEFAULT_KEEPALIVE}).
   *
   * @default {{ idle: 60, interval: 10, count: 9 }}
   */
  keepAlive?: KeepAlive | false;
  /**
   * Milliseconds a peer may stay `UNREACHABLE` in `peer$` (no direct path and
   * no root reachable) before its TCP connections fail with
   * `PeerUnreachableError`; `false` never fails them for that (keep-alive
   * still does). Connections are matched to peers by address, which works
   * for addresses that encode the node id: 6PLANE, RFC 4193 and ad-hoc IPv4.
   *
   * @default {30000}
   */
  peerUnreachableTimeout?: number | false;
}

/** Options of {@link ZeroTierNode.join}. */
export interface JoinOptions {
  /**
   * Which readiness to wait for: `"any"` (first of IPv4/IPv6, default),
   * `"IPv4"`, `"IPv6"` or `"both"`.
   *
   * @default {"any"}
   */
  family?: "any" | IpFamily | "both";
  /**
   * Milliseconds before rejecting with `TimeoutError`. Default: 60000.
   *
   * @default {60000}
   */
  timeout?: number;
  /**
   * Abort the wait (the join itself stays in effect; call `leave`). Default: none.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Options of waits that only take a timeout and a signal. */
export interface WaitUntilOptions {
  /**
   * Milliseconds before rejecting with `TimeoutError`. Default: no limit.
   *
   * @default {undefined}
   */
  timeout?: number;
  /**
   * Abort the wait. Default: none.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** An address the node gained or lost on a network (`address$`). */
export interface AddressChange {
  /** The network, 16 hex digits. */
  readonly networkId: string;
  /** `"IPv4"` or `"IPv6"`. */
  readonly family: IpFamily;
  /** The address in text form. */
  readonly address: string;
  /** `true` when gained, `false` when lost. */
  readonly added: boolean;
}

/** Counters of rxzt's event pipeline. */
export interface EventCounters {
  /** Events received from libzt's callback. */
  readonly received: number;
  /** Events whose payload could not be decoded (delivered as `UNKNOWN`). */
  readonly decodeErrors: number;
  /**
   * Events libzt dropped. libzt discards events silently when more than 1024
   * are queued, which rxzt cannot observe; rxzt keeps that queue short by
   * copying in the callback and returning at once. Always 0 unless a backend
   * can count drops.
   */
  readonly dropped: number;
}

/** @internal Counts of what a node holds, for leak tests. */
export interface NodeInternals {
  /** Subscribers of each internal subject (events, online, networks, peers, peer updates). */
  readonly subscribers: Readonly<Record<string, number>>;
  /** Sockets tracked (as `openSockets`). */
  readonly sockets: number;
  /** Raw events received but not yet delivered. */
  readonly pendingEvents: number;
  /** libzt sockets the I/O thread holds for itself (its wake socket: 0 or 1). */
  readonly ioThreadSockets: number;
  /** Connections the I/O thread reads ahead now. */
  readonly readingConnections: number;
  /** What the I/O thread did so far (absent without one). */
  readonly receiveCounters?: ReceiveCounters;
  /** The I/O thread's control block and each ring's header now (absent without one). */
  readonly receiveState?: {
    control: Record<string, number>;
    rings: { fd: number; state: string }[];
  };
}

let internalsOf: (node: ZeroTierNode) => NodeInternals;

/**
 * @internal What a node holds right now (for leak tests; not part of the API).
 *
 * @example
 * ```ts
 * console.log(nodeInternals(node).subscribers.events);
 * ```
 */
export function nodeInternals(node: ZeroTierNode): NodeInternals {
  return internalsOf(node);
}

/** Lifecycle of a node. */
export type NodeLifecycle = "starting" | "running" | "stopping" | "stopped";

const DEFAULT_START_TIMEOUT = 30_000;
const DEFAULT_JOIN_TIMEOUT = 60_000;
const QUIET_MS = 250;
const QUIET_LIMIT_MS = 3_000;

// Only start() may construct a node.
const CONSTRUCT = Symbol("ZeroTierNode.start");

// libzt allows one node per process and cannot restart it.
let processNode: ZeroTierNode | undefined;

function check(fn: string, rc: number, hint = ""): void {
  if (rc < 0) throw LibztCallError.fromReturn(fn, rc, 0, hint);
}

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
  readonly #events = new Subject<ZeroTierEvent>();
  readonly #online = new BehaviorSubject<boolean>(false);
  readonly #networks = new BehaviorSubject<ReadonlyMap<string, NetworkState>>(new Map());
  readonly #peers = new BehaviorSubject<ReadonlyMap<string, PeerState>>(new Map());
  readonly #peerUpdates = new Subject<PeerState>();
  #pending: [RawEvent, number][] = [];
  #flushScheduled = false;
  #lifecycle: NodeLifecycle = "starting";
  #stopping?: Promise<void>;
  #nodeId = "";
  #nativeStarted = false;
  #received = 0;
  #decodeErrors = 0;
  #socketHost?: SocketHost;
  #receiveTuning?: ReceiveTuning;
  #keepAlive: KeepAlive | false = DEFAULT_KEEPALIVE;
  #unreachable?: UnreachablePeers;
  readonly #stopped = new AbortController();
  readonly #sockets = new Set<Closable>();

  /** Every libzt event, decoded. Hot: subscribers see events from when they subscribe. */
  readonly events$: Observable<ZeroTierEvent> = this.#events.asObservable();
  /** Whether the node reaches the ZeroTier roots. Replays the current value. */
  readonly online$: Observable<boolean> = this.#online.pipe(distinctUntilChanged());
  /** Every known network's state, keyed by network id. Replays the current map. */
  readonly networks$: Observable<ReadonlyMap<string, NetworkState>> = this.#networks.asObservable();
  /** Every known peer's state, keyed by peer id. Replays the current map. */
  readonly peers$: Observable<ReadonlyMap<string, PeerState>> = this.#peers.asObservable();
  /** Addresses the node gains and loses on its networks. Hot. */
  readonly address$: Observable<AddressChange> = this.#events.pipe(
    filter((e): e is AddrEvent => e.type.startsWith("ADDR_")),
    map((e) => ({ ...e.addr, added: e.type === "ADDR_ADDED_IP4" || e.type === "ADDR_ADDED_IP6" })),
  );
  /**
   * Data libzt would persist (`STORE_IDENTITY_SECRET`, `STORE_IDENTITY_PUBLIC`,
   * `STORE_PLANET`, `STORE_PEER`, `STORE_NETWORK`), so an app can keep it
   * itself. Hot. The secret identity is sensitive: store it owner-only.
   */
  readonly store$: Observable<StoreEvent> = this.#events.pipe(
    filter((e): e is StoreEvent => e.type.startsWith("STORE_")),
  );

  static {
    const count = (s: Subject<unknown>) =>
      (s as unknown as { observers: unknown[] }).observers.length;
    internalsOf = (n) => ({
      subscribers: {
        events: count(n.#events as Subject<unknown>),
        online: count(n.#online as Subject<unknown>),
        networks: count(n.#networks as Subject<unknown>),
        peers: count(n.#peers as Subject<unknown>),
        peerUpdates: count(n.#peerUpdates as Subject<unknown>),
      },
      sockets: n.#sockets.size,
      pendingEvents: n.#pending.length,
      ioThreadSockets: n.#socketHost?.receiver?.wakeSocketOpen ? 1 : 0,
      readingConnections: n.#socketHost?.receiver?.attached ?? 0,
      receiveCounters: n.#socketHost?.receiver?.counters,
      receiveState: n.#socketHost?.receiver
        ? { control: n.#socketHost.receiver.controlState, rings: n.#socketHost.receiver.rings }
        : undefined,
    });
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
    if (processNode) {
      throw processNode.#lifecycle === "stopped"
        ? new NodeStateError(
          "NODE_NOT_RESTARTABLE",
          "This process already ran a ZeroTier node and stopped it; libzt cannot start another in the same process. Start a new process.",
        )
        : new NodeStateError(
          "NODE_ALREADY_RUNNING",
          "A ZeroTier node is already running in this process (libzt allows one); use that node.",
        );
    }
    const lib = loadLibrary(opts.libraryPath);
    if (opts.storagePath !== undefined) ensurePrivateDirectory(opts.storagePath);
    const node = new ZeroTierNode(CONSTRUCT, lib);
    if (opts.receiveThread !== false) {
      node.#receiveTuning = opts.receiveThread === true || opts.receiveThread === undefined
        ? DEFAULT_RECEIVE_TUNING
        : opts.receiveThread as ReceiveTuning;
    }
    if (opts.keepAlive !== undefined) node.#keepAlive = opts.keepAlive;
    const unreachableMs = opts.peerUnreachableTimeout ?? DEFAULT_PEER_UNREACHABLE_TIMEOUT;
    if (unreachableMs !== false) {
      node.#unreachable = new UnreachablePeers(
        unreachableMs,
        (peerId, ms) => node.#failConnectionsOf(peerId, ms),
      );
    }
    processNode = node;
    try {
      node.#initialize(opts);
      const up = waitFor(node.#events, (e) => {
        if (e.type === "NODE_UP" || e.type === "NODE_ONLINE") return { done: e };
        if (e.type === "NODE_FATAL_ERROR") {
          return {
            fail: new NodeStateError(
              "NODE_FATAL_ERROR",
              "libzt reported a fatal error while starting the node (is the port in use?)",
            ),
          };
        }
        return undefined;
      }, {
        timeout: opts.timeout ?? DEFAULT_START_TIMEOUT,
        signal: opts.signal,
        what: "starting the node",
      });
      lib.markCallbacksRunning();
      check(
        "zts_node_start",
        lib.fn.zts_node_start(),
        "Was a node already started in this process?",
      );
      node.#nativeStarted = true;
      await up;
      node.#nodeId = hexId(lib.fn.zts_node_get_id(), 10);
      node.#lifecycle = "running";
      return node;
    } catch (err) {
      await node.#shutdown();
      // Nothing ran natively: a corrected retry in this process is fine.
      if (!node.#nativeStarted) processNode = undefined;
      throw err;
    }
  }

  #initialize(o: StartOptions): void {
    const f = this.#lib.fn;
    if (o.storagePath !== undefined) {
      check("zts_init_from_storage", f.zts_init_from_storage(nulTerminated(o.storagePath)));
    }
    if (o.identity !== undefined) {
      check(
        "zts_init_from_memory",
        initFromMemory(this.#lib, o.identity),
        "The identity was rejected.",
      );
    }
    if (o.roots !== undefined) {
      check("zts_init_set_roots", f.zts_init_set_roots(o.roots, o.roots.length));
    }
    if (o.port !== undefined) check("zts_init_set_port", f.zts_init_set_port(o.port));
    if (o.randomPortRange) {
      const { start, end } = o.randomPortRange;
      check("zts_init_set_random_port_range", f.zts_init_set_random_port_range(start, end));
    }
    const flag = (v: boolean | undefined, name: string, call: (x: number) => number) => {
      if (v !== undefined) check(name, call(v ? 1 : 0));
    };
    flag(o.secondaryPort, "zts_init_allow_secondary_port", f.zts_init_allow_secondary_port);
    flag(o.portMapping, "zts_init_allow_port_mapping", f.zts_init_allow_port_mapping);
    flag(o.cache?.identity, "zts_init_allow_id_cache", f.zts_init_allow_id_cache);
    flag(o.cache?.peers, "zts_init_allow_peer_cache", f.zts_init_allow_peer_cache);
    flag(o.cache?.networks, "zts_init_allow_net_cache", f.zts_init_allow_net_cache);
    flag(o.cache?.roots, "zts_init_allow_roots_cache", f.zts_init_allow_roots_cache);
    flag(o.lowBandwidthMode, "zts_init_set_low_bandwidth_mode", f.zts_init_set_low_bandwidth_mode);
    for (const prefix of o.interfaceBlacklist ?? []) {
      const bytes = nulTerminated(prefix);
      check("zts_init_blacklist_if", f.zts_init_blacklist_if(bytes, bytes.length - 1));
    }
    check("zts_init_set_event_handler", this.#lib.setEventHandler((raw) => this.#receive(raw)));
  }

  // Called on the JS thread while libzt's callback thread waits: queue and return.
  #receive(raw: RawEvent): void {
    this.#received++;
    this.#pending.push([raw, performance.now()]);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    for (const [raw, receivedAt] of batch) {
      if (this.#events.closed) return;
      let event: ZeroTierEvent;
      try {
        event = decodeEvent(raw, receivedAt);
      } catch {
        this.#decodeErrors++;
        event = { type: "UNKNOWN", code: raw.code, receivedAt };
      }
      this.#apply(event);
      this.#events.next(event);
    }
  }

  #apply(event: ZeroTierEvent): void {
    switch (event.type) {
      case "NODE_ONLINE":
        this.#online.next(true);
        return this.#reachPeers(true, event.receivedAt);
      case "NODE_OFFLINE":
      case "NODE_DOWN":
        this.#online.next(false);
        return this.#reachPeers(false, event.receivedAt);
    }
    if (event.type.startsWith("NETWORK_") || event.type.startsWith("ADDR_")) {
      const e = event as NetworkEvent | AddrEvent;
      const id = "addr" in e ? e.addr.networkId : e.network.networkId;
      const networks = new Map(this.#networks.value);
      networks.set(id, reduceNetwork(networks.get(id), e));
      this.#networks.next(networks);
    } else if (event.type.startsWith("PEER_")) {
      const e = event as PeerEvent;
      const peers = new Map(this.#peers.value);
      const state = reducePeer(peers.get(e.peer.peerId), e, this.#online.value);
      peers.set(state.peerId, state);
      this.#peers.next(peers);
      this.#peerUpdates.next(state);
      this.#unreachable?.update(state);
    }
  }

  // Offline, relayed peers are unreachable (no root to relay through); online, relayed again.
  #reachPeers(online: boolean, at: number): void {
    const changed: PeerState[] = [];
    for (const peer of this.#peers.value.values()) {
      const next = reachPeer(peer, online, at);
      if (next) changed.push(next);
    }
    if (changed.length === 0) return;
    const peers = new Map(this.#peers.value);
    for (const state of changed) peers.set(state.peerId, state);
    this.#peers.next(peers);
    for (const state of changed) {
      this.#peerUpdates.next(state);
      this.#unreachable?.update(state);
    }
  }

  // A peer stayed unreachable past peerUnreachableTimeout: fail the connections whose remote
  // address is the peer's on a joined network (addresses a controller assigned cannot be told).
  #failConnectionsOf(peerId: string, unreachableMs: number): void {
    if (this.#lifecycle !== "running") return;
    const networks = [...this.#networks.value.keys()];
    const reason = new PeerUnreachableError(peerId, unreachableMs);
    for (const socket of [...this.#sockets]) {
      const remote = (socket as Partial<Pick<TcpConn, "remoteAddr">>).remoteAddr;
      if (remote?.transport !== "tcp") continue;
      if (networks.some((net) => isNodeAddress(remote.hostname, net, peerId))) {
        socket.terminate(reason);
      }
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
    return this.#online.value;
  }

  /** Path of the libzt this node runs on. */
  get libraryPath(): string {
    return this.#lib.path;
  }

  /** Counters of the event pipeline (received, decode errors, dropped). */
  get eventCounters(): EventCounters {
    return { received: this.#received, decodeErrors: this.#decodeErrors, dropped: 0 };
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
    const id = hexId(toNetworkId(networkId), 16);
    return this.#networks.pipe(
      map((all) => all.get(id)),
      filter((s): s is NetworkState => s !== undefined),
      distinctUntilChanged(),
    );
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
    if (peerId === undefined) {
      return defer(() => merge([...this.#peers.value.values()], this.#peerUpdates));
    }
    const hex = hexId(toNodeId(peerId, "peerId"), 10);
    return this.#peers.pipe(
      map((all) => all.get(hex)),
      filter((s): s is PeerState => s !== undefined),
      distinctUntilChanged(),
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

  /** Sockets this node has open now (connections, listeners, UDP sockets). */
  get openSockets(): number {
    return this.#sockets.size;
  }

  #sockets$(): SocketHost {
    if (this.#socketHost) return this.#socketHost;
    const calls = new SocketCalls(this.#lib);
    const sockets = this.#sockets;
    const networks$ = this.#networks;
    const tuning = this.#receiveTuning;
    const lib = this.#lib;
    this.#socketHost = {
      calls,
      poller: new ReadinessPoller(calls),
      receiver: tuning &&
        new ReceiveThread((control, t) => lib.startReceiveWorker(control, t), calls, tuning),
      keepAlive: this.#keepAlive,
      stopped: this.#stopped.signal,
      track: (s) => void sockets.add(s),
      untrack: (s) => void sockets.delete(s),
      familyReady: (family, signal) =>
        waitFor(networks$, (all) => {
          for (const n of all.values()) {
            if (family === "IPv4" ? n.readyIPv4 : n.readyIPv6) return { done: undefined };
          }
          return undefined;
        }, { signal, what: `waiting for a network ready for ${family}` }),
      sourceAddressFor: (destination) => {
        for (const n of networks$.value.values()) {
          for (const a of n.assignedAddresses) {
            if (prefixContains(a.address, a.prefixLength, destination)) return a.address;
          }
        }
        return undefined;
      },
    };
    return this.#socketHost;
  }

  /** Resolves when the node is online (immediately if it is). */
  async waitUntilOnline(options: WaitUntilOptions = {}): Promise<void> {
    const o = readOptions(options, "options", ["timeout", "signal"]);
    const timeout = toTimeout(o.timeout);
    const signal = toSignal(o.signal);
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
    const o = readOptions(options, "options", ["family", "timeout", "signal"]);
    const family = toChoice(o.family ?? "any", "family", ["any", "IPv4", "IPv6", "both"] as const);
    const timeout = toTimeout(o.timeout) ?? DEFAULT_JOIN_TIMEOUT;
    const signal = toSignal(o.signal);
    this.#assertRunning("join");
    const hex = hexId(id, 16);
    const ended = this.#networks.value.get(hex)?.status;
    if (ended !== undefined && ended !== "DOWN" && TERMINAL_PHASES.has(ended)) {
      // libzt keeps a network that ended NOT_FOUND, ACCESS_DENIED, ... joined, and joining it
      // again asks nothing new (the join would wait out its timeout): leave it first.
      await this.leave(hex, { timeout: LEAVE_BEFORE_REJOIN_MS, signal }).catch(() => {});
      signal?.throwIfAborted();
    }
    const before = this.#networks.value;
    const known = before.get(hex);
    if (!known || TERMINAL_PHASES.has(known.status)) {
      // A fresh attempt must not be judged by the outcome of an earlier one.
      const networks = new Map(this.#networks.value);
      networks.set(hex, initialNetworkState(hex));
      this.#networks.next(networks);
    }
    const ready = (s: NetworkState) =>
      family === "IPv4"
        ? s.readyIPv4
        : family === "IPv6"
        ? s.readyIPv6
        : family === "both"
        ? s.readyIPv4 && s.readyIPv6
        : s.readyIPv4 || s.readyIPv6;
    const outcome = waitFor<NetworkState, NetworkState>(this.network$(hex), (s) => {
      if (ready(s)) return { done: s };
      if (TERMINAL_PHASES.has(s.status)) return { fail: networkFailure(hex, s.status) };
      return undefined;
    }, { timeout, signal, what: `joining network ${hex}` });
    const rc = this.#lib.fn.zts_net_join(id);
    if (rc < 0) {
      outcome.catch(() => {});
      // libzt refused: forget the state recorded for this attempt.
      if (!this.#events.closed) this.#networks.next(before);
      throw LibztCallError.fromReturn("zts_net_join", rc, 0, "Is the node online?");
    }
    return await outcome;
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
    const o = readOptions(options, "options", ["timeout", "signal"]);
    const timeout = toTimeout(o.timeout) ?? 10_000;
    const signal = toSignal(o.signal);
    this.#assertRunning("leave");
    const hex = hexId(id, 16);
    const down = waitFor(
      this.#events,
      (e) =>
        e.type === "NETWORK_DOWN" && e.network.networkId === hex ? { done: undefined } : undefined,
      {
        timeout,
        signal,
        what: `leaving network ${hex}`,
      },
    );
    const rc = this.#lib.fn.zts_net_leave(id);
    if (rc < 0) {
      down.catch(() => {});
      throw LibztCallError.fromReturn("zts_net_leave", rc, 0, "Was the network joined?");
    }
    await down;
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
    const result = addressesOf(this.#lib, id);
    if (result === -4 /* NO_RESULT: not joined */) return [];
    if (typeof result === "number") throw LibztCallError.fromReturn("zts_addr_get_all", result);
    return result;
  }

  /**
   * The node's secret identity (`nodeId:0:public:secret`), to persist and
   * pass back as `StartOptions.identity`. Treat it like a private key.
   */
  secretIdentity(): string {
    this.#assertRunning("secretIdentity");
    const result = secretIdentityOf(this.#lib);
    if (typeof result === "number") throw LibztCallError.fromReturn("zts_node_get_id_pair", result);
    return result;
  }

  /**
   * lwIP's traffic counters for the whole node.
   *
   * @throws {UnavailableError} when this libzt build has no statistics.
   */
  stats(): NodeStats {
    this.#assertRunning("stats");
    const result = statsOf(this.#lib);
    if (result === -4 /* NO_RESULT */) {
      throw new UnavailableError(
        "stats",
        "this libzt reports no statistics (zts_stats_get_all answers ZTS_ERR_NO_RESULT: its stats code is compiled out, as in libzt 1.8 host builds)",
      );
    }
    if (typeof result === "number") throw LibztCallError.fromReturn("zts_stats_get_all", result);
    return result;
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
    for (const socket of [...this.#sockets]) socket.terminate(reason);
    // The I/O thread leaves libzt before libzt stops; the closes it held back run then.
    await this.#socketHost?.receiver?.stop();
    this.#socketHost?.poller.shutdown(reason);
    // Let the poll in flight return and the deferred socket closes run while libzt's
    // service is still up, before stopping it.
    await this.#socketHost?.poller.idle();
    try {
      // zts_node_stop takes libzt's service lock: run it off the JS thread.
      if (this.#nativeStarted) {
        await this.#lib.fn.zts_node_stop();
        await this.#untilEventsQuiet();
      }
    } finally {
      this.#flush();
      this.#online.next(false);
      this.#lifecycle = "stopped";
      this.#events.complete();
      this.#peerUpdates.complete();
      this.#online.complete();
      this.#networks.complete();
      this.#peers.complete();
      this.#lib.releaseEventHandler();
    }
  }

  // libzt still delivers events queued before the stop, and disables events only ~50 ms
  // after its service is torn down. If the process exited meanwhile, libzt's thread would
  // call into a runtime that is gone (seen here as a crash at exit). So the callback stays
  // referenced until no event has arrived for QUIET_MS (at most QUIET_LIMIT_MS).
  async #untilEventsQuiet(): Promise<void> {
    const started = performance.now();
    let seen = this.#received;
    let quietSince = performance.now();
    while (
      performance.now() - quietSince < QUIET_MS && performance.now() - started < QUIET_LIMIT_MS
    ) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      if (this.#received !== seen) {
        seen = this.#received;
        quietSince = performance.now();
      }
    }
  }

  #assertRunning(what: string): void {
    if (this.#lifecycle === "stopped" || this.#lifecycle === "stopping") {
      throw new NodeStateError("NODE_STOPPED", `Cannot use ${what}: the node was stopped.`);
    }
  }

  /** A short description; internals stay out of logs. */
  toString(): string {
    return `ZeroTierNode { nodeId: "${this.#nodeId}", lifecycle: "${this.#lifecycle}", online: ${this.#online.value} }`;
  }
  /** `JSON.stringify(node)`: the same short description, never internals or secrets. */
  toJSON(): { nodeId: string; lifecycle: NodeLifecycle; online: boolean } {
    return { nodeId: this.#nodeId, lifecycle: this.#lifecycle, online: this.#online.value };
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

/**
 * Creates the storage directory owner-only (0700) when it does not exist, so
 * the identity and caches libzt writes there are private whatever libzt's own
 * modes. An existing directory is left as it is.
 */
function ensurePrivateDirectory(path: string): void {
  try {
    if (existsSync(path)) return;
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new InvalidArgumentError(
      "storagePath",
      `could not be created (${(cause as Error)?.message ?? cause}); pass a writable directory`,
      undefined,
      { cause },
    );
  }
}

function networkFailure(networkId: string, status: NetworkState["status"]): NetworkError {
  const detail: Record<string, string> = {
    NOT_FOUND: "not found: no controller answers for it (check the network id)",
    ACCESS_DENIED: "access denied: authorize this node on the network's controller",
    CLIENT_TOO_OLD: "the controller requires a newer ZeroTier client",
    PORT_ERROR: "libzt could not bring up the network's port",
    DOWN: "the network went down (left or destroyed)",
  };
  return new NetworkError(`NETWORK_${status}`, networkId, detail[status] ?? status);
}

/** How long a join waits for libzt to drop a network that ended (NOT_FOUND, ...) before asking anew. */
const LEAVE_BEFORE_REJOIN_MS = 5000;

const START_KEYS = [
  "libraryPath",
  "storagePath",
  "identity",
  "port",
  "randomPortRange",
  "secondaryPort",
  "portMapping",
  "roots",
  "cache",
  "lowBandwidthMode",
  "interfaceBlacklist",
  "timeout",
  "signal",
  "receiveThread",
  "keepAlive",
  "peerUnreachableTimeout",
] as const;
const CACHE_KEYS = ["identity", "peers", "networks", "roots"] as const;

/** Validates start options and returns a checked copy (what libzt gets is what was checked). */
function validateStartOptions(options: unknown): StartOptions {
  const o = readOptions(options, "options", START_KEYS);
  const out: StartOptions = {};
  if (o.libraryPath !== undefined) out.libraryPath = toCString(o.libraryPath, "libraryPath");
  if (o.storagePath !== undefined) out.storagePath = toCString(o.storagePath, "storagePath");
  if (o.identity !== undefined) out.identity = toSecretIdentity(o.identity);
  if (o.port !== undefined) out.port = toPort(o.port, "port");
  if (o.randomPortRange !== undefined) {
    const r = readOptions(
      o.randomPortRange,
      "randomPortRange",
      ["start", "end"],
      "randomPortRange.",
    );
    const start = toPort(r.start, "randomPortRange.start", false);
    const end = toPort(r.end, "randomPortRange.end", false);
    if (end < start) {
      throw new InvalidArgumentError(
        "randomPortRange.end",
        "must be >= randomPortRange.start",
        end,
      );
    }
    out.randomPortRange = { start, end };
  }
  out.secondaryPort = toBool(o.secondaryPort, "secondaryPort");
  out.portMapping = toBool(o.portMapping, "portMapping");
  out.lowBandwidthMode = toBool(o.lowBandwidthMode, "lowBandwidthMode");
  if (o.roots !== undefined) {
    const roots = o.roots;
    if (!isInstance(roots, Uint8Array) || roots.length === 0 || roots.length > 65536) {
      throw new InvalidArgumentError(
        "roots",
        "must be a non-empty Uint8Array of at most 65536 bytes (see createRootSet)",
        roots,
      );
    }
    out.roots = new Uint8Array(roots); // a private copy: the caller may reuse its buffer
  }
  if (o.cache !== undefined) {
    const c = readOptions(o.cache, "cache", CACHE_KEYS, "cache.");
    out.cache = {};
    for (const k of CACHE_KEYS) out.cache[k] = toBool(c[k], `cache.${k}`);
  }
  if (o.interfaceBlacklist !== undefined) {
    const list = readArray(
      o.interfaceBlacklist,
      "interfaceBlacklist",
      0,
      64,
      "interface name prefixes",
    );
    out.interfaceBlacklist = list.map((p, i) => toCString(p, `interfaceBlacklist[${i}]`, 15));
  }
  out.timeout = toTimeout(o.timeout);
  out.signal = toSignal(o.signal);
  if (o.keepAlive === false) out.keepAlive = false;
  else if (o.keepAlive !== undefined) {
    const k = readOptions(o.keepAlive, "keepAlive", ["idle", "interval", "count"], "keepAlive.");
    out.keepAlive = {
      idle: toInteger(k.idle ?? DEFAULT_KEEPALIVE.idle, "keepAlive.idle", 1, 86_400),
      interval: toInteger(
        k.interval ?? DEFAULT_KEEPALIVE.interval,
        "keepAlive.interval",
        1,
        86_400,
      ),
      count: toInteger(k.count ?? DEFAULT_KEEPALIVE.count, "keepAlive.count", 1, 1_000),
    };
  }
  if (o.peerUnreachableTimeout === false) out.peerUnreachableTimeout = false;
  else if (o.peerUnreachableTimeout !== undefined) {
    out.peerUnreachableTimeout = toInteger(
      o.peerUnreachableTimeout,
      "peerUnreachableTimeout",
      0,
      2_147_483_647,
    );
  }
  if (o.receiveThread === undefined || o.receiveThread === true || o.receiveThread === false) {
    out.receiveThread = o.receiveThread ?? true;
  } else {
    const r = readOptions(
      o.receiveThread,
      "receiveThread",
      ["wakeAfterBytes", "wakeWithinMs"],
      "receiveThread.",
    );
    out.receiveThread = {
      wakeAfterBytes: toInteger(
        r.wakeAfterBytes ?? DEFAULT_RECEIVE_TUNING.wakeAfterBytes,
        "receiveThread.wakeAfterBytes",
        1,
        1 << 30,
      ),
      wakeWithinMs: toInteger(
        r.wakeWithinMs ?? DEFAULT_RECEIVE_TUNING.wakeWithinMs,
        "receiveThread.wakeWithinMs",
        0,
        1000,
      ),
    };
  }
  return out;
}
