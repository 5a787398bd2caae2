/**
 * The libzt symbols rxzt uses, in one table both FFI backends (Deno and koffi)
 * are generated from. Types are abstract: `buf` is a pointer argument the
 * caller passes as a `Uint8Array`/`Uint32Array` (or `null`), `u64` values are
 * `bigint` on the JavaScript side.
 *
 * @module
 */

/** Abstract C types of the symbol table. */
export type CType = "void" | "i32" | "u32" | "u16" | "u64" | "usize" | "isize" | "buf";

/** One C function: its parameter types and result type. */
export interface SymbolDef {
  readonly parameters: readonly CType[];
  readonly result: CType;
  /**
   * Calls that may block (waiting on libzt's locks or the network) run off the
   * JavaScript thread; their binding returns a Promise.
   */
  readonly blocking?: boolean;
}

function fn<
  const P extends readonly CType[],
  const R extends CType,
  const B extends boolean = false,
>(
  parameters: P,
  result: R,
  blocking?: B,
): { parameters: P; result: R; blocking: B } {
  return { parameters, result, blocking: (blocking ?? false) as B };
}

/**
 * Every libzt function rxzt calls. A library missing any of `REQUIRED_SYMBOLS`
 * is rejected at load time with an error naming what is missing.
 */
export const SYMBOLS = {
  // Identity and root sets (usable without a running node).
  zts_id_new: fn(["buf", "buf"], "i32"),
  zts_id_pair_is_valid: fn(["buf", "u32"], "i32"),
  zts_util_sign_root_set: fn(
    ["buf", "buf", "buf", "buf", "buf", "buf", "u64", "u64", "buf"],
    "i32",
  ),
  zts_net_compute_adhoc_id: fn(["u16", "u16"], "u64"),
  zts_addr_compute_6plane_str: fn(["u64", "u64", "buf", "u32"], "i32"),
  zts_addr_compute_rfc4193_str: fn(["u64", "u64", "buf", "u32"], "i32"),

  // Initialisation, before zts_node_start.
  zts_init_from_storage: fn(["buf"], "i32"),
  zts_init_from_memory: fn(["buf", "u32"], "i32"),
  zts_init_set_roots: fn(["buf", "u32"], "i32"),
  zts_init_set_port: fn(["u16"], "i32"),
  zts_init_set_random_port_range: fn(["u16", "u16"], "i32"),
  zts_init_allow_secondary_port: fn(["u32"], "i32"),
  zts_init_allow_port_mapping: fn(["u32"], "i32"),
  zts_init_allow_net_cache: fn(["u32"], "i32"),
  zts_init_allow_peer_cache: fn(["u32"], "i32"),
  zts_init_allow_roots_cache: fn(["u32"], "i32"),
  zts_init_allow_id_cache: fn(["u32"], "i32"),
  zts_init_set_low_bandwidth_mode: fn(["i32"], "i32"),
  zts_init_blacklist_if: fn(["buf", "u32"], "i32"),
  // zts_init_set_event_handler is bound by each backend: it takes a callback.

  // Node lifecycle. stop/free take libzt's service lock: never on the JS thread.
  zts_node_start: fn([], "i32"),
  zts_node_stop: fn([], "i32", true),
  zts_node_free: fn([], "i32", true),
  zts_node_is_online: fn([], "i32"),
  zts_node_get_id: fn([], "u64"),
  zts_node_get_port: fn([], "i32"),
  zts_node_get_id_pair: fn(["buf", "buf"], "i32"),

  // Networks and addresses.
  zts_net_join: fn(["u64"], "i32"),
  zts_net_leave: fn(["u64"], "i32"),
  zts_net_transport_is_ready: fn(["u64"], "i32"),
  zts_net_get_status: fn(["u64"], "i32"),
  zts_net_get_name: fn(["u64", "buf", "u32"], "i32"),
  zts_net_get_mtu: fn(["u64"], "i32"),
  zts_net_get_type: fn(["u64"], "i32"),
  zts_net_get_mac: fn(["u64"], "u64"),
  zts_addr_is_assigned: fn(["u64", "u32"], "i32"),
  zts_addr_get_all: fn(["u64", "buf", "buf"], "i32"),

  // Statistics (real figures only in a stats-enabled libzt build).
  zts_stats_get_all: fn(["buf"], "i32"),

  // BSD sockets. Sockets are non-blocking: every call but poll returns at once
  // and runs on the JS thread, so `zts_errno` (one global) is read right after.
  zts_bsd_socket: fn(["i32", "i32", "i32"], "i32"),
  zts_bsd_connect: fn(["i32", "buf", "u32"], "i32"),
  zts_bsd_bind: fn(["i32", "buf", "u32"], "i32"),
  zts_bsd_listen: fn(["i32", "i32"], "i32"),
  zts_bsd_accept: fn(["i32", "buf", "buf"], "i32"),
  zts_bsd_recv: fn(["i32", "buf", "usize", "i32"], "isize"),
  zts_bsd_send: fn(["i32", "buf", "usize", "i32"], "isize"),
  zts_bsd_recvfrom: fn(["i32", "buf", "usize", "i32", "buf", "buf"], "isize"),
  zts_bsd_sendto: fn(["i32", "buf", "usize", "i32", "buf", "u32"], "isize"),
  zts_bsd_shutdown: fn(["i32", "i32"], "i32"),
  zts_bsd_close: fn(["i32"], "i32"),
  zts_bsd_fcntl: fn(["i32", "i32", "i32"], "i32"),
  zts_bsd_setsockopt: fn(["i32", "i32", "i32", "buf", "u32"], "i32"),
  zts_bsd_getsockopt: fn(["i32", "i32", "i32", "buf", "buf"], "i32"),
  zts_bsd_getsockname: fn(["i32", "buf", "buf"], "i32"),
  zts_bsd_getpeername: fn(["i32", "buf", "buf"], "i32"),
  // The one call that waits: the shared readiness poller runs it off the JS thread.
  zts_bsd_poll: fn(["buf", "u32", "i32"], "i32", true),
} as const satisfies Record<string, SymbolDef>;

/** Names of the functions in {@link SYMBOLS}. */
export type SymbolName = keyof typeof SYMBOLS;

/** Symbols a library must export to be accepted, including the event hook. */
export const REQUIRED_SYMBOLS: readonly string[] = [
  ...Object.keys(SYMBOLS),
  "zts_init_set_event_handler",
  "zts_errno",
];

/** JavaScript type of a C type, as arguments. */
type ArgOf<T extends CType> = T extends "u64" ? bigint
  : T extends "buf" ? Uint8Array | Uint32Array | null
  : number;
/** JavaScript type of a C type, as results. */
type ResultOf<T extends CType> = T extends "u64" ? bigint : T extends "void" ? void : number;

type Params<P extends readonly CType[]> = {
  [K in keyof P]: P[K] extends CType ? ArgOf<P[K]> : never;
};

/** A bound function of the table: blocking ones return a Promise. */
export type Bound<D extends SymbolDef> = D["blocking"] extends true
  ? (...args: Params<D["parameters"]>) => Promise<ResultOf<D["result"]>>
  : (...args: Params<D["parameters"]>) => ResultOf<D["result"]>;

/** All functions of {@link SYMBOLS}, bound. */
export type BoundSymbols = { [K in SymbolName]: Bound<(typeof SYMBOLS)[K]> };
