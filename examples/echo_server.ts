/**
 * TCP echo server over ZeroTier: every connection gets its bytes back.
 *
 *   LIBZT_PATH=... ZT_NETWORK=<id> deno run -A examples/echo_server.ts [port]
 */
import { networkId, report, startNode } from "./_config.ts";

const port = Number(Deno.args[0] ?? 7000);
const node = await startNode();
const network = await node.waitUntilOnline({ timeout: 60_000 })
  .then(() => node.join(networkId, { timeout: 60_000 }))
  .catch(async (err) => (report(err), await node.stop(), Deno.exit()));
const listener = node.listen({ port });
for (const a of network.assignedAddresses) console.log(`echo server on ${a.address} port ${port}`);

Deno.addSignalListener("SIGINT", () => node.stop()); // ends the loop below; the process then exits

for await (const conn of listener) {
  console.log(`connection from ${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`);
  // pipeTo keeps backpressure: a client that stops reading stops being read.
  conn.readable.pipeTo(conn.writable).catch((err) => console.error(`${err.code}: ${err.message}`));
}
