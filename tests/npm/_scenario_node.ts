/**
 * The tier-2 scenario of the shared runtime tests (run by node_test.ts in a
 * child process of the same runtime: one libzt node per process). Starts a
 * node on the stand-in and prints one JSON object with what it saw; then
 * returns WITHOUT exiting: the process must end by itself after stop().
 *
 * Usage: <runtime> _scenario_node.(ts|js) <standin path>
 */
import { createHash, randomFillSync } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  adhocIPv4NetworkId,
  EVENT_CODES,
  type TcpConn,
  type ZeroTierEvent,
  ZeroTierNode,
} from "rxzt";
import { runtime, standinControl } from "./_runtime.ts";

const [libraryPath] = process.argv.slice(runtime === "deno" ? 2 : 2);
const out: Record<string, unknown> = {
  runtime,
  threadpool: process.env.UV_THREADPOOL_SIZE || null,
};

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function readAll(conn: TcpConn): Promise<Uint8Array> {
  return new Uint8Array(await new Response(conn.readable).arrayBuffer());
}

try {
  const ctl = await standinControl(libraryPath);
  const node = await ZeroTierNode.start({ libraryPath, timeout: 5000 });
  out.nodeId = node.nodeId;
  const events: ZeroTierEvent[] = [];
  const handlerOnEventThread: boolean[] = [];
  let completed = 0;
  node.events$.subscribe({
    next: (e) => {
      events.push(e);
      handlerOnEventThread.push(ctl.handlerThreadIsCaller());
    },
    complete: () => completed++,
  });
  node.peers$.subscribe({ complete: () => completed++ });

  // Events come from the stand-in's own thread and are handled on the JS thread.
  await node.waitUntilOnline({ timeout: 3000 });
  out.eventThreadDiffers = ctl.eventThreadId() !== 0n &&
    ctl.eventThreadId() !== ctl.currentThreadId();

  // Peer payloads are scrubbed by the stand-in as soon as the callback returns:
  // decoding right means libzt's thread waited for the JS handler.
  const peers = await new Promise<Map<string, { link: string; paths: unknown[]; latency: number }>>(
    (resolve) => {
      const sub = node.peers$.subscribe((all) => {
        if (all.get("00000000aa")?.link === "DIRECT" && all.get("00000000aa")!.paths.length === 2) {
          queueMicrotask(() => sub.unsubscribe());
          resolve(all as never);
        }
      });
    },
  );
  const aa = peers.get("00000000aa")!;
  out.peer = { link: aa.link, paths: aa.paths, latency: aa.latency };

  // A burst of 500 route events, each with a payload the stand-in scrubs after its callback.
  const before = events.length;
  const delivered0 = ctl.delivered();
  ctl.emitBurst(EVENT_CODES.ROUTE_ADDED, 0n, 500);
  const deadline = performance.now() + 5000;
  while (ctl.delivered() - delivered0 < 500n && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 20));
  const burst = events.slice(before).filter((e) => e.type === "ROUTE_ADDED");
  out.burst = {
    received: burst.length,
    intactPayloads: burst.filter((e) =>
      e.type === "ROUTE_ADDED" && e.route?.target?.address === "10.147.17.0"
    ).length,
    dropped: Number(ctl.dropped()),
  };
  out.handlerRanOnEventThread = handlerOnEventThread.some(Boolean);

  // Network, then TCP over the stand-in's host sockets.
  const net = await node.join(adhocIPv4NetworkId(10), { timeout: 3000 });
  out.network = { status: net.status, readyIPv4: net.readyIPv4 };
  const listener = node.listen({ port: 0, hostname: "127.0.0.1" });
  const echoing = (async () => {
    for await (const conn of listener) conn.readable.pipeTo(conn.writable).catch(() => {});
  })();

  // Idle connections that each wait for a read: more polls than libuv's default pool of 4.
  const idle: TcpConn[] = [];
  const idleReads: Promise<unknown>[] = [];
  for (let i = 0; i < 24; i++) {
    const c = await node.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      timeout: 3000,
    });
    idle.push(c);
    const reader = c.readable.getReader();
    idleReads.push(reader.read().catch(() => {}));
    await new Promise((r) => setTimeout(r, 2)); // separate turns: separate polls
  }

  // While they wait: Node's own threadpool work (fs) and the event loop stay responsive.
  const probeFile = join(tmpdir(), `rxzt-probe-${process.pid}`);
  await writeFile(probeFile, new Uint8Array(4096));
  let fsWorst = 0;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await readFile(probeFile);
    fsWorst = Math.max(fsWorst, performance.now() - t0);
  }
  let timerWorst = 0;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 1));
    timerWorst = Math.max(timerWorst, performance.now() - t0);
  }
  out.responsiveness = { fsWorstMs: fsWorst, timerWorstMs: timerWorst };

  // Echo with integrity while the idle ones still wait.
  const payload = randomFillSync(new Uint8Array(4 * 1024 * 1024));
  const conn = await node.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    timeout: 3000,
  });
  const t0 = performance.now();
  const [, echoed] = await Promise.all([
    (async () => {
      const w = conn.writable.getWriter();
      for (let o = 0; o < payload.length; o += 65536) await w.write(payload.subarray(o, o + 65536));
      await w.close();
    })(),
    readAll(conn),
  ]);
  out.echo = {
    bytes: echoed.length,
    intact: sha(echoed) === sha(payload),
    ms: performance.now() - t0,
  };
  out.pollsAtEcho = node.openSockets;

  // Send pacing on Node's timers: at 1 MB/s a 16 MB write to a peer that takes everything
  // is still going after 300 ms, and abort() ends its pause at once.
  const paced = await node.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    timeout: 3000,
  });
  paced.setSendPacing(true, { bytesPerSecond: 1_000_000 });
  const draining = paced.readable.pipeTo(new WritableStream()).catch(() => {});
  const writer = paced.writable.getWriter();
  const write = writer.write(new Uint8Array(16 * 1024 * 1024));
  const writeOutcome = write.then(() => "fulfilled", () => "rejected");
  const after300ms = await Promise.race([
    writeOutcome,
    new Promise((r) => setTimeout(() => r("pending"), 300)),
  ]);
  const tAbort = performance.now();
  await writer.abort(new Error("enough"));
  out.pacing = { after300ms, abortMs: performance.now() - tAbort, write: await writeOutcome };
  paced.close();
  await draining;

  for (const c of idle) await c.close();
  await Promise.all(idleReads);
  await node.stop();
  await echoing.catch(() => {});
  out.lifecycle = node.lifecycle;
  out.completed = completed;
  out.openSockets = node.openSockets;
  out.standinSockets = ctl.openSockets();
  await import("node:fs/promises").then((fs) => fs.rm(probeFile, { force: true }));
} catch (err) {
  const e = err as Error & { code?: string };
  out.unexpected = { name: e.name, code: e.code, message: e.message, stack: e.stack };
  process.exitCode = 1;
}
console.log(JSON.stringify(out));
