/**
 * A ZeroTier node process for the tier-3 tests and the benchmark, in either
 * runtime: the same file runs under Deno (`deno run -A --config deno.json`,
 * rxzt from mod.ts) and under Node (compiled, rxzt from the npm package). It
 * is driven over stdin/stdout with one JSON object per line, `{ id, cmd, ...args }`
 * in and `{ id, ok, result | error }` out, with the commands of
 * tests/real/agent.ts that the npm tier-3 test and bench use (`poke` instead
 * of `probe`: rxzt's own connect makes the traffic). After `stop` it stops
 * reading and must exit by itself.
 */
import { createHash } from "node:crypto";
import process from "node:process";
import { createInterface } from "node:readline";
import { filter, firstValueFrom, map, of, timeout } from "rxjs";
import { sinkConnection, type SinkStats } from "./_bench_sink.ts";
import {
  createRootSet,
  generateIdentity,
  type PeerState,
  publicIdentity,
  type TcpConn,
  type ZeroTierError,
  ZeroTierNode,
} from "rxzt";

let node: ZeroTierNode | undefined;
let startedAt = 0;
const onlineChanges: { online: boolean; at: number }[] = [];
const peerHistory = new Map<
  string,
  { link: string; event: string; paths: string[]; at: number }[]
>();
const eventDelays: number[] = [];
const eventDelayTypes: string[] = [];
const runtime = "Deno" in globalThis ? "deno" : "node";

type Command = { id: number; cmd: string; [k: string]: unknown };

const BENCH_CHUNK = 256 * 1024;
const benchSinkStats: SinkStats[] = [];
const benchBuffer = new Uint8Array(BENCH_CHUNK).map((_, i) => (i * 131 + 7) & 0xff);
const cpuSeconds = (u: { user: number; system: number }) => (u.user + u.system) / 1e6;

// Whether some leaf peer is (or becomes within `ms`) reached directly rather than through the root.
function waitLeafDirect(ms: number): Promise<boolean> {
  return firstValueFrom(
    node!.peer$().pipe(
      filter((p) => p.role === "leaf" && p.link === "DIRECT"),
      map(() => true),
      timeout({ first: ms, with: () => of(false) }),
    ),
  );
}

