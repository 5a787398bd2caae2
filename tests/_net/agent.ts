/**
 * A ZeroTier node process for the tier-3 tests, the benchmark and the soak,
 * in either runtime: the same file runs under Deno (`deno run -A --config
 * deno.json`, rxzt from mod.ts) and under Node (compiled into the npm test
 * project, rxzt from the npm package). It is driven over stdin/stdout with one
 * JSON object per line: `{ id, cmd, ...args }` in, `{ id, ok, result | error }`
 * out (see `agent_client.ts`). It uses rxzt's public API only, except what
 * Deno alone can do (`agent_deno.ts`): `probe`, which opens a raw libzt
 * socket to make traffic toward a peer (`poke` does it with rxzt's own
 * connect, in either runtime), and the I/O thread's counters (`ioState`,
 * `benchSink`'s `io`). After `stop` it stops reading and must exit by itself.
 * `benchStart`, `benchSink`, `benchSend`, `benchSendParallel`, `cpu`,
 * `memory` and `eventDelays` serve the benchmark (bench/run.ts, bench/node.ts).
 * `httpServe`, `httpServeConnections`, `httpFetchJson`, `httpFetchUpload`,
 * `httpFetchDownload`, `httpFetchMany` and `httpRequestsPerSecond` serve
 * tests/real/http_test.ts and the benchmark's HTTP lines; `httpServeHono`,
 * `httpFetchText`, the slow requests (`httpFetchStart`, `httpFetchAbort`,
 * `httpFetchResult`, `httpSlowState`, `httpSlowRelease`) and
 * `httpShutdown`/`httpShutdownState` serve tests/real/http_test.ts too;
 * `expressServe`, `expressState`, `httpGetReset`, `watchUnhandled` and
 * `unhandled` serve tests/npm/real_test.ts (Express over toNodeSocket, a peer
 * resetting mid-response). Hono and Express are imported only by the
 * commands that use them.
 */
import { createHash, randomFillSync } from "node:crypto";
import { createServer } from "node:http";
import process from "node:process";
import { createInterface } from "node:readline";
import { filter, firstValueFrom, map, of, timeout } from "rxjs";
import { sinkConnection, type SinkStats } from "./bench_sink.ts";
import {
  createRootSet,
  generateIdentity,
  type HttpServeInfo,
  type HttpServer,
  type PeerState,
  publicIdentity,
  type TcpConn,
  toNodeSocket,
  type ZeroTierError,
  ZeroTierNode,
} from "rxzt";

/** What only the Deno agent can do (`agent_deno.ts`: rxzt's internals, raw libzt calls). */
interface DenoExtras {
  receiveCounters(node: ZeroTierNode): Record<string, number> | undefined;
  receiveState(node: ZeroTierNode): unknown;
  probe(
    node: ZeroTierNode,
    address: string,
    port: number,
    timeoutMs: number,
  ): Promise<{ rc: number; errno: number }>;
}
const runtime = "Deno" in globalThis ? "deno" : "node";
// A specifier in a variable: the Node build (tsc) must not follow it into rxzt's sources.
const DENO_EXTRAS = "./agent_deno.ts";
const extras: DenoExtras | undefined = runtime === "deno" ? await import(DENO_EXTRAS) : undefined;
function denoOnly(): DenoExtras {
  if (!extras) throw new Error("this command needs the Deno agent (rxzt internals, raw libzt)");
  return extras;
}

let node: ZeroTierNode | undefined;
let startedAt = 0;
const onlineChanges: { online: boolean; at: number }[] = [];
const peerHistory = new Map<
  string,
  { link: string; event: string; paths: string[]; at: number }[]
>();
const networkHistory = new Map<string, string[]>();
// Benchmark: delay from rxzt's event callback to an events$ subscriber, in ms.
const eventDelays: number[] = [];
const eventDelayTypes: string[] = [];

function b64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

