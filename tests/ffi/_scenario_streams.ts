/**
 * Tier-2 TCP stream scenarios (run in child processes by streams_test.ts):
 * libzt allows one node per process and the test process already has one.
 * Each mode starts its own node on the stand-in (whose zts_bsd_* calls are
 * host sockets, so 127.0.0.1 / ::1 carry the traffic), records facts, prints
 * them as ONE JSON object on stdout, stops the node and returns WITHOUT
 * Deno.exit: the process must end by itself. Accepted sockets go through
 * `unblock()` first (a workaround for an rxzt bug, see there).
 *
 * Usage: deno run -A _scenario_streams.ts <mode> <standinPath>
 *   (RXZT_SCENARIO_DEBUG=1 prints progress on stderr)
 *   data     accepted sockets must not block, 8 MB echo (IPv4, IPv6), dual-stack listener,
 *            BYOB, half-close, backpressure
 *   release  cancel/abort/close release, listener close, error mapping, connection$
 *   nonet    connect before any network is ready (timeout, abort)
 *   stop     node.stop() with pending reads, writes, accepts and a connect
 *   scale    200 concurrent echo connections of 64 KB
 *   liveness the keepAlive start option; a peer UNREACHABLE (relayed while offline) past
 *            peerUnreachableTimeout fails its connections with PeerUnreachableError, others stay
 */
import { nodeInternals } from "../../src/node/internals.ts";
import { createHash, randomFillSync } from "node:crypto";
import type { Subscription } from "rxjs";
import {
  adhocIPv4Address,
  adhocIPv4NetworkId,
  type PeerState,
  type TcpConn,
  type TcpListener,
  ZeroTierNode,
} from "../../mod.ts";
import { type ReportedError, reportError, sleep } from "./_helpers.ts";

const [mode, libraryPath] = Deno.args;
const out: Record<string, unknown> = { mode };
const debug = Deno.env.get("RXZT_SCENARIO_DEBUG") === "1";
/** Progress on stderr when RXZT_SCENARIO_DEBUG=1. */
function step(what: string): void {
  if (debug) console.error(`[${mode} ${Math.round(performance.now())}] ${what}`);
}

// The same file rxzt loads: the dynamic loader hands back the same handle, so state is shared.
const standin = Deno.dlopen(
  libraryPath,
  {
    standin_open_sockets: { parameters: [], result: "i32" },
    zts_bsd_getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
    zts_bsd_getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
    zts_bsd_fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
    zts_bsd_getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
    standin_set_online: { parameters: ["i32"], result: "void" },
    standin_peer_sequence: { parameters: ["u64", "i32"], result: "void" },
  } as const,
);
/** Sockets open in the stand-in (host sockets made through zts_bsd_*). */
const hostSockets = (): number => standin.symbols.standin_open_sockets();

// libzt's fcntl constants (ZeroTierSockets.h), restated.
const Z_F_GETFL = 3;
const Z_O_NONBLOCK = 1;
const Z_SOL_SOCKET = 0x0fff;
const Z_SO_RCVTIMEO = 0x1006;

/** Port of a stand-in socket's local or peer address (libzt sockaddr: len, family, port BE). */
function portOf(fd: number, peer: boolean): number | undefined {
  const addr = new Uint8Array(28);
  const len = new Uint32Array([28]);
  const f = peer ? standin.symbols.zts_bsd_getpeername : standin.symbols.zts_bsd_getsockname;
  return f(fd, addr, new Uint8Array(len.buffer)) === 0 ? (addr[2] << 8) | addr[3] : undefined;
}

function candidateFds(): number[] {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)).filter(
      Number.isInteger,
    );
  } catch {
    return Array.from({ length: 4096 }, (_, i) => i);
  }
}

/** The stand-in descriptor behind a connection, found by its two ports. */
function fdOf(conn: TcpConn): number | undefined {
  for (const fd of candidateFds()) {
    if (portOf(fd, false) === conn.localAddr.port && portOf(fd, true) === conn.remoteAddr.port) {
      return fd;
    }
  }
  return undefined;
}

/**
 * Whether a call on the socket behind `conn` returns within a bound (undefined:
 * not found): the socket is non-blocking, or its receives time out (SO_RCVTIMEO,
 * up to 1 s). rxzt's own calls on the JS thread pass MSG_DONTWAIT either way.
 */
function isBounded(conn: TcpConn): boolean | undefined {
  const fd = fdOf(conn);
  if (fd === undefined) return undefined;
  const flags = standin.symbols.zts_bsd_fcntl(fd, Z_F_GETFL, 0);
  if (flags < 0) return undefined;
  if ((flags & Z_O_NONBLOCK) !== 0) return true;
  const tv = new BigInt64Array(2);
  const len = new Uint32Array([16]);
  const rc = standin.symbols.zts_bsd_getsockopt(
    fd,
    Z_SOL_SOCKET,
    Z_SO_RCVTIMEO,
    new Uint8Array(tv.buffer),
    len,
  );
  if (rc < 0) return undefined;
  const ms = Number(tv[0]) * 1000 + Number(tv[1]) / 1000;
  return ms > 0 && ms <= 1000;
}

const acceptedSockets = { checked: 0, unbounded: 0, notFound: 0 };
out.acceptedSockets = acceptedSockets;

/**
 * Checks (through the stand-in) that an accepted socket cannot hold a thread
 * unbounded, and counts any that can: lwIP, like Linux, hands out accepted
 * sockets blocking with no timeout, so rxzt must set them up, or a wait on one
 * could hang a worker (and, with both ends in one process, deadlock).
 */
function unblock(conn: TcpConn): TcpConn {
  acceptedSockets.checked++;
  const bounded = isBounded(conn);
  if (bounded === undefined) acceptedSockets.notFound++;
  else if (!bounded) acceptedSockets.unbounded++;
  return conn;
}

/** SO_KEEPALIVE and TCP_KEEPIDLE/INTVL/CNT of a socket, read through the stand-in. */
function keepAliveOf(conn: TcpConn): number[] | undefined {
  const fd = fdOf(conn);
  if (fd === undefined) return undefined;
  const v = new Int32Array(1);
  const len = new Uint32Array(1);
  return [[Z_SOL_SOCKET, 0x0008], [6, 0x0003], [6, 0x0004], [6, 0x0005]].map(([level, name]) => {
    v[0] = -1;
    len[0] = 4;
    const rc = standin.symbols.zts_bsd_getsockopt(fd, level, name, new Uint8Array(v.buffer), len);
    return rc < 0 ? -1 : v[0];
  });
}

