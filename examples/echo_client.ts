/**
 * TCP echo client: sends a line, prints what comes back.
 *
 *   LIBZT_PATH=... ZT_NETWORK=<id> deno run -A examples/echo_client.ts <server address> [port] [text]
 */
import { networkId, report, startNode } from "./_config.ts";

const [hostname, port = "7000", text = "hello over ZeroTier"] = Deno.args;
if (!hostname) {
  console.error("usage: echo_client.ts <server address> [port] [text]");
  Deno.exit(2);
}
const node = await startNode();
try {
  await node.waitUntilOnline({ timeout: 60_000 });
  await node.join(networkId, { timeout: 60_000 });
  const conn = await node.connect({ hostname, port: Number(port), timeout: 30_000 });
  const writer = conn.writable.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close(); // half-close: the server sees the end and finishes echoing
  console.log("echo:", await new Response(conn.readable).text());
} catch (err) {
  report(err);
} finally {
  await node.stop();
}