// Writes `bytes` from the fixed buffer, half-closes, reads the sink's 8-byte count.
async function benchTransfer(conn: TcpConn, bytes: number): Promise<number> {
  const w = conn.writable.getWriter();
  for (let sent = 0; sent < bytes;) {
    const n = Math.min(BENCH_CHUNK, bytes - sent);
    await w.write(n === BENCH_CHUNK ? benchBuffer : benchBuffer.subarray(0, n));
    sent += n;
  }
  w.releaseLock();
  await conn.closeWrite();
  const reply = new Uint8Array(await new Response(conn.readable).arrayBuffer());
  if (reply.byteLength !== 8) throw new Error(`reply of ${reply.byteLength} bytes, expected 8`);
  return Number(new DataView(reply.buffer).getBigUint64(0));
}

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case "makePlanet": {
      const secret = generateIdentity();
      const planet = createRootSet({
        roots: [{ identity: publicIdentity(secret), endpoints: [c.endpoint as string] }],
      });
      return { secret, roots: Buffer.from(planet.bytes).toString("base64") };
    }
    case "start":
    case "benchStart": {
      startedAt = performance.now();
      node = await ZeroTierNode.start({
        identity: c.identity as string | undefined,
        roots: new Uint8Array(Buffer.from(c.roots as string, "base64")),
        port: c.port as number,
        portMapping: false,
        secondaryPort: false,
        cache: { identity: false, peers: false, networks: false, roots: false },
        timeout: 20_000,
        ...(c.receiveThread === undefined ? {} : { receiveThread: c.receiveThread as boolean }),
      });
      node.online$.subscribe((online) =>
        onlineChanges.push({ online, at: performance.now() - startedAt })
      );
      node.peer$().subscribe((p: PeerState) => {
        const list = peerHistory.get(p.peerId) ?? [];
        list.push({
          link: p.link,
          event: p.lastEvent,
          paths: p.paths.map((x) => `${x.address}/${x.port}`),
          at: performance.now() - startedAt,
        });
        peerHistory.set(p.peerId, list);
      });
      if (c.cmd === "benchStart") {
        node.events$.subscribe((e) => {
          eventDelays.push(performance.now() - e.receivedAt);
          eventDelayTypes.push(`${e.type}@${Math.round(e.receivedAt - startedAt)}ms`);
        });
      }
      return { nodeId: node.nodeId, upMs: performance.now() - startedAt, runtime };
    }
    case "waitOnline":
      await node!.waitUntilOnline({ timeout: c.timeout as number });
      return { onlineMs: onlineChanges.find((x) => x.online)?.at, runtime };
    case "join": {
      const t0 = performance.now();
      const state = await node!.join(c.network as string, {
        family: c.family as "IPv4" | "IPv6",
        timeout: c.timeout as number,
      });
      return {
        state,
        readyMs: performance.now() - t0,
        libztAddresses: node!.addresses(c.network as string),
      };
    }
    case "peerHistory":
      return peerHistory.get(c.peer as string) ?? [];
    case "allPeers":
      return Object.fromEntries(peerHistory);
    case "waitPeerLink": {
      const t0 = performance.now();
      const state = await firstValueFrom(
        node!.peer$(c.peer as string).pipe(filter((p) => p.link === c.link)),
      );
      return { state, waitedMs: performance.now() - t0 };
    }
    case "poke": {
      // A connection attempt toward a closed port: packets flow to the peer (it answers with a reset).
      try {
        const conn = await node!.connect({
          hostname: c.address as string,
          port: c.port as number,
          timeout: c.timeout as number,
        });
        await conn.close();
      } catch { /* expected: refused or timed out */ }
      return {};
    }
    case "sinkServer": {
      // Each connection: hash everything received, answer with the hex digest, close.
      const listener = node!.listen({ port: c.port as number });
      (async () => {
        for await (const conn of listener) {
          (async () => {
            const hash = createHash("sha256");
            let bytes = 0;
            for await (const chunk of conn.readable) {
              hash.update(chunk);
              bytes += chunk.byteLength;
            }
            const w = conn.writable.getWriter();
            await w.write(
              new TextEncoder().encode(JSON.stringify({ digest: hash.digest("hex"), bytes })),
            );
            await w.close();
          })().catch((err) => console.error("sink:", err));
        }
      })();
      return { addr: listener.addr };
    }
    case "echoServer": {
      const listener = node!.listen({ port: c.port as number });
      (async () => {
        for await (const conn of listener) {
          conn.readable.pipeTo(conn.writable).catch((err) => console.error("echo:", err));
        }
      })();
      return { addr: listener.addr };
    }
    case "send": {
      // Stream `bytes` of pseudo-random data, half-close, read the sink's digest.
      const t0 = performance.now();
      const conn = await node!.connect({
        hostname: c.hostname as string,
        port: c.port as number,
        timeout: 30_000,
      });
      const connectMs = performance.now() - t0;
      const total = c.bytes as number;
      const chunk = new Uint8Array(256 * 1024);
      const hash = createHash("sha256");
      let seed = 0x12345678 ^ ((c.seed as number) ?? 0);
      const w = conn.writable.getWriter();
      const t1 = performance.now();
      for (let sent = 0; sent < total;) {
        const n = Math.min(chunk.length, total - sent);
        const words = new Uint32Array(chunk.buffer, 0, n >> 2);
        for (let i = 0; i < words.length; i++) {
          words[i] = seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        }
        const piece = chunk.subarray(0, n);
        hash.update(piece);
        await w.write(piece);
        sent += n;
      }
      await w.close();
      const reply = JSON.parse(await new Response(conn.readable).text());
      const seconds = (performance.now() - t1) / 1000;
      return {
        connectMs,
        sentDigest: hash.digest("hex"),
        reply,
        mbps: total / 1e6 / seconds,
        openSockets: node!.openSockets,
      };
    }
    case "echo": {
      // Send `bytes` of random data to an echo server and compare what comes back.
      const conn = await node!.connect({
        hostname: c.hostname as string,
        port: c.port as number,
        timeout: 30_000,
      });
      const data = new Uint8Array(c.bytes as number).map(() => (Math.random() * 256) | 0);
      const [, back] = await Promise.all([
        (async () => {
          const w = conn.writable.getWriter();
          for (let o = 0; o < data.length; o += 65536) await w.write(data.subarray(o, o + 65536));
          await w.close();
        })(),
        new Response(conn.readable).arrayBuffer().then((b) => new Uint8Array(b)),
      ]);
      const digest = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
      return { bytes: back.length, intact: digest(back) === digest(data) };
    }
    case "benchSink": {
      // Each connection: count everything received and answer with the count (see _bench_sink.ts).
      // consumer "sha256": a consumer that hashes every chunk (node:crypto).
      const listener = node!.listen({ port: c.port as number });
      const consume = c.consumer === "sha256"
        ? (chunk: Uint8Array) => createHash("sha256").update(chunk).digest()
        : undefined;
      (async () => {
        for await (const conn of listener) {
          sinkConnection(conn, BENCH_CHUNK, consume).then(
            (stats) => benchSinkStats.push(stats),
            (err) => console.error("benchSink:", err),
          );
        }
      })();
      return { addr: listener.addr };
    }
    case "benchSinkStats":
      return benchSinkStats.splice(0);
    case "benchSend": {
      const conn = await node!.connect({
        hostname: c.hostname as string,
        port: c.port as number,
        timeout: 30_000,
      });
      // pacing: false (off), true (on at the default rate), a number (rate in bytes/s), or absent (the default).
      if (c.pacing === false) conn.setSendPacing(false);
      else if (c.pacing === true) conn.setSendPacing(true);
      else if (typeof c.pacing === "number") conn.setSendPacing(true, { bytesPerSecond: c.pacing });
      const direct = await waitLeafDirect((c.waitDirectMs as number) ?? 10_000);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const count = await benchTransfer(conn, c.bytes as number);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(process.cpuUsage(cpu0));
      if (count !== c.bytes) throw new Error(`sink counted ${count} bytes, ${c.bytes} were sent`);
      return { bytes: count, seconds, cpu, direct };
    }
    case "benchSendParallel": {
      const streams = c.streams as number;
      const bytesEach = c.bytesEach as number;
      const conns = await Promise.all(
        Array.from(
          { length: streams },
          () =>
            node!.connect({
              hostname: c.hostname as string,
              port: c.port as number,
              timeout: 60_000,
            }),
        ),
      );
      const direct = await waitLeafDirect((c.waitDirectMs as number) ?? 10_000);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const counts = await Promise.all(conns.map((conn) => benchTransfer(conn, bytesEach)));
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(process.cpuUsage(cpu0));
      const short = counts.filter((n) => n !== bytesEach).length;
      if (short) {
        throw new Error(`${short} of ${streams} streams: sink count differs from ${bytesEach}`);
      }
      return { bytes: streams * bytesEach, seconds, cpu, direct };
    }
    case "cpu":
      return process.cpuUsage();
    case "eventDelays":
      return {
        delays: eventDelays,
        events: eventDelayTypes,
        received: node?.eventCounters.received,
      };
    case "stop": {
      let completed = false;
      node!.events$.subscribe({ complete: () => (completed = true) });
      await node!.stop();
      return { completed, lifecycle: node!.lifecycle };
    }
    default:
      throw new Error(`unknown command ${c.cmd}`);
  }
}

const write = (obj: unknown) =>
  process.stdout.write(
    JSON.stringify(obj, (_k, v) => (typeof v === "bigint" ? String(v) : v)) + "\n",
  );
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (!line.trim()) return;
  const c = JSON.parse(line) as Command;
  // Commands run concurrently (a wait must not block a poke), except stop.
  handle(c).then(
    (result) => write({ id: c.id, ok: true, result }),
    (err) => {
      const e = err as Error;
      write({
        id: c.id,
        ok: false,
        error: { name: e.name, code: (err as ZeroTierError).code, message: e.message },
      });
    },
  ).finally(() => {
    // After stop nothing may keep the process alive: stop reading stdin.
    if (c.cmd === "stop") {
      lines.close();
      process.stdin.destroy();
    }
  });
});
if (process.env.RXZT_AGENT_DEBUG === "1") {
  process.on("exit", (code) => console.error(`exit event, code ${code}`));
}
