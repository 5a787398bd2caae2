/**
 * A pingable node: joins a network, prints its addresses and stays up, so
 * another ZeroTier member can `ping` it (libzt's stack answers ICMP echo).
 * Ctrl-C stops it, also while it is still coming up.
 *
 *   LIBZT_PATH=/usr/local/lib/libzt.so ZT_NETWORK=<network id> deno run -A examples/ping_node.ts
 */
import { networkId, report, startNode } from "./_config.ts";

const node = await startNode();
const interrupted = new AbortController();
const stop = async () => {
  Deno.removeSignalListener("SIGINT", stop);
  interrupted.abort(new Error("interrupted"));
  await node.stop(); // the process then exits by itself
  console.log("stopped");
};
Deno.addSignalListener("SIGINT", stop);

try {
  console.log(`node ${node.nodeId} started; waiting to come online...`);
  await node.waitUntilOnline({ timeout: 60_000, signal: interrupted.signal });
  const network = await node.join(networkId, { timeout: 60_000, signal: interrupted.signal });
  for (const a of network.assignedAddresses) {
    console.log(`ping me at ${a.address} (network ${network.networkId})`);
  }
} catch (err) {
  if (!interrupted.signal.aborted) {
    report(err);
    await stop();
  }
}
