/**
 * The address of a TCP or UDP socket as rxzt reports it (`NetAddr`, like
 * Deno's).
 *
 * @module
 */
import type { SocketAddress } from "../ffi/sockaddr.ts";

/** An address of a TCP or UDP socket, like Deno's `NetAddr`. */
export interface NetAddr {
  /** `"tcp"` or `"udp"`. */
  readonly transport: "tcp" | "udp";
  /** The IP address in text form. */
  readonly hostname: string;
  /** The port. */
  readonly port: number;
}

/** A socket's address as a {@link NetAddr} (empty when libzt could not tell it). */
export function netAddr(transport: "tcp" | "udp", e: SocketAddress | undefined): NetAddr {
  return { transport, hostname: e?.address ?? "", port: e?.port ?? 0 };
}
