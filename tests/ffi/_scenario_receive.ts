/**
 * Tier-2 scenarios of the I/O thread that reads TCP connections (run in child
 * processes by receive_test.ts; libzt allows one node per process). Each
 * mode starts a node on the stand-in, records facts, prints them as ONE JSON
 * object on stdout, stops the node and must then exit by itself.
 *
 * Usage: deno run -A _scenario_receive.ts <mode> <standinPath>
 *   thread   the default I/O thread: idle costs, batched wake-ups, read-ahead
 *            bounded by readBufferSize, request/response not delayed, rings freed
 *   direct   receiveThread: false: the same data through the JS-thread path
 *   options  invalid receiveThread / readBufferSize values
 */
import { createHash, randomFillSync } from "node:crypto";
import { adhocIPv4NetworkId, type TcpListener, ZeroTierNode } from "../../mod.ts";
import { nodeInternals } from "../../src/node/internals.ts";
import { reportError, sleep } from "./_helpers.ts";

const [mode, libraryPath] = Deno.args;
const out: Record<string, unknown> = { mode };

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) randomFillSync(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}
const counters = (node: ZeroTierNode) => nodeInternals(node).receiveCounters;

async function pair(node: ZeroTierNode, listenOptions: { readBufferSize?: number } = {}) {
  const listener: TcpListener = node.listen({ hostname: "127.0.0.1", port: 0, ...listenOptions });
  const connecting = node.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  const client = await connecting;
  listener.close();
  return { client, server };
}

async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(readable).arrayBuffer());
}

/** `bytes` from client to server with a plain reader; what the I/O thread did meanwhile. */
async function bulk(node: ZeroTierNode, bytes: number) {
  const { client, server } = await pair(node);
  const data = random(bytes);
  const before = counters(node);
  const t0 = performance.now();
  const reading = readAll(server.readable);
  const w = client.writable.getWriter();
  await w.write(data);
  await w.close();
  const got = await reading;
  const ms = performance.now() - t0;
  const after = counters(node);
  client.close();
  server.close();
  return {
    bytes,
    intact: got.byteLength === bytes && sha256(got) === sha256(data),
    ms,
    wakes: after && before ? after.wakes - before.wakes : undefined,
    receives: after && before ? after.receives - before.receives : undefined,
  };
}

/** A server reading with a small ring and a reader that takes one chunk, then pauses. */
async function readAhead(node: ZeroTierNode) {
  const RING = 64 * 1024;
  const { client, server } = await pair(node, { readBufferSize: RING });
  const reader = server.readable.getReader();
  const reading = reader.read(); // the ring is attached: the I/O thread reads ahead from now on
  const w = client.writable.getWriter();
  const data = random(16 * 1024 * 1024);
  const writing = w.write(data).then(() => "written");
  const first = await reading;
  await sleep(500);
  // The app has not read for 500 ms: the I/O thread stopped at a full ring, so the kernel's
  // buffers and then the writer fill up; the 16 MB cannot all be gone.
  const writerBlocked = await Promise.race([writing, sleep(0).then(() => "pending")]);
  const pollsBefore = counters(node)!.polls;
  await sleep(300);
  const pollsWhileFull = counters(node)!.polls - pollsBefore;
  let received = first.value?.byteLength ?? 0;
  const hash = createHash("sha256");
  if (first.value) hash.update(first.value);
  let biggestChunk = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    received += value.byteLength;
    biggestChunk = Math.max(biggestChunk, value.byteLength);
    hash.update(value);
    if (received === data.byteLength) {
      await w.close();
    }
  }
  await writing;
  client.close();
  server.close();
  return {
    ringBytes: RING,
    writerBlocked,
    pollsWhileFull,
    biggestChunk,
    intact: received === data.byteLength && hash.digest("hex") === sha256(data),
  };
}

/** Small request/response round trips over an echo: their time, with a long wake bound. */
async function roundTrips(node: ZeroTierNode, count: number) {
  const { client, server } = await pair(node);
  server.readable.pipeTo(server.writable).catch(() => {});
  const w = client.writable.getWriter();
  const r = client.readable.getReader();
  const times: number[] = [];
  const msg = random(100);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await w.write(msg);
    let got = 0;
    while (got < msg.byteLength) got += (await r.read()).value!.byteLength;
    times.push(performance.now() - t0);
  }
  client.close();
  server.close();
  times.sort((a, b) => a - b);
  return { count, medianMs: times[count >> 1], p90Ms: times[Math.floor(count * 0.9)] };
}