/** Keep-alive settings of a connected and an accepted socket, and after setKeepAlive(false). */
async function keepAliveDefaults(node: ZeroTierNode) {
  const L = node.listen({ hostname: "127.0.0.1", port: 0 });
  const c = await node.connect({ hostname: "127.0.0.1", port: L.addr.port });
  const s = await L.accept();
  const facts = {
    connected: keepAliveOf(c),
    accepted: keepAliveOf(s),
    afterDisable: [] as number[] | undefined,
  };
  c.setKeepAlive(false);
  facts.afterDisable = keepAliveOf(c);
  c.close();
  s.close();
  L.close();
  return facts;
}

/** How a promise settled within a bound. */
export type Settled =
  | { state: "fulfilled"; value?: unknown }
  | { state: "rejected"; error: ReportedError; sameReason?: boolean }
  | { state: "pending" };

/** Waits at most `ms` for `p`; never rejects. `reason`: compare a rejection by identity. */
async function settle(p: Promise<unknown>, ms: number, reason?: unknown): Promise<Settled> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const PENDING = Symbol("pending");
  const limit = new Promise<typeof PENDING>((r) => (timer = setTimeout(() => r(PENDING), ms)));
  try {
    const v = await Promise.race([p, limit]);
    if (v === PENDING) return { state: "pending" };
    return { state: "fulfilled", value: plain(v) };
  } catch (err) {
    const s: Settled = { state: "rejected", error: reportError(err) };
    if (reason !== undefined) s.sameReason = err === reason;
    return s;
  } finally {
    clearTimeout(timer);
  }
}

/** Settles a synchronous call. */
function settleSync(fn: () => unknown): Settled {
  try {
    return { state: "fulfilled", value: plain(fn()) };
  } catch (err) {
    return { state: "rejected", error: reportError(err) };
  }
}

/** A JSON-friendly summary of a settled value. */
function plain(v: unknown): unknown {
  if (v === undefined || v === null || typeof v !== "object") return v;
  if (v instanceof Uint8Array) return { bytes: v.byteLength };
  const r = v as { done?: boolean; value?: unknown; bytes?: unknown };
  if ("done" in r) {
    return { done: r.done, bytes: r.value instanceof Uint8Array ? r.value.byteLength : undefined };
  }
  if (typeof r.bytes === "number") return { bytes: r.bytes };
  return v.constructor?.name ?? "object";
}

/** Counts of open sockets: rxzt's registry and the stand-in's host sockets (relative to `base`). */
interface Counts {
  node: number;
  host: number;
}

function countsFrom(node: ZeroTierNode, base: number): Counts {
  // The I/O thread's wake socket is libzt's too, but no socket of the app's.
  return {
    node: node.openSockets,
    host: hostSockets() - base - nodeInternals(node).ioThreadSockets,
  };
}

/** Waits (up to `ms`) until the counts equal `want`, then reports them as they are. */
async function countsWhen(
  node: ZeroTierNode,
  base: number,
  want: Counts,
  ms = 1500,
): Promise<Counts> {
  const deadline = performance.now() + ms;
  for (;;) {
    const c = countsFrom(node, base);
    if ((c.node === want.node && c.host === want.host) || performance.now() > deadline) return c;
    await sleep(5);
  }
}

function random(n: number): Uint8Array {
  return randomFillSync(new Uint8Array(n));
}

