/**
 * The event pump: takes the raw events libzt's callback hands over, decodes
 * them after the callback returned, folds them into network and peer state
 * (`state.ts`) and delivers them to subscribers.
 *
 * @module
 */
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
import { delay } from "../delay.ts";
import { NodeStateError } from "../errors.ts";
import type { RawEvent } from "../ffi/backend.ts";
import { decodeEvent } from "../ffi/event_decode.ts";
import type {
  AddrEvent,
  NetworkEvent,
  PeerEvent,
  StoreEvent,
  ZeroTierEvent,
} from "../ffi/events.ts";
import type { IpFamily } from "../ip.ts";
import {
  type NetworkState,
  type PeerState,
  reachPeer,
  reduceNetwork,
  reducePeer,
} from "./state.ts";
import { waitFor } from "./wait.ts";

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

const QUIET_MS = 250;
const QUIET_LIMIT_MS = 3_000;

/** @internal One node's events and the state folded from them. */
export class EventPump {
  /** Every decoded event. */
  readonly events = new Subject<ZeroTierEvent>();
  /** Whether the node reaches a root. */
  readonly online = new BehaviorSubject<boolean>(false);
  /** Every known network's state. */
  readonly networks = new BehaviorSubject<ReadonlyMap<string, NetworkState>>(new Map());
  /** Every known peer's state. */
  readonly peers = new BehaviorSubject<ReadonlyMap<string, PeerState>>(new Map());
  /** Each peer state as it changes. */
  readonly peerUpdates = new Subject<PeerState>();
  /** Addresses gained and lost. */
  readonly address$: Observable<AddressChange> = this.events.pipe(
    filter((e): e is AddrEvent => e.type.startsWith("ADDR_")),
    map((e) => ({ ...e.addr, added: e.type === "ADDR_ADDED_IP4" || e.type === "ADDR_ADDED_IP6" })),
  );
  /** `STORE_*` events. */
  readonly store$: Observable<StoreEvent> = this.events.pipe(
    filter((e): e is StoreEvent => e.type.startsWith("STORE_")),
  );
  #pending: [RawEvent, number][] = [];
  #flushScheduled = false;
  #received = 0;
  #decodeErrors = 0;
  readonly #onPeer: (state: PeerState) => void;

  /** `onPeer` hears every peer state change (after subscribers did). */
  constructor(onPeer: (state: PeerState) => void) {
    this.#onPeer = onPeer;
  }

  /** Counters so far. */
  get counters(): EventCounters {
    return { received: this.#received, decodeErrors: this.#decodeErrors, dropped: 0 };
  }

  /** Raw events received but not yet delivered. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Subscribers of each subject, for leak tests. */
  get subscribers(): Readonly<Record<string, number>> {
    const count = (s: Subject<unknown>) =>
      (s as unknown as { observers: unknown[] }).observers.length;
    return {
      events: count(this.events as Subject<unknown>),
      online: count(this.online as Subject<unknown>),
      networks: count(this.networks as Subject<unknown>),
      peers: count(this.peers as Subject<unknown>),
      peerUpdates: count(this.peerUpdates as Subject<unknown>),
    };
  }

  /** libzt's event handler. Called on the JS thread while libzt's callback thread waits: queue and return. */
  receive(raw: RawEvent): void {
    this.#received++;
    this.#pending.push([raw, performance.now()]);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Decodes, applies and delivers the events queued so far. */
  flush(): void {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    for (const [raw, receivedAt] of batch) {
      if (this.events.closed) return;
      let event: ZeroTierEvent;
      try {
        event = decodeEvent(raw, receivedAt);
      } catch {
        this.#decodeErrors++;
        event = { type: "UNKNOWN", code: raw.code, receivedAt };
      }
      this.#apply(event);
      this.events.next(event);
    }
  }

  /** One network's state (`hex`: its id), then each change. */
  network$(hex: string): Observable<NetworkState> {
    return this.networks.pipe(
      map((all) => all.get(hex)),
      filter((s): s is NetworkState => s !== undefined),
      distinctUntilChanged(),
    );
  }

  /** One peer's state (`hex`: its id), then each change; without an id, every peer's. */
  peer$(hex?: string): Observable<PeerState> {
    if (hex === undefined) {
      return defer(() => merge([...this.peers.value.values()], this.peerUpdates));
    }
    return this.peers.pipe(
      map((all) => all.get(hex)),
      filter((s): s is PeerState => s !== undefined),
      distinctUntilChanged(),
    );
  }

  /** Resolves once libzt reports the node up; rejects on its fatal error, `timeout` or `signal`. */
  nodeUp(timeout: number, signal?: AbortSignal): Promise<ZeroTierEvent> {
    return waitFor<ZeroTierEvent, ZeroTierEvent>(this.events, (e) => {
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
    }, { timeout, signal, what: "starting the node" });
  }

  /** Completes every subject (after a last flush and going offline). */
  complete(): void {
    this.events.complete();
    this.peerUpdates.complete();
    this.online.complete();
    this.networks.complete();
    this.peers.complete();
  }

  // libzt still delivers events queued before the stop, and disables events only ~50 ms
  // after its service is torn down. If the process exited meanwhile, libzt's thread would
  // call into a runtime that is gone (seen here as a crash at exit). So the callback stays
  // referenced until no event has arrived for QUIET_MS (at most QUIET_LIMIT_MS).
  /** Resolves once no event arrived for 250 ms (at most 3 s). */
  async untilQuiet(): Promise<void> {
    const started = performance.now();
    let seen = this.#received;
    let quietSince = performance.now();
    while (
      performance.now() - quietSince < QUIET_MS && performance.now() - started < QUIET_LIMIT_MS
    ) {
      await delay(25);
      if (this.#received !== seen) {
        seen = this.#received;
        quietSince = performance.now();
      }
    }
  }

  #apply(event: ZeroTierEvent): void {
    switch (event.type) {
      case "NODE_ONLINE":
        this.online.next(true);
        return this.#reachPeers(true, event.receivedAt);
      case "NODE_OFFLINE":
      case "NODE_DOWN":
        this.online.next(false);
        return this.#reachPeers(false, event.receivedAt);
    }
    if (event.type.startsWith("NETWORK_") || event.type.startsWith("ADDR_")) {
      const e = event as NetworkEvent | AddrEvent;
      const id = "addr" in e ? e.addr.networkId : e.network.networkId;
      const networks = new Map(this.networks.value);
      networks.set(id, reduceNetwork(networks.get(id), e));
      this.networks.next(networks);
    } else if (event.type.startsWith("PEER_")) {
      const e = event as PeerEvent;
      const peers = new Map(this.peers.value);
      const state = reducePeer(peers.get(e.peer.peerId), e, this.online.value);
      peers.set(state.peerId, state);
      this.peers.next(peers);
      this.peerUpdates.next(state);
      this.#onPeer(state);
    }
  }

  // Offline, relayed peers are unreachable (no root to relay through); online, relayed again.
  #reachPeers(online: boolean, at: number): void {
    const changed: PeerState[] = [];
    for (const peer of this.peers.value.values()) {
      const next = reachPeer(peer, online, at);
      if (next) changed.push(next);
    }
    if (changed.length === 0) return;
    const peers = new Map(this.peers.value);
    for (const state of changed) peers.set(state.peerId, state);
    this.peers.next(peers);
    for (const state of changed) {
      this.peerUpdates.next(state);
      this.#onPeer(state);
    }
  }
}