type Command = { id: number; cmd: string; [k: string]: unknown };

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case "makePlanet": {
      // The root makes its identity and a root set naming itself at `endpoint`.
      const secret = generateIdentity();
      const planet = createRootSet({
        roots: [{ identity: publicIdentity(secret), endpoints: [c.endpoint as string] }],
      });
      return { secret, roots: btoa(String.fromCharCode(...planet.bytes)) };
    }
    case "start": {
      startedAt = performance.now();
      node = await ZeroTierNode.start({
        identity: c.identity as string | undefined,
        roots: b64(c.roots as string),
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
      node.networks$.subscribe((all) => {
        for (const [id, s] of all) {
          const list = networkHistory.get(id) ?? [];
          if (list.at(-1) !== s.status) list.push(s.status);
          networkHistory.set(id, list);
        }
      });
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
    case "info": {
      let stats: unknown;
      try {
        stats = node!.stats();
      } catch (err) {
        stats = { unavailable: (err as ZeroTierError).code };
      }
      return { port: node!.port, stats, eventCounters: node!.eventCounters };
    }
    case "sinkServer": {
      // Each connection: hash everything received, answer with the hex digest, close.
      const listener = node!.listen({
        port: c.port as number,
        hostname: c.hostname as string | undefined,
      });
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
      const t1 = performance.now();
      const sentDigest = await sendSeeded(
        conn,
        total,
        c.seed as number ?? 0,
        c.chunk as number ?? 256 * 1024,
      );
      const reply = JSON.parse(await new Response(conn.readable).text());
      const seconds = (performance.now() - t1) / 1000;
      return {
        connectMs,
        sentDigest,
        reply,
        mbps: total / 1e6 / seconds,
        openSockets: node!.openSockets,
      };
    }
    case "udpEchoServer": {
      // Sends every datagram back to where it came from, unchanged.
      const udp = node!.listenDatagram({ port: c.port as number });
      (async () => {
        const w = udp.writable.getWriter();
        for await (const d of udp.readable) {
          await w.write({ data: d.data, hostname: d.remoteAddr.hostname, port: d.remoteAddr.port });
        }
      })().catch((err) => console.error("udpEcho:", err));
      return { addr: udp.addr };
    }
    case "udpPing": {
      // One datagram per size, each with a random body; resent (up to `tries`) until its echo
      // arrives. Reports per size whether the echo arrived whole and alone.
      const udp = node!.listenDatagram({ port: 0 });
      const reader = udp.readable.getReader();
      const w = udp.writable.getWriter();
      const results: {
        size: number;
        echoed: boolean;
        intact: boolean;
        tries: number;
        rttMs?: number;
      }[] = [];
      let pendingRead: Promise<ReadableStreamReadResult<{ data: Uint8Array }>> | undefined;
      for (const size of c.sizes as number[]) {
        const body = randomFillSync(new Uint8Array(size));
        const r: { size: number; echoed: boolean; intact: boolean; tries: number; rttMs?: number } =
          {
            size,
            echoed: false,
            intact: false,
            tries: 0,
          };
        while (!r.echoed && r.tries < (c.tries as number ?? 5)) {
          r.tries++;
          const t0 = performance.now();
          await w.write({ data: body, hostname: c.hostname as string, port: c.port as number });
          const deadline = t0 + (c.waitMs as number ?? 1000);
          while (performance.now() < deadline) {
            pendingRead ??= reader.read();
            const got = await Promise.race([pendingRead, sleep(deadline - performance.now())]);
            if (!got) break;
            pendingRead = undefined;
            if (got.done) throw new Error("udp readable ended");
            // A late echo of an earlier size, or of an earlier try, is skipped.
            if (
              got.value.data.byteLength !== size &&
              !sameBytes(got.value.data.subarray(0, 16), body.subarray(0, 16))
            ) continue;
            r.echoed = true;
            r.intact = sameBytes(got.value.data, body);
            r.rttMs = performance.now() - t0;
            break;
          }
        }
        results.push(r);
      }
      await udp.close();
      return { results, openSockets: node!.openSockets };
    }
    case "connectError": {
      // Connects where nothing listens: reports the error rxzt gives.
      const t0 = performance.now();
      try {
        const conn = await node!.connect({
          hostname: c.hostname as string,
          port: c.port as number,
          timeout: c.timeout as number,
        });
        conn.close();
        return { connected: true };
      } catch (err) {
        const e = err as ZeroTierError;
        return {
          name: e.name,
          code: e.code,
          message: e.message,
          ms: performance.now() - t0,
          openSockets: node!.openSockets,
        };
      }
    }
    case "sendMany": {
      // `streams` connections at once to a sinkServer, `bytes` on each (a distinct seed per
      // stream); reports how many digests matched.
      const streams = c.streams as number;
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: streams }, async (_, i) => {
        const conn = await node!.connect({
          hostname: c.hostname as string,
          port: c.port as number,
          timeout: 60_000,
        });
        const sent = await sendSeeded(conn, c.bytes as number, i + 1, 16 * 1024);
        const reply = JSON.parse(await new Response(conn.readable).text()) as {
          digest: string;
          bytes: number;
        };
        return reply.digest === sent && reply.bytes === c.bytes;
      }));
      return {
        streams,
        intact: results.filter(Boolean).length,
        seconds: (performance.now() - t0) / 1000,
        openSockets: node!.openSockets,
      };
    }
    case "holdServer": {
      // Each connection: keep-alive as given, read (after `readAfterMs`, default 0) until the
      // stream ends or errors; the outcome is kept for `holdResults`.
      const listener = node!.listen({ port: c.port as number });
      const ka = c.keepAlive as { idle: number; interval: number; count: number } | undefined;
      (async () => {
        for await (const conn of listener) {
          if (ka) conn.setKeepAlive(true, ka);
          const outcome: HoldOutcome = { port: c.port as number, bytes: 0, lastDataAt: Date.now() };
          holdOutcomes.push(outcome);
          (async () => {
            await sleep((c.readAfterMs as number | undefined) ?? 0);
            try {
              for await (const chunk of conn.readable) {
                outcome.bytes += chunk.byteLength;
                outcome.lastDataAt = Date.now();
              }
              outcome.end = "eof";
            } catch (err) {
              const e = err as ZeroTierError;
              outcome.end = "error";
              outcome.error = { name: e.name, code: e.code, message: e.message };
            }
            outcome.endedAt = Date.now();
            conn.close();
          })();
        }
      })();
      return { addr: listener.addr };
    }
    case "holdResults":
      return { outcomes: holdOutcomes, now: Date.now(), openSockets: node!.openSockets };
    case "lingerClose": {
      // Connects, sets SO_LINGER, writes `bytes` (or until a write waited `giveUpAfterMs`: the
      // peer is not reading), then close() at once, with the data still in libzt's send buffer.
      const conn = await node!.connect({
        hostname: c.hostname as string,
        port: c.port as number,
        timeout: 30_000,
      });
      conn.setLinger(c.linger as number);
      const w = conn.writable.getWriter();
      let written = 0;
      while (written < (c.bytes as number)) {
        const write = w.write(benchBuffer);
        write.catch(() => {});
        const giveUp = c.giveUpAfterMs as number | undefined;
        const done = giveUp === undefined
          ? await write.then(() => true)
          : await Promise.race([write.then(() => true), sleep(giveUp).then(() => false)]);
        if (!done) break;
        written += benchBuffer.byteLength;
      }
      conn.close();
      return { written, closedAt: Date.now() };
    }
    case "sendForever": {
      // Connects and writes until the connection fails (for a process that gets killed).
      const conn = await node!.connect({
        hostname: c.hostname as string,
        port: c.port as number,
        timeout: 30_000,
      });
      const w = conn.writable.getWriter();
      const first = w.write(benchBuffer);
      (async () => {
        for (;;) await w.write(benchBuffer);
      })().catch(() => {});
      await first;
      return { connected: true };
    }
    case "pacedStart": {
      // A long transfer at a steady rate (seeded data, hashed as sent) until `pacedFinish`.
      const conn = await node!.connect({
        hostname: c.hostname as string,
        port: c.port as number,
        timeout: 30_000,
      });
      if (c.keepAlive) {
        conn.setKeepAlive(true, c.keepAlive as { idle: number; interval: number; count: number });
      }
      const rate = c.rate as number;
      const chunkSize = 16 * 1024;
      const hash = createHash("sha256");
      const w = conn.writable.getWriter();
      const next = seededFiller(0);
      const t0 = performance.now();
      const p: Paced = { conn, sent: 0, finishing: false, hash, done: Promise.resolve() };
      paced = p;
      p.done = (async () => {
        while (!p.finishing) {
          const due = ((performance.now() - t0) / 1000) * rate;
          if (p.sent >= due) {
            await sleep(10);
            continue;
          }
          const chunk = new Uint8Array(chunkSize);
          next(chunk);
          hash.update(chunk);
          await w.write(chunk);
          p.sent += chunkSize;
        }
        await w.close();
      })();
      p.done.catch((
        err,
      ) => (p.error = { name: (err as Error).name, code: (err as ZeroTierError).code }));
      return { connected: true };
    }
    case "pacedStatus":
      return { sent: paced!.sent, error: paced!.error, at: Date.now() };
    case "pacedFinish": {
      const p = paced!;
      p.finishing = true;
      await p.done;
      const reply = JSON.parse(await new Response(p.conn.readable).text()) as {
        digest: string;
        bytes: number;
      };
      return {
        sent: p.sent,
        intact: reply.digest === p.hash.digest("hex") && reply.bytes === p.sent,
        reply,
      };
    }
    case "echoServer": {
      // Echoes every connection; how each one ended is kept for `echoServerResults`.
      const listener = node!.listen({ port: c.port as number });
      (async () => {
        for await (const conn of listener) {
          const outcome: EchoServed = { port: c.port as number, peer: conn.remoteAddr.hostname };
          echoServed.push(outcome);
          conn.readable.pipeTo(conn.writable).then(
            () => (outcome.end = "eof"),
            (err) => {
              outcome.end = "error";
              outcome.error = describeError(err);
              outcome.endedAt = Date.now();
            },
          );
        }
      })();
      return { addr: listener.addr };
    }
    case "echoServerResults":
      return { served: echoServed };
    case "echoStreamStart": {
      // A connection named `name` to an echo server carrying `rate` bytes/s each way until
      // echoStreamFinish; SHA-256 of what was sent and of what came back.
      const conn = await node!.connect({
        hostname: c.hostname as string,
        port: c.port as number,
        timeout: 30_000,
      });
      const rate = c.rate as number;
      const s: EchoStream = {
        conn,
        sent: 0,
        received: 0,
        finishing: false,
        sentHash: createHash("sha256"),
        receivedHash: createHash("sha256"),
        writing: Promise.resolve(),
        reading: Promise.resolve(),
      };
      echoStreams.set(c.name as string, s);
      const fail = (err: unknown) => {
        if (!s.error) {
          s.error = describeError(err);
          s.failedAt = Date.now();
        }
      };
      const next = seededFiller(c.seed as number ?? 1);
      const w = conn.writable.getWriter();
      const t0 = performance.now();
      s.writing = (async () => {
        while (!s.finishing) {
          if (s.sent >= ((performance.now() - t0) / 1000) * rate) {
            await sleep(10);
            continue;
          }
          const chunk = new Uint8Array(16 * 1024);
          next(chunk);
          s.sentHash.update(chunk);
          await w.write(chunk);
          s.sent += chunk.byteLength;
        }
        await w.close();
      })().catch(fail);
      s.reading = (async () => {
        for await (const chunk of conn.readable) {
          s.receivedHash.update(chunk);
          s.received += chunk.byteLength;
        }
      })().catch(fail);
      return { connected: true, local: conn.localAddr, remote: conn.remoteAddr };
    }
    case "echoStreamStatus": {
      const all: Record<string, unknown> = {};
      for (const [name, s] of echoStreams) {
        all[name] = { sent: s.sent, received: s.received, error: s.error, failedAt: s.failedAt };
      }
      return all;
    }
    case "echoStreamFinish": {
      const s = echoStreams.get(c.name as string)!;
      s.finishing = true;
      await s.writing;
      await s.reading;
      s.conn.close();
      const intact = !s.error && s.sent === s.received &&
        s.sentHash.digest("hex") === s.receivedHash.digest("hex");
      echoStreams.delete(c.name as string);
      return { sent: s.sent, received: s.received, intact, error: s.error };
    }
    case "echoStreamWaitEnd": {
      // Waits until the named stream failed (or `ms` passed); when and how.
      const s = echoStreams.get(c.name as string)!;
      const deadline = Date.now() + (c.ms as number);
      while (!s.error && Date.now() < deadline) await sleep(100);
      return { error: s.error, failedAt: s.failedAt, sent: s.sent, received: s.received };
    }
    case "echoOpen": {
      // A connection kept open for `echoRoundTrip`.
      const conn = await node!.connect({
        hostname: c.hostname as string,
        port: c.port as number,
        timeout: 30_000,
      });
      echo = { conn, reader: conn.readable.getReader(), writer: conn.writable.getWriter() };
      return { connected: true };
    }
    case "echoRoundTrip": {
      const e = echo!;
      const message = randomFillSync(new Uint8Array(c.bytes as number ?? 1000));
      const t0 = performance.now();
      await e.writer.write(message);
      const got = new Uint8Array(message.byteLength);
      let n = 0;
      const deadline = t0 + (c.timeout as number ?? 10_000);
      while (n < got.byteLength) {
        const r = await Promise.race([e.reader.read(), sleep(deadline - performance.now())]);
        if (!r) return { ok: false, reason: "timeout", got: n };
        if (r.done) return { ok: false, reason: "ended", got: n };
        got.set(r.value.subarray(0, got.byteLength - n), n);
        n += r.value.byteLength;
      }
      return { ok: sameBytes(got, message), rttMs: performance.now() - t0 };
    }
    case "diag": {
      // What this node knows now, for a failing test to print.
      const networks = await firstValueFrom(node!.networks$);
      return {
        online: await firstValueFrom(node!.online$),
        networks: [...networks.values()].map((n) => ({
          id: n.networkId,
          status: n.status,
          readyIPv4: n.readyIPv4,
          readyIPv6: n.readyIPv6,
          lastEvent: n.lastEvent,
          addresses: n.addresses,
        })),
        networkHistory: Object.fromEntries(networkHistory),
        openSockets: node!.openSockets,
      };
    }
    case "onlineHistory":
      return onlineChanges;
    case "waitOnlineValue": {
      const t0 = performance.now();
      await firstValueFrom(
        node!.online$.pipe(filter((o) => o === c.value), timeout(c.timeout as number)),
      );
      return { waitedMs: performance.now() - t0 };
    }
    case "loadStart": {
      // `streams` connections, each writing continuously and reading what comes back (to an
      // echo server); their outcomes are recorded for `stopUnderLoad`.
      for (let i = 0; i < (c.streams as number); i++) {
        const conn = await node!.connect({
          hostname: c.hostname as string,
          port: c.port as number,
          timeout: 30_000,
        });
        const outcome: LoadOutcome = {};
        loadOutcomes.push(outcome);
        const record = (side: "read" | "write") => (err: unknown) => {
          outcome[side] = { name: (err as Error).name, code: (err as ZeroTierError).code };
        };
        (async () => {
          const w = conn.writable.getWriter();
          for (;;) await w.write(benchBuffer.subarray(0, 32 * 1024));
        })().catch(record("write"));
        (async () => {
          for await (const _ of conn.readable) { /* discard */ }
          outcome.read = { name: "ended", code: "EOF" };
        })().catch(record("read"));
      }
      await sleep(500);
      return { openSockets: node!.openSockets };
    }
    case "stopUnderLoad": {
      // stop() with streams open: every stream must fail with a typed error, every observable
      // must complete.
      const completed: Record<string, boolean> = {};
      const observables = {
        events$: node!.events$,
        online$: node!.online$,
        peer$: node!.peer$(),
        peers$: node!.peers$,
        networks$: node!.networks$,
        address$: node!.address$,
        store$: node!.store$,
      };
      for (const [name, o] of Object.entries(observables)) {
        completed[name] = false;
        (o as import("rxjs").Observable<unknown>).subscribe({
          complete: () => (completed[name] = true),
          error: () => {},
        });
      }
      const t0 = performance.now();
      await node!.stop();
      const stopMs = performance.now() - t0;
      await sleep(100);
      return {
        stopMs,
        completed,
        outcomes: loadOutcomes,
        openSockets: node!.openSockets,
        lifecycle: node!.lifecycle,
      };
    }
    case "benchStart": {
      // `start`, then record how long each event takes from rxzt's callback to a subscriber.
      const started = await handle({ ...c, cmd: "start" });
      node!.events$.subscribe((e) => {
        eventDelays.push(performance.now() - e.receivedAt);
        eventDelayTypes.push(`${e.type}@${Math.round(e.receivedAt - startedAt)}ms`);
      });
      return started;
    }
    case "benchSink": {
      // Each connection: count everything received and answer with the count (see bench_sink.ts).
      // consumer "sha256": a consumer that awaits the SHA-256 of every chunk (crypto.subtle).
      const listener = node!.listen({
        port: c.port as number,
        ...(c.readBufferSize ? { readBufferSize: c.readBufferSize as number } : {}),
      });
      // consumer "pattern": checks every byte against the benchmark senders' pattern (byte p of a
      // stream is (p * 131 + 7) & 0xff, from the C peer and from rxzt's benchSend alike).
      const patternErrors = { count: 0 };
      const consumerFor = (): ((chunk: Uint8Array) => unknown) | undefined => {
        if (c.consumer === "sha256") {
          return (chunk) => crypto.subtle.digest("SHA-256", chunk as Uint8Array<ArrayBuffer>);
        }
        if (c.consumer !== "pattern") return undefined;
        let at = 0;
        return (chunk) => {
          for (let i = 0; i < chunk.length; i++) {
            if (chunk[i] !== (((at + i) * 131 + 7) & 0xff)) patternErrors.count++;
          }
          at += chunk.length;
        };
      };
      (async () => {
        for await (const conn of listener) {
          // What the I/O thread does over the transfer (an internal of rxzt's, for the bench only).
          const io0 = extras?.receiveCounters(node!);
          const consume = consumerFor();
          sinkConnection(conn, BENCH_CHUNK, consume).then((stats) => {
            const io1 = extras?.receiveCounters(node!);
            const checked = c.consumer === "pattern"
              ? { ...stats, patternErrors: patternErrors.count }
              : stats;
            return !io0 || !io1 ? checked : {
              ...checked,
              io: Object.fromEntries(
                Object.entries(io1).map(([k, v]) => [k, v - io0[k as keyof typeof io0]]),
              ),
            };
          }).then(
            (stats) => benchSinkStats.push(stats),
            (err) => console.error("benchSink:", err),
          );
        }
      })();
      return { addr: listener.addr };
    }
    case "benchSend": {
      // One stream: a fixed 256 KiB buffer written until `bytes` are sent, half-close, read
      // the sink's count. Timed (wall and this process's CPU) from connected to reply read.
      const conn = await node!.connect({
        hostname: c.hostname as string,
        port: c.port as number,
        timeout: 30_000,
      });
      // pacing: false (off), true (on at the default rate), a number (rate in bytes/s), or absent (the default).
      if (c.pacing === false) conn.setSendPacing(false);
      else if (c.pacing === true) conn.setSendPacing(true);
      else if (typeof c.pacing === "number") conn.setSendPacing(true, { bytesPerSecond: c.pacing });
      const direct = await waitLeafDirect(c.waitDirectMs as number ?? 10_000);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const count = await benchTransfer(conn, c.bytes as number);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(process.cpuUsage(cpu0));
      if (count !== c.bytes) throw new Error(`sink counted ${count} bytes, ${c.bytes} were sent`);
      return { bytes: count, seconds, cpu, direct };
    }
    case "benchSendParallel": {
      // `streams` connections at once, `bytesEach` on each; timed from all connected to all replies.
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
      const direct = await waitLeafDirect(c.waitDirectMs as number ?? 10_000);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      // Every stream runs to its end; failures are reported together, with when they came.
      const settled = await Promise.allSettled(
        conns.map((conn) =>
          benchTransfer(conn, bytesEach).catch((err) => {
            throw new Error(
              `${(err as Error).message} after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
            );
          })
        ),
      );
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(process.cpuUsage(cpu0));
      const failed = settled.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed.length) {
        const reasons = [...new Set(failed.map((r) => (r.reason as Error).message))].slice(0, 5)
          .join("; ");
        throw new Error(
          `${failed.length} of ${streams} streams failed (run took ${
            seconds.toFixed(1)
          } s): ${reasons}`,
        );
      }
      const counts = settled.map((r) => (r as PromiseFulfilledResult<number>).value);
      const short = counts.filter((n) => n !== bytesEach).length;
      if (short) {
        throw new Error(`${short} of ${streams} streams: sink count differs from ${bytesEach}`);
      }
      return { bytes: streams * bytesEach, seconds, cpu, direct };
    }
    case "cpu":
      return process.cpuUsage();
    case "memory": {
      // Peak RSS and heap since the first call (sampled every 500 ms on an unref'd timer).
      if (!memorySampler) {
        const sample = () => {
          const m = process.memoryUsage();
          memoryPeak.rss = Math.max(memoryPeak.rss, m.rss);
          memoryPeak.heapUsed = Math.max(memoryPeak.heapUsed, m.heapUsed);
        };
        sample();
        memorySampler = unref(setInterval(sample, 500));
      }
      return { ...memoryPeak, now: process.memoryUsage() };
    }
    case "ioState":
      // The I/O thread's state (an internal of rxzt's, for diagnosing a stuck benchmark).
      return denoOnly().receiveState(node!);
    case "benchSinkStats":
      return benchSinkStats.splice(0);
    case "eventDelays":
      return {
        delays: eventDelays,
        events: eventDelayTypes,
        received: node?.eventCounters.received,
      };
    case "networkHistory":
      return networkHistory.get(c.network as string) ?? [];
    case "allPeers":
      return Object.fromEntries(peerHistory);
    case "peerHistory":
      return peerHistory.get(c.peer as string) ?? [];
    case "waitPeerLink": {
      const t0 = performance.now();
      const state = await firstValueFrom(
        node!.peer$(c.peer as string).pipe(filter((p) => p.link === c.link)),
      );
      return { state, waitedMs: performance.now() - t0 };
    }
    case "httpServe": {
      // node.serve(): /json echoes a JSON body with what the handler saw, /upload answers the
      // SHA-256 of the request body, /download?bytes=N&seed=S streams seeded bytes, /small?bytes=N
      // answers N bytes. `?tag=` counts the client ports (connections) a set of requests used.
      const server = node!.serve({ port: c.port as number }, async (request, info) => {
        const url = new URL(request.url);
        const tag = url.searchParams.get("tag");
        if (tag) {
          const ports = httpPorts.get(tag) ?? new Set<number>();
          ports.add(info.remoteAddr.port);
          httpPorts.set(tag, ports);
        }
        switch (url.pathname) {
          case "/json":
            return Response.json({
              echo: await request.json(),
              remoteAddr: info.remoteAddr,
              peerId: info.peerId ?? null,
            });
          case "/upload": {
            const hash = createHash("sha256");
            let bytes = 0;
            for await (const chunk of request.body!) {
              hash.update(chunk);
              bytes += chunk.byteLength;
            }
            return Response.json({ sha256: hash.digest("hex"), bytes });
          }
          case "/download": {
            const total = Number(url.searchParams.get("bytes"));
            // fixed=1: the benchmark's fixed buffer, as benchSend sends (no generating cost).
            if (url.searchParams.get("fixed")) return new Response(fixedStream(total));
            return new Response(seededStream(total, Number(url.searchParams.get("seed") ?? 0)));
          }
          case "/small":
            return new Response(new Uint8Array(Number(url.searchParams.get("bytes") ?? 1024)));
          case "/throw":
            httpThrows++;
            throw new Error("handler failure (expected by the test)");
          case "/slow":
            return await slowResponse(request, url);
          default:
            return new Response("not found", { status: 404 });
        }
      });
      httpServers.push(server);
      httpServersByPort.set(server.addr.port, server);
      return { addr: server.addr };
    }
    case "httpServeConnections":
      return { connections: httpPorts.get(c.tag as string)?.size ?? 0, throws: httpThrows };
    case "httpServeHono": {
      // A Hono app served unchanged (its app.fetch gets the serve info as its env): POST /json
      // echoes a JSON body with what the handler saw, as httpServe's /json does.
      const spec = runtime === "deno" ? "npm:hono@^4" : "hono";
      const { Hono } = await import(spec);
      const app = new Hono() as HonoApp;
      app.post("/json", async (ctx) =>
        ctx.json({
          echo: await ctx.req.json(),
          remoteAddr: ctx.env.remoteAddr,
          peerId: ctx.env.peerId ?? null,
          via: "hono",
        }));
      const server = node!.serve(
        { port: c.port as number },
        (request, info) => app.fetch(request, info),
      );
      httpServers.push(server);
      httpServersByPort.set(server.addr.port, server);
      return { addr: server.addr };
    }
    case "httpSlowState": {
      // The first /slow request of `key` once it is `until` "entered" (the handler runs) or
      // "settled" (its wait ended: aborted, released or the limit), waiting at most `timeout`
      // ms; `arrivals` counts the requests of that key so far (a client sending it again).
      const key = c.key as string;
      const settled = c.until === "settled";
      await until(
        () => {
          const s = slowRequests.get(key)?.states[0];
          return s !== undefined && (!settled || s.settledAt !== undefined);
        },
        c.timeout as number ?? 10_000,
        `slow request ${key} ${c.until}`,
      );
      const { states } = slowRequests.get(key)!;
      return { ...states[0], arrivals: states.length };
    }
    case "httpSlowRelease":
      // Lets the /slow handlers of `key` answer.
      for (const release of slowRequests.get(c.key as string)!.releases) release();
      return { releasedAt: Date.now() };
    case "httpShutdown": {
      // Calls shutdown() on the server at `port` without waiting; see httpShutdownState.
      const server = httpServersByPort.get(c.port as number)!;
      const state: ShutdownState = { calledAt: Date.now() };
      httpShutdowns.set(c.port as number, state);
      server.finished.then(() => (state.finishedAt = Date.now()));
      server.shutdown().then(() => (state.shutdownResolvedAt = Date.now()));
      return state;
    }
    case "httpShutdownState": {
      // When shutdown() was called and when its promise and `finished` resolved (Date.now());
      // wait: true waits (at most `timeout` ms) for `finished`.
      const state = httpShutdowns.get(c.port as number)!;
      if (c.wait) {
        await until(
          () => state.finishedAt !== undefined,
          c.timeout as number ?? 10_000,
          "finished",
        );
      }
      return { ...state };
    }
    case "httpFetchJson": {
      const res = await node!.fetch(c.url as string, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(c.body),
        signal: AbortSignal.timeout(c.timeout as number ?? 60_000),
      });
      return { status: res.status, json: await res.json() };
    }
    case "httpFetchUpload": {
      // Streams `bytes` seeded bytes as the request body; the server answers their SHA-256.
      const total = c.bytes as number;
      const hash = createHash("sha256");
      const t0 = performance.now();
      const res = await node!.fetch(c.url as string, {
        method: "POST",
        body: seededStream(total, c.seed as number ?? 0, hash),
        duplex: "half",
      } as RequestInit);
      const server = await res.json();
      return {
        status: res.status,
        server,
        sentSha256: hash.digest("hex"),
        seconds: (performance.now() - t0) / 1000,
      };
    }
    case "httpFetchDownload": {
      // Reads a /download body; `expectedSha256` is the same seeded bytes hashed here.
      // count: true only counts the bytes (the benchmark: as its raw sink does).
      const t0 = performance.now();
      const res = await node!.fetch(c.url as string);
      const hash = createHash("sha256");
      let bytes = 0;
      for await (const chunk of res.body!) {
        if (!c.count) hash.update(chunk);
        bytes += chunk.byteLength;
      }
      const seconds = (performance.now() - t0) / 1000;
      if (c.count) return { status: res.status, bytes, seconds };
      const expected = createHash("sha256");
      for await (const chunk of seededStream(bytes, c.seed as number ?? 0)) expected.update(chunk);
      return {
        status: res.status,
        bytes,
        sha256: hash.digest("hex"),
        expectedSha256: expected.digest("hex"),
        seconds,
      };
    }
    case "httpFetchMany": {
      // `count` requests to `url`, all at once (`concurrent`) or one after the other.
      const one = async (i: number) => {
        const res = await node!.fetch(c.url as string, {
          method: "POST",
          body: JSON.stringify({ i }),
          headers: { "content-type": "application/json" },
        });
        const j = await res.json() as { echo?: { i: number } };
        return res.status === 200 && j.echo?.i === i;
      };
      const t0 = performance.now();
      const count = c.count as number;
      const results: boolean[] = [];
      if (c.concurrent) {
        results.push(...await Promise.all(Array.from({ length: count }, (_, i) => one(i))));
      } else for (let i = 0; i < count; i++) results.push(await one(i));
      return { ok: results.filter(Boolean).length, seconds: (performance.now() - t0) / 1000 };
    }
    case "httpFetchText": {
      // One request; the status and body text, or what the fetch rejected with.
      try {
        const res = await node!.fetch(c.url as string, {
          method: c.method as string ?? "GET",
          ...(c.body === undefined ? {} : { body: c.body as string }),
          signal: AbortSignal.timeout(c.timeout as number ?? 60_000),
        });
        return {
          status: res.status,
          text: await res.text(),
          connection: res.headers.get("connection"),
        };
      } catch (err) {
        return { error: fetchErrorInfo(err) };
      }
    }
    case "httpFetchStart": {
      // Starts a GET under `key` and answers at once; httpFetchAbort aborts it, httpFetchResult
      // waits for it. Its outcome: status, body size and SHA-256, or the error, and when.
      const controller = new AbortController();
      const outcome = (async (): Promise<FetchOutcome> => {
        try {
          const res = await node!.fetch(c.url as string, { signal: controller.signal });
          const hash = createHash("sha256");
          let bytes = 0;
          for await (const chunk of res.body!) {
            hash.update(chunk);
            bytes += chunk.byteLength;
          }
          return {
            status: res.status,
            bytes,
            sha256: hash.digest("hex"),
            connection: res.headers.get("connection"),
            slow: res.headers.get("x-slow"),
            settledAt: Date.now(),
          };
        } catch (err) {
          return { error: fetchErrorInfo(err), settledAt: Date.now() };
        }
      })();
      pendingFetches.set(c.key as string, { controller, outcome });
      return { startedAt: Date.now() };
    }
    case "httpFetchAbort": {
      const pending = pendingFetches.get(c.key as string)!;
      const abortedAt = Date.now();
      pending.controller.abort();
      return { abortedAt, outcome: await pending.outcome };
    }
    case "httpFetchResult":
      return await pendingFetches.get(c.key as string)!.outcome;
    case "watchUnhandled":
      // From now on, unhandled rejections and uncaught exceptions are recorded (and so no longer
      // end the process): `unhandled` reports them.
      if (!unhandled) {
        const seen: Unhandled = { rejections: [], exceptions: [] };
        unhandled = seen;
        process.on("unhandledRejection", (e) => seen.rejections.push(describeReason(e)));
        process.on("uncaughtException", (e) => seen.exceptions.push(describeReason(e)));
      }
      return {};
    case "unhandled":
      return unhandled ?? { rejections: [], exceptions: [] };
    case "expressServe": {
      // Express over toNodeSocket for each accepted connection, as a user would wire it (no
      // error handlers of the agent's): GET /big streams `bytes` (default 256 MiB) in 64 KiB
      // writes with `delayMs` (default 5) between them, GET /ok answers { express: true }.
      // Each /big response's end is kept for expressState.
      const spec = runtime === "deno" ? "npm:express@^5" : "express";
      const express = (await import(spec)).default as () => ExpressApp;
      const app = express();
      const total = c.bytes as number ?? 256 * 1024 * 1024;
      const delayMs = c.delayMs as number ?? 5;
      const piece = new Uint8Array(64 * 1024).fill(0x62);
      app.get("/big", (_req, res) => {
        const outcome: BigResponse = { sent: 0, startedAt: Date.now() };
        expressBig.push(outcome);
        res.once("close", () => {
          outcome.closedAt = Date.now();
          outcome.finished = res.writableFinished;
        });
        const pump = () => {
          if (res.destroyed || outcome.closedAt !== undefined) return;
          if (outcome.sent >= total) return void res.end();
          outcome.sent += piece.byteLength;
          if (!res.write(piece)) res.once("drain", () => setTimeout(pump, delayMs));
          else setTimeout(pump, delayMs);
        };
        res.setHeader("content-length", String(total));
        pump();
      });
      app.get("/ok", (_req, res) => res.json({ express: true }));
      const httpServer = createServer(app as unknown as Parameters<typeof createServer>[1]);
      // Deno's http.Server closes emitted connections after each response unless it is listening.
      Object.defineProperty(httpServer, "listening", { get: () => true });
      const listener = node!.listen({ port: c.port as number });
      (async () => {
        for await (const conn of listener) httpServer.emit("connection", toNodeSocket(conn));
      })().catch(() => {}); // the listener ends with the node
      return { addr: listener.addr };
    }
    case "expressState": {
      // expressServe's /big responses, once `closed` of them have closed (at most `timeout` ms).
      const closed = c.closed as number ?? 0;
      await until(
        () => expressBig.filter((b) => b.closedAt !== undefined).length >= closed,
        c.timeout as number ?? 10_000,
        `${closed} /big responses closed`,
      );
      return { big: expressBig, openSockets: node!.openSockets };
    }
    case "httpGetReset": {
      // A raw HTTP/1.1 GET of `path`; reads `readBytes` of the response, then resets the
      // connection (SO_LINGER 0, close) in the middle of it.
      const conn = await node!.connect({
        hostname: c.hostname as string,
        port: c.port as number,
        timeout: 30_000,
      });
      const w = conn.writable.getWriter();
      await w.write(
        new TextEncoder().encode(`GET ${c.path} HTTP/1.1\r\nhost: ${c.hostname}\r\n\r\n`),
      );
      const reader = conn.readable.getReader();
      const head: Uint8Array[] = [];
      let read = 0;
      while (read < (c.readBytes as number)) {
        const r = await reader.read();
        if (r.done) break;
        if (read < 4096) head.push(r.value.slice(0, 4096));
        read += r.value.byteLength;
      }
      conn.setLinger(0);
      conn.close();
      const text = new TextDecoder().decode(Uint8Array.from(head.flatMap((b) => [...b])));
      return { read, statusLine: text.split("\r\n")[0], resetAt: Date.now() };
    }
    case "httpRequestsPerSecond": {
      // Keep-alive requests of `bytes` in turn for `seconds`: requests per second.
      const url = c.url as string;
      const until = performance.now() + (c.seconds as number) * 1000;
      let n = 0;
      while (performance.now() < until) {
        const res = await node!.fetch(url);
        await res.arrayBuffer();
        n++;
      }
      return { requests: n, perSecond: n / (c.seconds as number) };
    }
    case "probe":
      return await denoOnly().probe(
        node!,
        c.address as string,
        c.port as number,
        c.timeout as number,
      );
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

interface HoldOutcome {
  /** The listener's port. */
  port: number;
  bytes: number;
  lastDataAt: number;
  end?: "eof" | "error";
  error?: { name: string; code: string; message: string };
  endedAt?: number;
}
const holdOutcomes: HoldOutcome[] = [];

interface Paced {
  conn: TcpConn;
  sent: number;
  finishing: boolean;
  hash: ReturnType<typeof createHash>;
  done: Promise<void>;
  error?: { name: string; code: string };
}
let paced: Paced | undefined;
interface EchoServed {
  port: number;
  peer: string;
  end?: "eof" | "error";
  error?: { name: string; code: string; message: string };
  endedAt?: number;
}
const echoServed: EchoServed[] = [];
interface EchoStream {
  conn: TcpConn;
  sent: number;
  received: number;
  finishing: boolean;
  sentHash: ReturnType<typeof createHash>;
  receivedHash: ReturnType<typeof createHash>;
  writing: Promise<void>;
  reading: Promise<void>;
  error?: { name: string; code: string; message: string };
  failedAt?: number;
}
const echoStreams = new Map<string, EchoStream>();
function describeError(err: unknown): { name: string; code: string; message: string } {
  const e = err as ZeroTierError;
  return { name: e?.name, code: e?.code, message: e?.message };
}
let echo: {
  conn: TcpConn;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  writer: WritableStreamDefaultWriter<Uint8Array>;
} | undefined;
type LoadOutcome = {
  read?: { name: string; code: string };
  write?: { name: string; code: string };
};
const loadOutcomes: LoadOutcome[] = [];

const sleep = (ms: number) =>
  new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.max(0, ms)));

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Fills buffers with a deterministic pseudo-random sequence (an LCG over 32-bit words; a
// trailing partial word stays as it was), continuing where the last call stopped.
function seededFiller(seed: number): (buf: Uint8Array) => void {
  let x = 0x12345678 ^ seed;
  return (buf) => {
    const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >> 2);
    for (let i = 0; i < words.length; i++) {
      words[i] = x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    }
  };
}

// Writes `total` pseudo-random bytes (from `seed`) in `chunkSize` pieces, half-closes, and
// returns their SHA-256.
async function sendSeeded(
  conn: TcpConn,
  total: number,
  seed: number,
  chunkSize: number,
): Promise<string> {
  const chunk = new Uint8Array(chunkSize);
  const hash = createHash("sha256");
  const next = seededFiller(seed);
  const w = conn.writable.getWriter();
  for (let sent = 0; sent < total;) {
    const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
    next(piece);
    hash.update(piece);
    await w.write(piece); // resolves once libzt took the bytes: the buffer is free again
    sent += piece.byteLength;
  }
  await w.close();
  return hash.digest("hex");
}

const httpServers: { shutdown(): Promise<void> }[] = [];
const httpServersByPort = new Map<number, HttpServer>();
/** Client ports seen by httpServe per `?tag=` (one port = one connection). */
const httpPorts = new Map<string, Set<number>>();
/** Requests httpServe's /throw failed. */
let httpThrows = 0;

/** What a /slow request saw (times are Date.now(), comparable across the agents of a test). */
interface SlowState {
  enteredAt: number;
  /** Why its wait ended: the request's signal aborted, httpSlowRelease, or the `ms` limit. */
  how?: "aborted" | "released" | "limit";
  aborted?: boolean;
  reason?: string;
  settledAt?: number;
  /** When the handler returned its response. */
  respondedAt?: number;
}
/** Every /slow request per key, in arrival order, and what releases each. */
const slowRequests = new Map<string, { states: SlowState[]; releases: (() => void)[] }>();

/**
 * httpServe's /slow?key=K&ms=M&bytes=N: waits until request.signal aborts, httpSlowRelease
 * (key K) or M ms (default 30 000) pass, then answers N bytes of "x" (default 0) with
 * `x-slow` saying why the wait ended.
 */
async function slowResponse(request: Request, url: URL): Promise<Response> {
  const key = url.searchParams.get("key") ?? "";
  const limitMs = Number(url.searchParams.get("ms") ?? 30_000);
  const bytes = Number(url.searchParams.get("bytes") ?? 0);
  const state: SlowState = { enteredAt: Date.now() };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const how = await new Promise<"aborted" | "released" | "limit">((resolve) => {
    const entry = slowRequests.get(key) ?? { states: [], releases: [] };
    entry.states.push(state);
    entry.releases.push(() => resolve("released"));
    slowRequests.set(key, entry);
    request.signal.addEventListener("abort", () => resolve("aborted"), { once: true });
    if (request.signal.aborted) resolve("aborted");
    timer = setTimeout(() => resolve("limit"), limitMs);
  });
  clearTimeout(timer);
  Object.assign(state, {
    how,
    aborted: request.signal.aborted,
    reason: request.signal.aborted ? describeReason(request.signal.reason) : undefined,
    settledAt: Date.now(),
  });
  const response = new Response(new Uint8Array(bytes).fill(0x78), {
    headers: { "x-slow": how },
  });
  state.respondedAt = Date.now();
  return response;
}

/** shutdown() of a server, as httpShutdown started it (Date.now() times). */
interface ShutdownState {
  calledAt: number;
  shutdownResolvedAt?: number;
  finishedAt?: number;
}
const httpShutdowns = new Map<number, ShutdownState>();

/** Unhandled rejections and uncaught exceptions seen since watchUnhandled. */
interface Unhandled {
  rejections: string[];
  exceptions: string[];
}
let unhandled: Unhandled | undefined;

/** The few parts of Express the agent uses (Express is imported only when asked for). */
interface ExpressResponse {
  write(chunk: Uint8Array): boolean;
  end(): void;
  json(value: unknown): void;
  setHeader(name: string, value: string): void;
  once(event: string, listener: () => void): void;
  readonly destroyed: boolean;
  readonly writableFinished: boolean;
}
interface ExpressApp {
  get(path: string, handler: (req: unknown, res: ExpressResponse) => void): void;
}
/** One expressServe /big response: bytes written, and whether it finished when it closed. */
interface BigResponse {
  sent: number;
  startedAt: number;
  closedAt?: number;
  finished?: boolean;
}
const expressBig: BigResponse[] = [];

/** What httpFetchStart's request ended with. */
type FetchOutcome = {
  status?: number;
  bytes?: number;
  sha256?: string;
  connection?: string | null;
  slow?: string | null;
  error?: ReturnType<typeof fetchErrorInfo>;
  settledAt: number;
};
const pendingFetches = new Map<
  string,
  { controller: AbortController; outcome: Promise<FetchOutcome> }
>();

/** A fetch error's name, code and message, and its cause's code (fetch wraps network errors). */
function fetchErrorInfo(err: unknown) {
  const cause = (err as { cause?: { code?: string; name?: string } })?.cause;
  return { ...describeError(err), causeCode: cause?.code, causeName: cause?.name };
}

function describeReason(reason: unknown): string {
  const e = reason as { name?: string; code?: string; message?: string };
  return `${e?.name ?? typeof reason} ${e?.code ?? ""} ${e?.message ?? String(reason)}`;
}

/** The few parts of a Hono app the agent uses (Hono is imported only when asked for). */
interface HonoApp {
  post(
    path: string,
    handler: (ctx: {
      req: { json(): Promise<unknown> };
      env: HttpServeInfo;
      json(value: unknown): Response;
    }) => Promise<Response>,
  ): void;
  fetch(request: Request, env: HttpServeInfo): Response | Promise<Response>;
}

/** Resolves once `ok()` holds (checked every 20 ms); rejects after `ms` naming `what`. */
async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

/** `total` bytes of the benchmark's fixed buffer (benchBuffer), 256 KiB at a time. */
function fixedStream(total: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      const n = Math.min(BENCH_CHUNK, total - sent);
      sent += n;
      // A copy: the stream's consumer may keep or transfer what it reads.
      controller.enqueue(benchBuffer.slice(0, n));
    },
  }, { highWaterMark: 0 });
}

/** `total` seeded pseudo-random bytes (see seededFiller) as a stream of 256 KiB chunks, hashed into `hash` if given. */
function seededStream(
  total: number,
  seed: number,
  hash?: ReturnType<typeof createHash>,
): ReadableStream<Uint8Array> {
  const next = seededFiller(seed);
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      const chunk = new Uint8Array(Math.min(256 * 1024, total - sent));
      next(chunk);
      hash?.update(chunk);
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

const BENCH_CHUNK = 256 * 1024;
let memorySampler: unknown;

/** Lets the process exit with `timer` pending (Deno's timers are numbers, Node's objects). */
function unref(timer: unknown): unknown {
  if (typeof timer === "number") {
    (globalThis as unknown as { Deno: { unrefTimer(id: number): void } }).Deno.unrefTimer(timer);
  } else (timer as { unref(): void }).unref();
  return timer;
}
const memoryPeak = { rss: 0, heapUsed: 0 };
const benchSinkStats: SinkStats[] = [];
const benchBuffer = new Uint8Array(BENCH_CHUNK).map((_, i) => (i * 131 + 7) & 0xff);

function cpuSeconds(u: { user: number; system: number }): number {
  return (u.user + u.system) / 1e6;
}

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

const write = (obj: unknown) =>
  process.stdout.write(
    JSON.stringify(obj, (_k, v) => (typeof v === "bigint" ? String(v) : v)) + "\n",
  );
const input = createInterface({ input: process.stdin });
let stopping = false;
input.on("line", (line) => {
  if (stopping || !line.trim()) return;
  const c = JSON.parse(line) as Command;
  // Commands run concurrently (a wait must not block a probe), except stop: nothing after it.
  if (c.cmd === "stop" || c.cmd === "stopUnderLoad") stopping = true;
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
    if (c.cmd === "stop" || c.cmd === "stopUnderLoad") {
      input.close();
      process.stdin.destroy();
    }
  });
});