function sha256(...parts: Uint8Array[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** Reads a stream to its end: byte count, SHA-256, and the bytes when `keep`. */
async function readAll(
  readable: ReadableStream<Uint8Array>,
  keep = false,
): Promise<{ bytes: number; sha256: string; data?: Uint8Array }> {
  const h = createHash("sha256");
  const kept: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of readable) {
    h.update(chunk);
    bytes += chunk.byteLength;
    if (keep) kept.push(chunk.slice());
  }
  const result: { bytes: number; sha256: string; data?: Uint8Array } = {
    bytes,
    sha256: h.digest("hex"),
  };
  if (keep) {
    const data = new Uint8Array(bytes);
    let o = 0;
    for (const k of kept) {
      data.set(k, o);
      o += k.byteLength;
    }
    result.data = data;
  }
  return result;
}

/** Echo server: every accepted connection pipes its readable into its writable. */
function serveEcho(listener: TcpListener, errors: ReportedError[]): Promise<number> {
  return (async () => {
    let n = 0;
    for await (const conn of listener) {
      n++;
      unblock(conn);
      conn.readable.pipeTo(conn.writable).catch((e) => errors.push(reportError(e)));
    }
    return n;
  })();
}

const BACKPRESSURE_CHUNK = 256 * 1024;
const RUNAWAY_CAP = 64 * 1024 * 1024;
/** A bulk write that libzt's (here the host's) send buffer cannot take at once. */
const PACED_WRITE = 16 * 1024 * 1024;

/**
 * Writes fresh random chunks until one write stays pending for `stallMs`
 * (or past `deadlineMs` from the start; or RUNAWAY_CAP bytes were accepted,
 * which means no backpressure at all).
 */
async function writeUntilBlocked(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  { stallMs = 100, deadlineMs = 3000 }: { stallMs?: number; deadlineMs?: number } = {},
  sent?: ReturnType<typeof createHash>,
): Promise<{ accepted: number; pending?: Promise<void>; writes: number }> {
  const deadline = performance.now() + deadlineMs;
  let accepted = 0;
  let writes = 0;
  while (accepted < RUNAWAY_CAP) {
    const chunk = random(BACKPRESSURE_CHUNK);
    sent?.update(chunk);
    const p = writer.write(chunk);
    writes++;
    p.catch(() => {});
    const r = await settle(p, Math.max(1, Math.min(stallMs, deadline - performance.now())));
    if (r.state === "pending") return { accepted, pending: p, writes };
    if (r.state === "rejected") throw new Error(`write failed: ${JSON.stringify(r.error)}`);
    accepted += chunk.byteLength;
  }
  return { accepted, writes };
}

async function startNode(join: boolean): Promise<ZeroTierNode> {
  step("start");
  const node = await ZeroTierNode.start({ libraryPath, timeout: 5000 });
  await node.waitUntilOnline({ timeout: 3000 });
  if (join) {
    // The stand-in makes an ad-hoc IPv4 network READY_IP4_IP6: both families become usable.
    const net = await node.join(adhocIPv4NetworkId(10), { timeout: 3000 });
    out.ready = { IPv4: net.readyIPv4, IPv6: net.readyIPv6 };
  }
  return node;
}

// ---------------------------------------------------------------------------
// data: integrity, BYOB, half-close, backpressure
// ---------------------------------------------------------------------------

const ECHO_SIZES = [1, 1500, 65_536, 250_000, 7, 1_000_000, 32_768, 3];

async function echoIntegrity(node: ZeroTierNode, hostname: string, size: number, pacing = true) {
  step(`echo ${hostname}${pacing ? "" : " (send pacing off)"}`);
  const listener = node.listen({ hostname, port: 0 });
  const errors: ReportedError[] = [];
  const serving = serveEcho(listener, errors);
  const t0 = performance.now();
  const conn = await node.connect({ hostname, port: listener.addr.port });
  step("connected");
  conn.setSendPacing(pacing);
  const data = random(size);
  const reading = readAll(conn.readable);
  const writer = conn.writable.getWriter();
  let off = 0;
  let writes = 0;
  while (off < size) {
    const n = Math.min(ECHO_SIZES[writes++ % ECHO_SIZES.length], size - off);
    await writer.write(data.subarray(off, off + n));
    off += n;
  }
  step("written");
  await writer.close();
  const got = await reading;
  step("read");
  const elapsedMs = performance.now() - t0;
  const facts = {
    hostname,
    listenerAddr: listener.addr,
    remoteAddr: conn.remoteAddr,
    localAddr: conn.localAddr,
    writes,
    bytesSent: size,
    bytesReceived: got.bytes,
    sentSha256: sha256(data),
    receivedSha256: got.sha256,
    elapsedMs: Math.round(elapsedMs),
    // both ends finished both directions: only the listener is left
    openSocketsBeforeListenerClose: await countsWhen(node, base, { node: 1, host: 1 }),
    serverErrors: errors,
  };
  listener.close();
  await serving;
  return facts;
}

/**
 * The server side of a connection must not block the JS thread: a client in
 * a Worker (Deno's own TCP, so it runs while this thread is busy) connects,
 * waits `delayMs`, then writes. Here the accepted connection reads at once;
 * with a non-blocking socket `read()` returns a pending promise immediately;
 * with a blocking one the call itself holds the thread until the bytes arrive
 * (`readCallMs`).
 */
async function acceptedDoesNotBlock(node: ZeroTierNode, delayMs: number) {
  const listener = node.listen({ hostname: "127.0.0.1", port: 0 });
  const code = `
    self.onmessage = async (e) => {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: e.data });
      await new Promise((r) => setTimeout(r, ${delayMs}));
      await c.write(new TextEncoder().encode("late"));
      await new Promise((r) => setTimeout(r, 50));
      c.close();
      self.postMessage("done");
    };`;
  const url = URL.createObjectURL(new Blob([code], { type: "application/javascript" }));
  const worker = new Worker(url, { type: "module" });
  const workerDone = new Promise((resolve) => (worker.onmessage = resolve));
  worker.postMessage(listener.addr.port);
  const conn = await listener.accept();
  const boundedBeforeRead = isBounded(conn);
  const reader = conn.readable.getReader();
  const t0 = performance.now();
  const read = reader.read();
  const readCallMs = performance.now() - t0; // how long read() itself kept the thread
  const result = await settle(read, delayMs + 3000);
  await workerDone;
  worker.terminate();
  URL.revokeObjectURL(url);
  conn.close();
  listener.close();
  return {
    delayMs,
    boundedBeforeRead,
    readCallMs: Math.round(readCallMs),
    result,
  };
}

async function dualStack(node: ZeroTierNode) {
  const listener = node.listen({ port: 0 });
  const errors: ReportedError[] = [];
  const serving = serveEcho(listener, errors);
  const result: Record<string, unknown> = { listenerAddr: listener.addr };
  for (const hostname of ["127.0.0.1", "::1"]) {
    const conn = await node.connect({ hostname, port: listener.addr.port });
    const msg = new TextEncoder().encode(`hello over ${hostname}`);
    const reading = readAll(conn.readable, true);
    const w = conn.writable.getWriter();
    await w.write(msg);
    await w.close();
    const got = await reading;
    result[hostname] = {
      echoed: new TextDecoder().decode(got.data),
      sent: new TextDecoder().decode(msg),
    };
  }
  listener.close();
  await serving;
  result.serverErrors = errors;
  return result;
}

async function byob(node: ZeroTierNode) {
  const listener = node.listen({ hostname: "127.0.0.1", port: 0 });
  const pattern = random(100_000);
  const serverDone = (async () => {
    const s = unblock(await listener.accept());
    const w = s.writable.getWriter();
    await w.write(pattern);
    await w.close();
    await readAll(s.readable); // ends when the client closes its side
  })();
  const conn = await node.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const reader = conn.readable.getReader({ mode: "byob" });
  // First read: into the middle of a caller-owned 16-byte buffer.
  const callerBuffer = new ArrayBuffer(16);
  const view = new Uint8Array(callerBuffer, 4, 8);
  const first = await reader.read(view);
  const v = first.value!;
  const facts: Record<string, unknown> = {
    firstDone: first.done,
    firstByteOffset: v.byteOffset,
    firstByteLength: v.byteLength,
    firstBufferByteLength: v.buffer.byteLength,
    callerBufferTransferred: callerBuffer.byteLength === 0,
    firstMatches: v.byteLength > 0 && v.every((b, i) => b === pattern[i]),
  };
  // Then: the rest through one reused 4 KiB buffer.
  const received = new Uint8Array(pattern.length + 16);
  received.set(v, 0);
  let total = v.byteLength;
  let buf: ArrayBuffer = new ArrayBuffer(4096);
  let reads = 0;
  let maxRead = 0;
  let endValueLength: number | undefined;
  let endSameBuffer: boolean | undefined;
  for (;;) {
    const r = await reader.read(new Uint8Array(buf));
    if (r.done) {
      endValueLength = r.value?.byteLength;
      endSameBuffer = r.value?.buffer.byteLength === 4096;
      break;
    }
    reads++;
    maxRead = Math.max(maxRead, r.value.byteLength);
    if (total + r.value.byteLength <= received.length) received.set(r.value, total);
    total += r.value.byteLength;
    buf = r.value.buffer as ArrayBuffer; // the same memory, handed back
  }
  facts.reads = reads;
  facts.maxReadBytes = maxRead;
  facts.totalBytes = total;
  facts.expectedBytes = pattern.length;
  facts.allMatch = total === pattern.length &&
    sha256(received.subarray(0, total)) === sha256(pattern);
  facts.endValueLength = endValueLength;
  facts.endReturnsCallerBuffer = endSameBuffer;
  reader.releaseLock();
  await conn.writable.close();
  await serverDone;
  facts.counts = await countsWhen(node, base, { node: 1, host: 1 });
  listener.close();
  return facts;
}

async function halfClose(node: ZeroTierNode) {
  const listener = node.listen({ hostname: "127.0.0.1", port: 0 });
  const server = (async () => {
    const s = unblock(await listener.accept());
    const got = await readAll(s.readable); // resolves only at end of stream
    const w = s.writable.getWriter();
    // After the client's closeWrite, the server can still write back.
    await w.write(new TextEncoder().encode(`got ${got.bytes} bytes, sha256 ${got.sha256}`));
    await w.close();
    return { serverSawEndOfStream: true, serverBytes: got.bytes, serverSha256: got.sha256 };
  })();
  const conn = await node.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const payload = random(300_000);
  const writer = conn.writable.getWriter();
  await writer.write(payload);
  const lockedCloseWrite = await settle(conn.closeWrite(), 1000);
  writer.releaseLock();
  await conn.closeWrite();
  const reply = await readAll(conn.readable, true);
  const s = await server;
  const facts = {
    ...s,
    sentBytes: payload.length,
    sentSha256: sha256(payload),
    reply: new TextDecoder().decode(reply.data),
    lockedCloseWrite,
    counts: await countsWhen(node, base, { node: 1, host: 1 }),
  };
  listener.close();
  return facts;
}

/** Deno's own TCP under the same write loop: how much the host takes from a writer whose peer never reads. */
async function denoBaseline(deadlineMs: number): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const c = await Deno.connect({ hostname: "127.0.0.1", port: (l.addr as Deno.NetAddr).port });
  const s = await l.accept();
  const deadline = performance.now() + deadlineMs;
  let accepted = 0;
  while (accepted < RUNAWAY_CAP) {
    const p = c.write(random(BACKPRESSURE_CHUNK));
    p.catch(() => {});
    const r = await settle(p, Math.max(1, deadline - performance.now()));
    if (r.state !== "fulfilled") break;
    accepted += r.value as number;
  }
  c.close();
  s.close();
  l.close();
  return accepted;
}

