/**
 * The receiving end of a benchmark transfer, shared by the Deno agent
 * (`agent.ts`) in Deno and in Node: it
 * only needs web streams, so both runtimes count alike.
 *
 * @module
 */

/** What a receiver saw of one transfer. */
export interface SinkStats {
  bytes: number;
  /** Gaps of 250 ms or more between reads (stalls, as bench/zt_bench.c counts them), and their total (s). */
  stalls: number;
  stalled: number;
  /**
   * Shorter gaps between reads: 2-10 ms and 10-250 ms. A reader this late lets
   * lwIP's receive queue fill (behind a paced sender they are mostly the
   * sender's pauses: nothing was there to read).
   */
  gaps2: number;
  gaps10: number;
  /** Where each stall began (MB into the transfer). */
  stallAt: number[];
}

/** Work done on each chunk a consumer side reads (e.g. hashing it); awaited before the next read. */
export type ChunkConsumer = (chunk: Uint8Array) => unknown;

/**
 * Reads `conn` to its end, answers with the count as 8 bytes (big-endian) and
 * closes its writable. Without `consume`: a BYOB reader and one `chunkSize`
 * buffer (the cheapest reader there is). With it: a default reader, as most
 * apps read, awaiting `consume(chunk)` for every chunk before the next read.
 *
 * @example
 * ```ts ignore
 * for await (const conn of listener) sinkConnection(conn, 256 * 1024).then((s) => stats.push(s));
 * ```
 */
export async function sinkConnection(
  conn: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  chunkSize: number,
  consume?: ChunkConsumer,
): Promise<SinkStats> {
  const stats: SinkStats = { bytes: 0, stalls: 0, stalled: 0, gaps2: 0, gaps10: 0, stallAt: [] };
  let last = performance.now();
  const count = (n: number) => {
    stats.bytes += n;
    const t = performance.now();
    if (t - last >= 250) {
      stats.stalls++;
      stats.stalled += (t - last) / 1000;
      stats.stallAt.push(Math.round((stats.bytes - n) / 1e5) / 10);
    } else if (t - last >= 10) stats.gaps10++;
    else if (t - last >= 2) stats.gaps2++;
    last = t;
  };
  if (consume) {
    const reader = conn.readable.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done || !value) break;
      count(value.byteLength);
      await consume(value);
    }
    reader.releaseLock();
  } else {
    const reader = conn.readable.getReader({ mode: "byob" });
    let buf = new ArrayBuffer(chunkSize);
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(buf));
      if (done || !value) break;
      count(value.byteLength);
      buf = value.buffer as ArrayBuffer;
    }
    reader.releaseLock();
  }
  const reply = new Uint8Array(8);
  new DataView(reply.buffer).setBigUint64(0, BigInt(stats.bytes));
  const w = conn.writable.getWriter();
  await w.write(reply);
  await w.close();
  return stats;
}
