/**
 * A chat between two nodes. One side listens, the other connects; lines typed
 * on either side appear on the other. Ctrl-D or Ctrl-C ends it.
 *
 *   LIBZT_PATH=... ZT_NETWORK=<id> deno run -A examples/chat.ts            # listens on 7001
 *   LIBZT_PATH=... ZT_NETWORK=<id> deno run -A examples/chat.ts <address>  # connects
 */
import { map } from "rxjs";
import { fromReadable, type TcpConn } from "../mod.ts";
import { networkId, report, startNode } from "./_config.ts";

const PORT = 7001;
const node = await startNode();

/** Joins the network and connects to the partner (or waits for one). */
async function partner(): Promise<TcpConn> {
  await node.waitUntilOnline({ timeout: 60_000 });
  const network = await node.join(networkId, { timeout: 60_000 });
  if (Deno.args[0]) {
    return await node.connect({ hostname: Deno.args[0], port: PORT, timeout: 30_000 });
  }
  const listener = node.listen({ port: PORT });
  console.log(
    `waiting for a chat partner on ${network.assignedAddresses.map((a) => a.address).join(" or ")}`,
  );
  try {
    return await listener.accept();
  } finally {
    listener.close();
  }
}

const conn = await partner().catch(async (err) => (report(err), await node.stop(), Deno.exit()));
console.log(`connected to ${conn.remoteAddr.hostname}; type lines, Ctrl-D to leave`);

// Incoming: bytes → text → the terminal, through an RxJS pipeline.
const decoder = new TextDecoder();
const partnerLeft = new Promise<void>((resolve) =>
  fromReadable(conn.readable).pipe(map((chunk) => decoder.decode(chunk, { stream: true })))
    .subscribe({
      next: (text) => void Deno.stdout.write(new TextEncoder().encode(`> ${text}`)),
      complete: () => (console.log("(partner left)"), resolve()),
      error: (err) => (console.log(`(connection lost: ${err.code})`), resolve()),
    })
);

// Outgoing: the terminal's lines into the connection. Ctrl-D half-closes: the partner
// sees us leave, and we still read what it sends until it leaves too (Ctrl-C: at once).
const onInterrupt = () => conn.close();
Deno.addSignalListener("SIGINT", onInterrupt);
await Deno.stdin.readable.pipeTo(conn.writable).catch(() => {});
await partnerLeft;
Deno.removeSignalListener("SIGINT", onInterrupt);
conn.close();
await node.stop(); // the process then exits by itself