async function backpressure(node: ZeroTierNode) {
  const listener = node.listen({ hostname: "127.0.0.1", port: 0 });
  const connecting = node.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = unblock(await listener.accept());
  const conn = await connecting;
  const writer = conn.writable.getWriter();
  const sent = createHash("sha256");
  // The server does not read: the client's writes must stall once the host's buffers are full.
  const loop = await writeUntilBlocked(writer, { stallMs: 600, deadlineMs: 600 }, sent);
  const facts: Record<string, unknown> = {
    chunk: BACKPRESSURE_CHUNK,
    runawayCap: RUNAWAY_CAP,
    acceptedAtDeadline: loop.accepted,
    writesStarted: loop.writes,
    blockedAtDeadline: loop.pending !== undefined,
  };
  if (loop.pending) {
    // Still blocked a while later: nothing drains into an rxzt-side buffer.
    facts.stillPendingAfter300ms = (await settle(loop.pending, 300)).state === "pending";
    facts.desiredSizeWhileBlocked = writer.desiredSize;
    // Now the server reads: the pending write completes and everything arrives.
    const reading = readAll(server.readable);
    facts.pendingAfterServerReads = await settle(loop.pending, 5000);
    const extra = random(3 * BACKPRESSURE_CHUNK + 17);
    sent.update(extra);
    await writer.write(extra);
    await writer.close();
    const got = await reading;
    facts.totalSent = loop.accepted + BACKPRESSURE_CHUNK + extra.length;
    facts.serverReceived = got.bytes;
    facts.intact = got.sha256 === sent.digest("hex");
  }
  server.close();
  conn.close();
  listener.close();
  facts.denoBaselineAccepted = await denoBaseline(600);
  return facts;
}

// ---------------------------------------------------------------------------
// release: exactly-once release, listener close, error mapping, connection$
// ---------------------------------------------------------------------------

