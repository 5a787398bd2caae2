/**
 * rxzt for Node (the npm package's entry point): the same library as
 * `mod.ts`, with libzt loaded through koffi instead of `Deno.dlopen`.
 *
 * @example
 * ```ts
 * import { adhocNetworkId, ZeroTierNode } from "rxzt";
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
import { openKoffiLibrary } from "./src/ffi/koffi.ts";
import { registerBackend } from "./src/ffi/runtime.ts";

registerBackend(openKoffiLibrary);

export * from "./src/api.ts";
