/**
 * libzt's `zts_init_*` calls: what must be set before `zts_node_start`
 * (storage, identity, roots, ports, caches, the event handler), from options
 * already checked (`src/node/options.ts`).
 *
 * @module
 */
import { existsSync, mkdirSync } from "node:fs";
import { InvalidArgumentError, LibztCallError } from "../errors.ts";
import type { NativeLibrary, RawEvent } from "./backend.ts";
import { initFromMemory } from "./calls.ts";
import { nulTerminated } from "./cstring.ts";

/** What libzt is initialized from (the checked start options). */
export interface NodeInit {
  readonly storagePath?: string;
  readonly identity?: string;
  readonly roots?: Uint8Array;
  readonly port?: number;
  readonly randomPortRange?: { readonly start: number; readonly end: number };
  readonly secondaryPort?: boolean;
  readonly portMapping?: boolean;
  readonly cache?: {
    readonly identity?: boolean;
    readonly peers?: boolean;
    readonly networks?: boolean;
    readonly roots?: boolean;
  };
  readonly lowBandwidthMode?: boolean;
  readonly interfaceBlacklist?: readonly string[];
}

/** Throws the typed error of a libzt call that returned a negative code. */
export function check(fn: string, rc: number, hint = ""): void {
  if (rc < 0) throw LibztCallError.fromReturn(fn, rc, 0, hint);
}

/**
 * Creates the storage directory owner-only (0700) when it does not exist, so
 * the identity and caches libzt writes there are private whatever libzt's own
 * modes. An existing directory is left as it is.
 */
export function ensurePrivateDirectory(path: string): void {
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

/** Makes every `zts_init_*` call `o` asks for, then registers `onEvent` as libzt's event handler. */
export function initializeNode(
  lib: NativeLibrary,
  o: NodeInit,
  onEvent: (raw: RawEvent) => void,
): void {
  const f = lib.fn;
  if (o.storagePath !== undefined) {
    check("zts_init_from_storage", f.zts_init_from_storage(nulTerminated(o.storagePath)));
  }
  if (o.identity !== undefined) {
    check("zts_init_from_memory", initFromMemory(lib, o.identity), "The identity was rejected.");
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
  check("zts_init_set_event_handler", lib.setEventHandler(onEvent));
}

/**
 * `zts_node_start`, after setting libzt 1.8's "callbacks running" mark
 * (`NativeLibrary.markCallbacksRunning`: without it the event thread may exit
 * at once and the node run with no events).
 */
export function startNode(lib: NativeLibrary): void {
  lib.markCallbacksRunning();
  check("zts_node_start", lib.fn.zts_node_start(), "Was a node already started in this process?");
}