async function release(node: ZeroTierNode) {
  const T = performance.now();
  const lap = (what: string) => step(`${what} +${Math.round(performance.now() - T)} ms`);
  const counts = () => countsFrom(node, base);
  const when = (n: number) => countsWhen(node, base, { node: n, host: n });
  const L = node.listen({ hostname: "127.0.0.1", port: 0 });
  const port = L.addr.port;
  const pair = async (): Promise<[TcpConn, TcpConn]> => {
    const c = node.connect({ hostname: "127.0.0.1", port });
    const s = unblock(await L.accept());
    return [await c, s];
  };

  // reader.cancel() + writer.abort(): released once both directions are done.
  {
    const [c, s] = await pair();
    const before = counts();
    const reader = c.readable.getReader();
    const writer = c.writable.getWriter();
    const pendingRead = reader.read();
    pendingRead.catch(() => {});
    await sleep(20);
    await reader.cancel();
    const pendingReadAtCancel = await settle(pendingRead, 1000);
    const afterCancel = counts();
    await writer.abort(new Error("client is done"));
    const afterAbort = await when(2);
    const serverRead = await settle(readAll(s.readable), 2000);
    s.close();
    out.cancelAbort = {
      before,
      pendingReadAtCancel,
      afterCancel,
      afterAbort,
      serverRead,
      afterServerClose: await when(1),
    };
  }

  lap("cancelAbort done");
  // close() twice, and again after a new connection may have taken the same descriptor number.
  {
    const [c, s] = await pair();
    const before = counts();
    c.close();
    const afterFirst = await when(2);
    c.close();
    await sleep(20);
    const afterSecond = counts();
    const [c2, s2] = await pair();
    const withNew = counts();
    c.close();
    await sleep(20);
    const afterThird = counts();
    // the new connection is untouched by the stale close()
    const w = c2.writable.getWriter();
    await w.write(new TextEncoder().encode("still here"));
    await w.close();
    const echoed = await settle(
      readAll(s2.readable, true).then((r) => new TextDecoder().decode(r.data)),
      2000,
    );
    const readAfterClose = await settle(c.readable.getReader().read(), 1000);
    const writeAfterClose = await settle(c.writable.getWriter().write(new Uint8Array(1)), 1000);
    const optionAfterClose = settleSync(() => c.setNoDelay(true));
    const pacingAfterClose = settleSync(() => c.setSendPacing(false));
    const serverSeesEnd = await settle(readAll(s.readable), 2000);
    s.close();
    s2.close();
    c2.close();
    out.closeTwice = {
      before,
      afterFirst,
      afterSecond,
      withNew,
      afterThird,
      echoed,
      readAfterClose,
      writeAfterClose,
      optionAfterClose,
      pacingAfterClose,
      serverSeesEnd,
      end: await when(1),
    };
  }

  lap("closeTwice done");
  // Pending read and pending (blocked) write, then close().
  {
    const [c, s] = await pair();
    const reader = c.readable.getReader();
    const read = reader.read();
    read.catch(() => {});
    const writer = c.writable.getWriter();
    const blocked = await writeUntilBlocked(writer);
    await sleep(20);
    const t0 = performance.now();
    c.close();
    const readResult = await settle(read, 1000);
    const writeResult = blocked.pending
      ? await settle(blocked.pending, 1000)
      : { state: "not blocked" };
    const settledMs = Math.round(performance.now() - t0);
    s.close();
    out.pendingThenClose = { readResult, writeResult, settledMs, end: await when(1) };
  }

  lap("pendingThenClose done");
  // writer.abort() while a write is blocked by backpressure.
  {
    const [c, s] = await pair();
    const writer = c.writable.getWriter();
    const blocked = await writeUntilBlocked(writer);
    const reason = new Error("give up writing");
    const abort = writer.abort(reason);
    abort.catch(() => {});
    const abortResult = await settle(abort, 500);
    const writeResult = blocked.pending
      ? await settle(blocked.pending, 200, reason)
      : { state: "not blocked" };
    await c.readable.cancel();
    // The host close is deferred while a poll covering the socket is in flight (up to 100 ms).
    const afterCancel = await when(2);
    c.close(); // unsticks a hung abort, if any
    s.close();
    out.abortBlockedWrite = {
      blocked: blocked.pending !== undefined,
      abortResult,
      writeResult,
      afterCancel,
      end: await when(1),
    };
  }

  lap("abortBlocked done");
  // Send pacing at a low rate holds a bulk write back while the peer reads everything;
  // abort() ends its pause at once. Unpaced, the same write goes through.
  {
    const pacedWrite = async (pacing: boolean) => {
      const [c, s] = await pair();
      c.setSendPacing(pacing, { bytesPerSecond: 1_000_000 });
      let received = 0;
      const reading = (async () => {
        for await (const chunk of s.readable) received += chunk.byteLength;
      })().catch(() => {});
      const writer = c.writable.getWriter();
      const write = writer.write(new Uint8Array(PACED_WRITE));
      write.catch(() => {});
      const after300ms = await settle(write, 300);
      const receivedAfter300ms = received;
      const reason = new Error("stop pacing");
      const t = performance.now();
      const abort = after300ms.state === "pending"
        ? await settle(writer.abort(reason), 500)
        : undefined;
      const abortMs = Math.round(performance.now() - t);
      const writeResult = await settle(write, 200, reason);
      c.close();
      s.close();
      await reading;
      return { after300ms, receivedAfter300ms, abort, abortMs, writeResult };
    };
    const paced = await pacedWrite(true);
    const unpaced = await pacedWrite(false);
    const [c, s] = await pair();
    const rateTooLow = settleSync(() => c.setSendPacing(true, { bytesPerSecond: 999_999 }));
    const unknownOption = settleSync(() =>
      c.setSendPacing(true, { rate: 5 } as unknown as { bytesPerSecond: number })
    );
    c.close();
    s.close();
    out.pacing = { paced, unpaced, rateTooLow, unknownOption, end: await when(1) };
  }

  lap("pacing done");
  // close() with SO_LINGER and unacknowledged data (the stand-in refuses such a close with
  // EWOULDBLOCK, as lwIP does): rxzt lingers in the background, never blocking the JS thread.
  {
    // A peer that reads only after the linger ran out: reset, and the socket is freed.
    const [c, s] = await pair();
    c.setLinger(1);
    const blocked = await writeUntilBlocked(c.writable.getWriter());
    const t0 = performance.now();
    c.close();
    const closeMs = performance.now() - t0;
    await sleep(300); // past any deferred close (a poll in flight returns within 100 ms)
    const stillLingering = counts();
    const afterLinger = await countsWhen(node, base, { node: 2, host: 2 }, 3000);
    const lingerEndedMs = Math.round(performance.now() - t0);
    const peerRead = await settle(readAll(s.readable), 3000);
    s.close();
    // A peer that reads everything: the close goes through once the data is out, ending in EOF.
    const [c2, s2] = await pair();
    c2.setLinger(10);
    const reading = settle(
      readAll(s2.readable).then((r) => `${r.bytes} bytes, sha256 ${r.sha256}`),
      5000,
    );
    const w2 = c2.writable.getWriter();
    const payload = random(4 * 1024 * 1024);
    await w2.write(payload);
    c2.close();
    const delivered = await reading;
    s2.close();
    out.linger = {
      blocked: blocked.pending !== undefined,
      closeMs,
      stillLingering,
      afterLinger,
      lingerEndedMs,
      peerRead,
      sent: `${payload.byteLength} bytes, sha256 ${
        createHash("sha256").update(payload).digest("hex")
      }`,
      delivered,
      end: await when(1),
    };
  }

  lap("linger done");
  // Listener close() while `for await` and accept() are pending.
  {
    const L2 = node.listen({ hostname: "127.0.0.1", port: 0 });
    const port2 = L2.addr.port;
    let iterations = 0;
    const iteration = (async () => {
      for await (const conn of L2) {
        iterations++;
        conn.close();
      }
      return "ended";
    })();
    const accept = L2.accept();
    accept.catch(() => {});
    const withListener = counts();
    await sleep(30);
    L2.close();
    const iterationResult = await settle(iteration, 1000);
    const acceptResult = await settle(accept, 1000);
    const secondClose = settleSync(() => L2.close());
    const acceptAfterClose = await settle(L2.accept(), 1000);
    // rxzt defers the close of a socket that is in a poll in flight: time until the host socket is gone.
    const t0 = performance.now();
    const end = await when(1);
    const hostCloseMs = Math.round(performance.now() - t0);
    const connectAfterClose = await settle(
      node.connect({ hostname: "127.0.0.1", port: port2, timeout: 3000 }),
      3000,
    );
    out.listenerClose = {
      withListener,
      iterationResult,
      iterations,
      acceptResult,
      secondClose,
      acceptAfterClose,
      hostCloseMs,
      end,
      connectAfterClose,
    };
  }

  lap("listenerClose done");
  // Error mapping.
  {
    // A port nothing listens on: a listener opened and closed again (never polled).
    const refused = async (hostname: string) => {
      const gone = node.listen({ hostname, port: 0 });
      const p = gone.addr.port;
      gone.close();
      return await settle(node.connect({ hostname, port: p, timeout: 3000 }), 3000);
    };
    const refused4 = await refused("127.0.0.1");
    const refused6 = await refused("::1");
    const afterRefused = await when(1);

    // Peer resets: SO_LINGER 0, then close().
    const [c, s] = await pair();
    const reader = c.readable.getReader();
    const read = reader.read();
    read.catch(() => {});
    await sleep(20);
    s.setLinger(0);
    s.close();
    const resetRead = await settle(read, 2000);
    const writeAfterReset = await settle(c.writable.getWriter().write(new Uint8Array(10)), 2000);
    const afterReset = await when(1);
    c.close();
    const afterResetClose = await when(1);

    const reason = new Error("caller gave up");
    const preAborted = await settle(
      node.connect({ hostname: "127.0.0.1", port, signal: AbortSignal.abort(reason) }),
      1000,
      reason,
    );

    // 224.0.0.1: TCP to a multicast address fails at once with ENETUNREACH on Linux, which
    // connect treats as "path not there yet" and retries with a growing back-off.
    const retryTimeoutMs = 500;
    const t1 = performance.now();
    const timeoutWhileRetrying = await settle(
      node.connect({ hostname: "224.0.0.1", port: 9, timeout: retryTimeoutMs }),
      5000,
    );
    const timeoutElapsedMs = Math.round(performance.now() - t1);

    const ac = new AbortController();
    const abortReason = new Error("abort while retrying");
    const retrying = node.connect({
      hostname: "224.0.0.1",
      port: 9,
      signal: ac.signal,
      timeout: 10_000,
    });
    retrying.catch(() => {});
    await sleep(350); // attempts at about 0, 100 and 300 ms; then a 400 ms back-off
    const t2 = performance.now();
    ac.abort(abortReason);
    const abortWhileRetrying = await settle(retrying, 3000, abortReason);
    const abortLatencyMs = Math.round(performance.now() - t2);

    const invalid = {
      connectHostname: await settle(node.connect({ hostname: "localhost", port }), 1000),
      connectPort70000: await settle(node.connect({ hostname: "127.0.0.1", port: 70000 }), 1000),
      connectPort0: await settle(node.connect({ hostname: "127.0.0.1", port: 0 }), 1000),
      connectTimeout: await settle(
        node.connect({ hostname: "127.0.0.1", port, timeout: -1 }),
        1000,
      ),
      connectSignal: await settle(
        node.connect({ hostname: "127.0.0.1", port, signal: "no" as unknown as AbortSignal }),
        1000,
      ),
      listenPort70000: settleSync(() => node.listen({ port: 70000 })),
      listenBacklog0: settleSync(() => node.listen({ port: 0, backlog: 0 })),
      listenHostname: settleSync(() => node.listen({ port: 0, hostname: "example.com" })),
    };
    const afterInvalid = counts();

    // A chunk that is not a Uint8Array.
    const [c7, s7] = await pair();
    const w7 = c7.writable.getWriter();
    const badChunk = await settle(w7.write("text" as unknown as Uint8Array), 1000);
    s7.close();
    const readToEnd = await settle(readAll(c7.readable), 2000);
    // The writable is errored and the readable ended: is the socket released without close()?
    const afterBadChunkAndEnd = await when(1);
    c7.close();
    const afterBadChunkClose = await when(1);

    out.errors = {
      refused4,
      refused6,
      afterRefused,
      resetRead,
      writeAfterReset,
      afterReset,
      afterResetClose,
      preAborted,
      retryTimeoutMs,
      timeoutWhileRetrying,
      timeoutElapsedMs,
      abortWhileRetrying,
      abortLatencyMs,
      invalid,
      afterInvalid,
      badChunk,
      readToEnd,
      afterBadChunkAndEnd,
      afterBadChunkClose,
    };
  }

  lap("errors done");
  // connection$: subscribing accepts; unsubscribing stops.
  {
    const L3 = node.listen({ hostname: "127.0.0.1", port: 0 });
    const port3 = L3.addr.port;
    const waitFor = async (cond: () => boolean, ms: number) => {
      const deadline = performance.now() + ms;
      while (!cond() && performance.now() < deadline) await sleep(5);
    };
    const first: TcpConn[] = [];
    let firstCompleted = false;
    const sub1: Subscription = L3.connection$.subscribe({
      next: (c) => first.push(c),
      complete: () => (firstCompleted = true),
    });
    const a = await node.connect({ hostname: "127.0.0.1", port: port3 });
    await waitFor(() => first.length >= 1, 2000);
    const deliveredToFirst = first.length;
    const firstIsA = first[0]?.remoteAddr.port === a.localAddr.port;
    sub1.unsubscribe();
    await sleep(30);

    // A connection made while nobody subscribes: not delivered, and (ideally) left for the next taker.
    const b = await node.connect({ hostname: "127.0.0.1", port: port3 });
    const bw = b.writable.getWriter();
    await bw.write(new TextEncoder().encode("b"));
    await sleep(100);
    const firstAfterUnsubscribe = first.length;
    const bRead = b.readable.getReader().read();
    bRead.catch(() => {});
    const bReadWhileUnsubscribed = await settle(bRead, 200);

    // A new subscriber: gets what waits in the backlog, then new connections.
    const second: TcpConn[] = [];
    let secondCompleted = false;
    const sub2 = L3.connection$.subscribe({
      next: (c) => second.push(c),
      complete: () => (secondCompleted = true),
    });
    await waitFor(() => second.length >= 1, 300);
    const c = await node.connect({ hostname: "127.0.0.1", port: port3 });
    await waitFor(() => second.some((x) => x.remoteAddr.port === c.localAddr.port), 2000);
    const secondPorts = second.map((x) => x.remoteAddr.port);
    L3.close();
    await waitFor(() => secondCompleted, 1000);
    sub2.unsubscribe();
    for (const conn of [a, b, c, ...first, ...second]) conn.close();
    out.connection$ = {
      deliveredToFirst,
      firstIsA,
      firstAfterUnsubscribe,
      firstCompleted,
      bReadWhileUnsubscribed,
      secondGotB: secondPorts.includes(b.localAddr.port),
      secondGotC: secondPorts.includes(c.localAddr.port),
      deliveredToSecond: second.length,
      secondCompleted,
      end: await when(1),
    };
  }

  L.close();
  out.finalCounts = await countsWhen(node, base, { node: 0, host: 0 });
}

