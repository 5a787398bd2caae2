/**
 * The `zts_pollfd` array codec, for the readiness poller and the I/O thread.
 *
 * @module
 */
import { POLLFD } from "./layout.ts";

/** Bytes of `count` pollfds. */
export function pollfdBytes(count: number): number {
  return count * POLLFD.size;
}

/** Sets pollfd `i` to wait for `events` on `fd` (revents cleared). */
export function setPollfd(view: DataView, i: number, fd: number, events: number): void {
  const at = i * POLLFD.size;
  view.setInt32(at + POLLFD.fd, fd, true);
  view.setInt16(at + POLLFD.events, events, true);
  view.setInt16(at + POLLFD.revents, 0, true);
}

/** The events `zts_bsd_poll` reported for pollfd `i`. */
export function revents(view: DataView, i: number): number {
  return view.getInt16(i * POLLFD.size + POLLFD.revents, true);
}
