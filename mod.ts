/**
 * rxzt: an embedded ZeroTier node (libzt) for Deno, with every event as an
 * RxJS observable.
 *
 * @example
 * ```ts
 * import { adhocNetworkId, ZeroTierNode } from "@rxzt/rxzt";
 *
 * const node = await ZeroTierNode.start();
 * node.peer$().subscribe((p) => console.log(p.peerId, p.link));
 * await node.waitUntilOnline({ timeout: 30_000 });
 * const net = await node.join(adhocNetworkId(5000, 5010));
 * console.log("my addresses:", net.assignedAddresses);
 * await node.stop();
 * ```
 *
 * @module
 */
import { openDenoLibrary } from "./src/ffi/deno.ts";
import { registerBackend } from "./src/ffi/runtime.ts";

registerBackend(openDenoLibrary);

export * from "./src/api.ts";