// ---------------------------------------------------------------------------
// nonet: no network joined
// ---------------------------------------------------------------------------

async function nonet(node: ZeroTierNode) {
  const before = countsFrom(node, base);
  const t0 = performance.now();
  const timedOut = await settle(
    node.connect({ hostname: "127.0.0.1", port: 9, timeout: 300 }),
    5000,
  );
  const timeoutElapsedMs = Math.round(performance.now() - t0);
  const timedOut6 = await settle(node.connect({ hostname: "::1", port: 9, timeout: 100 }), 5000);
  const reason = new Error("never mind");
  const preAborted = await settle(
    node.connect({ hostname: "127.0.0.1", port: 9, signal: AbortSignal.abort(reason) }),
    1000,
    reason,
  );
  const ac = new AbortController();
  const waiting = node.connect({ hostname: "127.0.0.1", port: 9, signal: ac.signal });
  waiting.catch(() => {});
  await sleep(50);
  const stillWaiting = (await settle(waiting, 1)).state === "pending";
  const abortReason = new Error("stop waiting");
  const t1 = performance.now();
  ac.abort(abortReason);
  const abortedWhileWaiting = await settle(waiting, 2000, abortReason);
  const abortLatencyMs = Math.round(performance.now() - t1);
  // A connect left waiting for a network when the node stops.
  const orphan = node.connect({ hostname: "127.0.0.1", port: 9 });
  orphan.catch(() => {});
  await sleep(20);
  await node.stop();
  const orphanResult = await settle(orphan, 2000);
  Object.assign(out, {
    before,
    timedOut,
    timeoutElapsedMs,
    timedOut6,
    preAborted,
    stillWaiting,
    abortedWhileWaiting,
    abortLatencyMs,
    orphanResult,
    after: countsFrom(node, base),
  });
}