/** No connection being read, and a parked reader on a quiet connection: what the thread does meanwhile. */
async function idle(node: ZeroTierNode) {
  // The thread starts with the node's first socket: make it read one connection, then end it.
  {
    const { client, server } = await pair(node);
    const w = client.writable.getWriter();
    await w.write(new Uint8Array([1]));
    await server.readable.getReader().read();
    client.close();
    server.close();
    await sleep(100);
  }
  const c0 = counters(node)!;
  await sleep(600);
  const c1 = counters(node)!;
  const { client, server } = await pair(node);
  const reading = server.readable.getReader().read(); // parked: nothing comes
  await sleep(200);
  const c2 = counters(node)!;
  await sleep(2500);
  const c3 = counters(node)!;
  client.close();
  server.close();
  await reading.catch(() => {});
  return {
    noConnection: { polls: c1.polls - c0.polls, receives: c1.receives - c0.receives },
    parkedQuiet2500ms: {
      polls: c3.polls - c2.polls,
      receives: c3.receives - c2.receives,
      wakes: c3.wakes - c2.wakes,
    },
  };
}

const step = (what: string) =>
  Deno.env.get("RXZT_SCENARIO_DEBUG") &&
  console.error(`[${Math.round(performance.now())}] ${what}`);
let node: ZeroTierNode | undefined;
try {
  if (mode === "thread") {
    // A long wake bound, so that a round trip delayed by batching could not hide.
    node = await ZeroTierNode.start({
      libraryPath,
      timeout: 5000,
      receiveThread: { wakeWithinMs: 200 },
    });
    await node.waitUntilOnline({ timeout: 3000 });
    await node.join(adhocIPv4NetworkId(10), { timeout: 3000 });
    step("idle");
    out.idle = await idle(node);
    step("bulk");
    out.bulk = await bulk(node, 32 * 1024 * 1024);
    step("readAhead");
    out.readAhead = await readAhead(node);
    step("roundTrips");
    out.roundTrips = await roundTrips(node, 200);
    await sleep(100);
    out.afterAll = { reading: nodeInternals(node).readingConnections, sockets: node.openSockets };
  } else if (mode === "direct") {
    node = await ZeroTierNode.start({ libraryPath, timeout: 5000, receiveThread: false });
    await node.waitUntilOnline({ timeout: 3000 });
    await node.join(adhocIPv4NetworkId(10), { timeout: 3000 });
    out.bulk = await bulk(node, 8 * 1024 * 1024);
    const { client, server } = await pair(node);
    const w = client.writable.getWriter();
    await w.write(random(1000));
    const reader = server.readable.getReader({ mode: "byob" });
    const { value } = await reader.read(new Uint8Array(4096));
    out.byob = value?.byteLength;
    client.close();
    server.close();
    out.internals = {
      counters: counters(node) ?? null,
      ioThreadSockets: nodeInternals(node).ioThreadSockets,
    };
  } else if (mode === "options") {
    const attempt = async (options: Record<string, unknown>) => {
      try {
        const n = await ZeroTierNode.start({ libraryPath, timeout: 5000, ...options });
        await n.stop();
        return "started";
      } catch (err) {
        return reportError(err);
      }
    };
    out.badThread = await attempt({ receiveThread: "yes" });
    out.badWithin = await attempt({ receiveThread: { wakeWithinMs: -1 } });
    out.unknownKey = await attempt({ receiveThread: { wakeAfter: 5 } });
    node = await ZeroTierNode.start({ libraryPath, timeout: 5000 });
    await node.waitUntilOnline({ timeout: 3000 });
    // connect() rejects (it returns a promise); the argument check comes before anything else.
    const tryConnect = (size: unknown) =>
      node!.connect({
        hostname: "127.0.0.1",
        port: 1,
        readBufferSize: size as number,
        timeout: 1000,
      }).then(
        () => "connected",
        (err) => reportError(err),
      );
    out.tooSmall = await tryConnect(1024);
    out.notInteger = await tryConnect(1.5);
    try {
      node.listen({ port: 0, readBufferSize: 2 ** 40 });
      out.listenTooBig = "accepted";
    } catch (err) {
      out.listenTooBig = reportError(err);
    }
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} catch (err) {
  out.unexpected = reportError(err);
  out.unexpectedStack = (err as Error)?.stack;
  Deno.exitCode = 1;
}
await node?.stop();
console.log(JSON.stringify(out));
