/**
 * The event copier: copies one `zts_event_msg_t` and the payloads it points
 * to out of libzt's memory during the callback (libzt frees them when the
 * callback returns). Each backend supplies the two primitives it needs: the
 * message's address and a copy of memory at an address.
 *
 * @module
 */
import type { RawEvent } from "./backend.ts";
import {
  ADDR_INFO,
  EVENT_MSG,
  NET_INFO,
  NETIF_INFO,
  NODE_INFO,
  PEER_INFO,
  ROUTE_INFO,
} from "./layout.ts";

/** A fresh copy of `size` bytes at `address` (which stays valid during the callback only). */
export type CopyMemory = (address: bigint, size: number) => ArrayBuffer;

/** Copies the event message at `address` (0 for none) and its payloads with `copy`. */
export function copyEvent(address: bigint, copy: CopyMemory): RawEvent | undefined {
  if (address === 0n) return undefined;
  const msg = new DataView(copy(address, EVENT_MSG.size));
  const at = (offset: number) => msg.getBigUint64(offset, true);
  const payload = (offset: number, size: number) => {
    const pointer = at(offset);
    return pointer === 0n ? undefined : new DataView(copy(pointer, size));
  };
  const cache = at(EVENT_MSG.cache);
  const len = msg.getInt32(EVENT_MSG.len, true);
  return {
    code: msg.getInt16(EVENT_MSG.eventCode, true),
    node: payload(EVENT_MSG.node, NODE_INFO.size),
    // The 16 KiB multicast table at the end is not decoded: copy the header only.
    network: payload(EVENT_MSG.network, NET_INFO.headerSize),
    netif: payload(EVENT_MSG.netif, NETIF_INFO.size),
    route: payload(EVENT_MSG.route, ROUTE_INFO.size),
    peer: payload(EVENT_MSG.peer, PEER_INFO.size),
    addr: payload(EVENT_MSG.addr, ADDR_INFO.size),
    cache: cache !== 0n && len > 0 ? new Uint8Array(copy(cache, len)) : undefined,
  };
}