// ---------------------------------------------------------------------------
// stop: node.stop() with everything pending
// ---------------------------------------------------------------------------

async function stopWithOpenSockets(node: ZeroTierNode) {
  const L = node.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: TcpConn[] = [];
  const iteration = (async () => {
    for await (const conn of L) accepted.push(unblock(conn));
    return "ended";
  })();
  iteration.catch(() => {});
  const L2 = node.listen({ hostname: "::1", port: 0 });
  const pendingAccept = L2.accept();
  pendingAccept.catch(() => {});

  const c1 = await node.connect({ hostname: "127.0.0.1", port: L.addr.port });
  const c2 = await node.connect({ hostname: "127.0.0.1", port: L.addr.port });
  const deadline = performance.now() + 2000;
  while (accepted.length < 2 && performance.now() < deadline) await sleep(5);
  const [s1] = accepted;
  const clientRead = c1.readable.getReader().read();
  clientRead.catch(() => {});
  const serverRead = s1.readable.getReader().read();
  serverRead.catch(() => {});
  // c2's peer never reads: its write blocks.
  const blocked = await writeUntilBlocked(c2.writable.getWriter());
  // A connect in its retry loop (ENETUNREACH from 224.0.0.1, see `release`).
  const retrying = node.connect({ hostname: "224.0.0.1", port: 9, timeout: 10_000 });
  retrying.catch(() => {});
  await sleep(150);
  const before = countsFrom(node, base);

  const t0 = performance.now();
  await node.stop();
  const stopMs = Math.round(performance.now() - t0);
  Object.assign(out, {
    before,
    accepted: accepted.length,
    writeBlocked: blocked.pending !== undefined,
    stopMs,
    clientRead: await settle(clientRead, 1000),
    serverRead: await settle(serverRead, 1000),
    blockedWrite: blocked.pending ? await settle(blocked.pending, 1000) : { state: "not blocked" },
    pendingAccept: await settle(pendingAccept, 1000),
    iteration: await settle(iteration, 1000),
    retryingConnect: await settle(retrying, 3000),
    after: await countsWhen(node, base, { node: 0, host: 0 }),
    lifecycle: node.lifecycle,
    connectAfterStop: await settle(node.connect({ hostname: "127.0.0.1", port: 9 }), 1000),
    listenAfterStop: settleSync(() => node.listen({ port: 0 })),
    closeAfterStop: settleSync(() => {
      c1.close();
      L.close();
    }),
  });
}

// ---------------------------------------------------------------------------
// scale: 200 concurrent connections
// ---------------------------------------------------------------------------

async function scale(node: ZeroTierNode, count: number, size: number) {
  const L = node.listen({ hostname: "127.0.0.1", port: 0, backlog: 1024 });
  const errors: ReportedError[] = [];
  const serving = serveEcho(L, errors);
  const t0 = performance.now();
  // All connect first, so that every connection is open at once; then all echo at once.
  const connected = await Promise.allSettled(
    Array.from(
      { length: count },
      () => node.connect({ hostname: "127.0.0.1", port: L.addr.port, timeout: 10_000 }),
    ),
  );
  const conns = connected.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const connectFailures = connected.filter((r) => r.status === "rejected")
    .map((r) => reportError((r as PromiseRejectedResult).reason));
  const connectMs = Math.round(performance.now() - t0);
  // every client, every accepted server side and the listener
  const allOpen = await countsWhen(node, base, { node: 2 * count + 1, host: 2 * count + 1 }, 3000);
  const t1 = performance.now();
  const results = await Promise.allSettled(
    conns.map(async (conn) => {
      const data = random(size);
      const reading = readAll(conn.readable);
      const w = conn.writable.getWriter();
      await w.write(data);
      await w.close();
      const got = await reading;
      return got.bytes === size && got.sha256 === sha256(data);
    }),
  );
  const echoMs = Math.round(performance.now() - t1);
  const failures = results.filter((r) => r.status === "rejected").map((r) =>
    reportError((r as PromiseRejectedResult).reason)
  );
  Object.assign(out, {
    count,
    size,
    connected: conns.length,
    connectFailures: connectFailures.slice(0, 5),
    allOpen,
    intact: results.filter((r) => r.status === "fulfilled" && r.value).length,
    failures: failures.slice(0, 5),
    failureCount: failures.length,
    serverErrors: errors.slice(0, 5),
    connectMs,
    echoMs,
    afterAll: await countsWhen(node, base, { node: 1, host: 1 }, 3000),
  });
  L.close();
  out.accepted = await serving;
  out.end = await countsWhen(node, base, { node: 0, host: 0 });
}

