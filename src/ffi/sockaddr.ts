/**
 * The sockaddr codec: libzt's `zts_sockaddr_storage` to and from the one
 * address type rxzt uses ({@link SocketAddress}), for events and sockets alike.
 *
 * @module
 */
import { formatIp, type IpFamily, parseIp } from "../ip.ts";
import { AF_INET, AF_INET6, SOCKADDR_STORAGE } from "./layout.ts";

/** An address with its port (or, for assigned addresses and routes, prefix length). */
export interface SocketAddress {
  /** `"IPv4"` or `"IPv6"`. */
  readonly family: IpFamily;
  /** The address in text form (`"10.0.0.1"`, `"fd00::1"`). */
  readonly address: string;
  /** The port (or, for assigned addresses and routes, the prefix length). */
  readonly port: number;
}

/** Decodes a `zts_sockaddr_storage` at `offset`; `undefined` for an empty/unknown family. */
export function decodeSockaddr(view: DataView, offset = 0): SocketAddress | undefined {
  const family = view.getUint8(offset + SOCKADDR_STORAGE.family);
  const port = view.getUint16(offset + SOCKADDR_STORAGE.port, false);
  const base = view.byteOffset + offset;
  if (family === AF_INET) {
    const bytes = new Uint8Array(view.buffer, base + SOCKADDR_STORAGE.in4Addr, 4);
    return { family: "IPv4", address: formatIp(bytes), port };
  }
  if (family === AF_INET6) {
    const bytes = new Uint8Array(view.buffer, base + SOCKADDR_STORAGE.in6Addr, 16);
    return { family: "IPv6", address: formatIp(bytes), port };
  }
  return undefined;
}

/** Encodes an IP literal and port as a libzt sockaddr; `undefined` if not an IP literal. */
export function encodeSockaddr(address: string, port: number): Uint8Array | undefined {
  const ip = parseIp(address);
  if (!ip) return undefined;
  const v6 = ip.length === 16;
  const out = new Uint8Array(v6 ? SOCKADDR_STORAGE.in6Size : SOCKADDR_STORAGE.in4Size);
  const view = new DataView(out.buffer);
  view.setUint8(SOCKADDR_STORAGE.len, out.length);
  view.setUint8(SOCKADDR_STORAGE.family, v6 ? AF_INET6 : AF_INET);
  view.setUint16(SOCKADDR_STORAGE.port, port, false);
  out.set(ip, v6 ? SOCKADDR_STORAGE.in6Addr : SOCKADDR_STORAGE.in4Addr);
  return out;
}
