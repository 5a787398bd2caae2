/**
 * A pingable node: joins a network, prints its addresses and stays up, so
 * another ZeroTier member can `ping` it (libzt's stack answers ICMP echo).
 * Ctrl-C stops it.
 *
 *   LIBZT_PATH=/usr/local/lib/libzt.so ZT_NETWORK=<network id> deno run -A examples/ping_node.ts
 */
import { ZeroTierNode } from "../mod.ts";
import { networkId, startOptions } from "./_config.ts";

const node = await ZeroTierNode.start(startOptions());
console.log(`node ${node.nodeId} started; waiting to come online...`);
await node.waitUntilOnline({ timeout: 60_000 });
const network = await node.join(networkId, { timeout: 60_000 });
for (const a of network.assignedAddresses) console.log(`ping me at ${a.address} (network ${network.networkId})`);

const stop = async () => {
  Deno.removeSignalListener("SIGINT", stop);
  await node.stop();
};
Deno.addSignalListener("SIGINT", stop);
