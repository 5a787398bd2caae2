/**
 * Joining and leaving networks: libzt's join and leave calls, and the waits
 * for the outcome they report through events (readiness, a terminal phase,
 * `NETWORK_DOWN`).
 *
 * @module
 */
import { LibztCallError } from "../errors.ts";
import type { NativeLibrary } from "../ffi/backend.ts";
import type { EventPump } from "./event_pump.ts";
import {
  initialNetworkState,
  isReady,
  networkFailure,
  type NetworkState,
  type Readiness,
  TERMINAL_PHASES,
} from "./state.ts";
import { waitFor } from "./wait.ts";

/** How long a join waits for libzt to drop a network that ended (NOT_FOUND, ...) before asking anew. */
const LEAVE_BEFORE_REJOIN_MS = 5000;

/** What a join or a leave waits with. */
export interface MembershipWait {
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

/**
 * Joins network `id` (`hex`: its 16 hex digits) and resolves with its state
 * once it is ready for `family`; rejects with a `NetworkError` when it ends.
 */
export async function joinNetwork(
  lib: NativeLibrary,
  pump: EventPump,
  id: bigint,
  hex: string,
  family: Readiness,
  { timeout, signal }: MembershipWait,
): Promise<NetworkState> {
  const networks$ = pump.networks;
  const ended = networks$.value.get(hex)?.status;
  if (ended !== undefined && ended !== "DOWN" && TERMINAL_PHASES.has(ended)) {
    // libzt keeps a network that ended NOT_FOUND, ACCESS_DENIED, ... joined, and joining it
    // again asks nothing new (the join would wait out its timeout): leave it first.
    await leaveNetwork(lib, pump, id, hex, { timeout: LEAVE_BEFORE_REJOIN_MS, signal })
      .catch(() => {});
    signal?.throwIfAborted();
  }
  const before = networks$.value;
  const known = before.get(hex);
  if (!known || TERMINAL_PHASES.has(known.status)) {
    // A fresh attempt must not be judged by the outcome of an earlier one.
    const networks = new Map(networks$.value);
    networks.set(hex, initialNetworkState(hex));
    networks$.next(networks);
  }
  const outcome = waitFor<NetworkState, NetworkState>(pump.network$(hex), (s) => {
    if (isReady(s, family)) return { done: s };
    if (TERMINAL_PHASES.has(s.status)) return { fail: networkFailure(hex, s.status) };
    return undefined;
  }, { timeout, signal, what: `joining network ${hex}` });
  const rc = lib.fn.zts_net_join(id);
  if (rc < 0) {
    outcome.catch(() => {});
    // libzt refused: forget the state recorded for this attempt.
    if (!pump.events.closed) networks$.next(before);
    throw LibztCallError.fromReturn("zts_net_join", rc, 0, "Is the node online?");
  }
  return await outcome;
}

/** Leaves network `id` (`hex`: its 16 hex digits); resolves when libzt reports it down. */
export async function leaveNetwork(
  lib: NativeLibrary,
  pump: EventPump,
  id: bigint,
  hex: string,
  { timeout, signal }: MembershipWait,
): Promise<void> {
  const down = waitFor(
    pump.events,
    (e) =>
      e.type === "NETWORK_DOWN" && e.network.networkId === hex ? { done: undefined } : undefined,
    { timeout, signal, what: `leaving network ${hex}` },
  );
  const rc = lib.fn.zts_net_leave(id);
  if (rc < 0) {
    down.catch(() => {});
    throw LibztCallError.fromReturn("zts_net_leave", rc, 0, "Was the network joined?");
  }
  await down;
}
