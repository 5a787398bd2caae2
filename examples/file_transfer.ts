/**
 * File transfer with progress and a SHA-256 checksum on both sides.
 *
 *   LIBZT_PATH=... ZT_NETWORK=<id> deno run -A examples/file_transfer.ts receive <out-file>
 *   LIBZT_PATH=... ZT_NETWORK=<id> deno run -A examples/file_transfer.ts send <address> <file>
 */
import { createHash } from "node:crypto";
import { networkId, report, startNode } from "./_config.ts";

const PORT = 7002;
const [mode, a, b] = Deno.args;

/** A pass-through stream that hashes and reports progress. */
function meter(label: string, total?: number) {
  const hash = createHash("sha256");
  let bytes = 0;
  let last = 0;
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      const now = performance.now();
      if (now - last > 500) {
        last = now;
        console.log(
          `${label} ${(bytes / 1e6).toFixed(1)} MB${
            total ? ` of ${(total / 1e6).toFixed(1)} MB` : ""
          }`,
        );
      }
      controller.enqueue(chunk);
    },
  });
  return { stream, done: () => ({ bytes, sha256: hash.digest("hex") }) };
}

if (!((mode === "receive" && a) || (mode === "send" && a && b))) {
  console.error("usage: file_transfer.ts receive <out-file> | send <address> <file>");
  Deno.exit(2);
}
const node = await startNode();
try {
  await node.waitUntilOnline({ timeout: 60_000 });
  const network = await node.join(networkId, { timeout: 60_000 });
  if (mode === "receive" && a) {
    const listener = node.listen({ port: PORT });
    console.log(
      `receiving on ${network.assignedAddresses.map((x) => x.address).join(" or ")} port ${PORT}`,
    );
    const conn = await listener.accept();
    listener.close();
    const m = meter("received");
    const file = await Deno.open(a, { write: true, create: true, truncate: true });
    await conn.readable.pipeThrough(m.stream).pipeTo(file.writable);
    const { bytes, sha256 } = m.done();
    console.log(`done: ${bytes} bytes, sha256 ${sha256}`);
    const w = conn.writable.getWriter();
    await w.write(new TextEncoder().encode(sha256));
    await w.close();
  } else {
    const size = (await Deno.stat(b)).size;
    const conn = await node.connect({ hostname: a, port: PORT, timeout: 30_000 });
    const m = meter("sent", size);
    const file = await Deno.open(b);
    await file.readable.pipeThrough(m.stream).pipeTo(conn.writable); // closing it half-closes
    const { bytes, sha256 } = m.done();
    const theirs = await new Response(conn.readable).text();
    console.log(
      `done: ${bytes} bytes, sha256 ${sha256}; receiver's ${
        theirs === sha256 ? "matches" : `DIFFERS: ${theirs}`
      }`,
    );
  }
} catch (err) {
  report(err);
} finally {
  await node.stop();
}