// ---------------------------------------------------------------------------
// liveness: keepAlive start option; unreachable peers' connections fail
// ---------------------------------------------------------------------------

const UNREACHABLE_MS = 400;

/** An echo round trip of a few bytes: "ok", or the error it ended with. */
async function roundTrip(conn: TcpConn): Promise<"ok" | ReportedError> {
  const w = conn.writable.getWriter();
  const r = conn.readable.getReader();
  try {
    await w.write(new Uint8Array([1, 2, 3]));
    const got = await r.read();
    return got.done ? reportError(new Error("ended")) : "ok";
  } catch (err) {
    return reportError(err);
  } finally {
    w.releaseLock();
    r.releaseLock();
  }
}

async function liveness() {
  // Rejected options name the argument.
  const attempt = (options: Record<string, unknown>) =>
    ZeroTierNode.start({ libraryPath, timeout: 5000, ...options }).then(
      async (n) => {
        await n.stop();
        return "started";
      },
      (err) => reportError(err),
    );
  out.badKeepAlive = await attempt({ keepAlive: { idle: 0 } });
  out.badKeepAliveKey = await attempt({ keepAlive: { idel: 5 } });
  out.badUnreachable = await attempt({ peerUnreachableTimeout: -1 });

  const node = await ZeroTierNode.start({
    libraryPath,
    timeout: 5000,
    keepAlive: { idle: 7, interval: 3, count: 2 },
    peerUnreachableTimeout: UNREACHABLE_MS,
  });
  await node.waitUntilOnline({ timeout: 3000 });
  // An ad-hoc IPv4 network in 127/8: every peer's address is a loopback address of this host.
  const network = adhocIPv4NetworkId(127);
  const joined = await node.join(network, { timeout: 3000 });
  out.ready = { IPv4: joined.readyIPv4, IPv6: joined.readyIPv6 };
  const L = node.listen({ hostname: "0.0.0.0", port: 0 });
  const errors: ReportedError[] = [];
  const serving = serveEcho(L, errors);
  const peers = { gone: 0x0000010203n, back: 0x0000040506n };
  const dial = (peer: bigint) =>
    node.connect({ hostname: adhocIPv4Address(network, peer), port: L.addr.port, timeout: 3000 });
  const toGone = await dial(peers.gone);
  const toBack = await dial(peers.back);
  const plain = await node.connect({ hostname: "127.0.0.1", port: L.addr.port, timeout: 3000 });
  out.keepAliveOption = keepAliveOf(toGone);
  out.roundTripsBefore = [await roundTrip(toGone), await roundTrip(toBack), await roundTrip(plain)];

  const links: { peer: string; link: string; lastEvent: string }[] = [];
  const sub = node.peer$().subscribe((p: PeerState) =>
    links.push({ peer: p.peerId, link: p.link, lastEvent: p.lastEvent })
  );
  // "back" is relayed while online, so going offline makes it unreachable ...
  standin.symbols.standin_peer_sequence(peers.back, 0);
  await sleep(50);
  standin.symbols.standin_set_online(0);
  // ... and "gone" loses its direct path while the node is offline.
  standin.symbols.standin_peer_sequence(peers.gone, 0);
  const goneAt = performance.now();
  const reading = toGone.readable.getReader().read().then(
    () => "no error",
    (err) => ({ ...reportError(err), peerId: err?.peerId, afterMs: performance.now() - goneAt }),
  );
  // "back" gets a direct path again before the timeout.
  await sleep(UNREACHABLE_MS / 2);
  standin.symbols.standin_peer_sequence(peers.back, 1);
  out.goneRead = await Promise.race([reading, sleep(5 * UNREACHABLE_MS).then(() => "pending")]);
  out.goneWrite = await toGone.writable.getWriter().write(new Uint8Array(1)).then(
    () => "written",
    (err) => reportError(err),
  );
  standin.symbols.standin_set_online(1);
  await sleep(50);
  sub.unsubscribe();
  out.links = links;
  out.roundTripsAfter = { back: await roundTrip(toBack), plain: await roundTrip(plain) };
  toBack.close();
  plain.close();
  L.close();
  await serving;
  out.serverErrors = errors.length;
  return node;
}

// ---------------------------------------------------------------------------

const base = hostSockets();
out.hostSocketsAtStart = base;
let node: ZeroTierNode | undefined;
try {
  if (mode === "data") {
    node = await startNode(true);
    out.acceptedBlocking = await acceptedDoesNotBlock(node, 400);
    out.keepAlive = await keepAliveDefaults(node);
    out.ipv4 = await echoIntegrity(node, "127.0.0.1", 8 * 1024 * 1024);
    out.ipv6 = await echoIntegrity(node, "::1", 8 * 1024 * 1024);
    out.ipv4Unpaced = await echoIntegrity(node, "127.0.0.1", 8 * 1024 * 1024, false);
    out.dualStack = await dualStack(node);
    out.byob = await byob(node);
    out.halfClose = await halfClose(node);
    out.backpressure = await backpressure(node);
    out.finalCounts = await countsWhen(node, base, { node: 0, host: 0 });
  } else if (mode === "release") {
    node = await startNode(true);
    await release(node);
  } else if (mode === "nonet") {
    node = await startNode(false);
    await nonet(node);
  } else if (mode === "stop") {
    node = await startNode(true);
    await stopWithOpenSockets(node);
  } else if (mode === "scale") {
    node = await startNode(true);
    await scale(node, 200, 64 * 1024);
  } else if (mode === "liveness") {
    node = await liveness();
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} catch (err) {
  out.unexpected = reportError(err);
  out.unexpectedStack = (err as Error)?.stack;
  Deno.exitCode = 1;
}
await node?.stop();
out.hostSocketsAtEnd = hostSockets() - base;
console.log(JSON.stringify(out));
