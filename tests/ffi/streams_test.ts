/**
 * Tier 2: rxzt's TCP streams (node.connect / node.listen) on the libzt
 * stand-in, whose zts_bsd_* calls are host sockets, so traffic runs over
 * 127.0.0.1 and ::1.
 *
 * libzt allows one node per process and node_test.ts has this process's, so
 * every scenario runs in a child process (`_scenario_streams.ts <mode>`) that
 * starts its own node, joins an ad-hoc IPv4 network (the stand-in makes it
 * ready for IPv4 and IPv6), records facts and prints them as JSON, stops its
 * node and must then exit by itself. The five children run in parallel, each
 * under a hard time limit.
 *
 * Socket counts are checked twice: `node.openSockets` (rxzt's registry) and
 * `standin_open_sockets()` (host sockets the stand-in has open), relative to
 * the child's start.
 *
 * Every accepted socket is also checked through the stand-in to be
 * non-blocking (`unblock()` in the scenario counts any that is not): a
 * blocking one would freeze the JS thread, and with both ends in one process,
 * deadlock.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { type ReportedError, runScenario, type ScenarioRun } from "./_helpers.ts";
import { standinPath } from "./_standin.ts";
import { DEFAULT_KEEPALIVE } from "../../mod.ts";

const SCENARIO = "./_scenario_streams.ts";
const LIMIT_MS = 25_000;
const MODES = ["data", "release", "nonet", "stop", "scale", "liveness"] as const;
type Mode = typeof MODES[number];

// ---------------------------------------------------------------------------
// What the scenarios report
// ---------------------------------------------------------------------------

type Settled =
  | { state: "fulfilled"; value?: unknown }
  | { state: "rejected"; error: ReportedError; sameReason?: boolean }
  | { state: "pending" }
  | { state: "not blocked" };

interface Counts {
  node: number;
  host: number;
}

interface NetAddrFacts {
  transport: string;
  hostname: string;
  port: number;
}

interface EchoFacts {
  hostname: string;
  listenerAddr: NetAddrFacts;
  remoteAddr: NetAddrFacts;
  localAddr: NetAddrFacts;
  writes: number;
  bytesSent: number;
  bytesReceived: number;
  sentSha256: string;
  receivedSha256: string;
  elapsedMs: number;
  openSocketsBeforeListenerClose: Counts;
  serverErrors: ReportedError[];
}

interface Common {
  mode: Mode;
  unexpected?: ReportedError;
  unexpectedStack?: string;
  ready?: { IPv4: boolean; IPv6: boolean };
  hostSocketsAtStart: number;
  hostSocketsAtEnd: number;
  acceptedSockets: { checked: number; unbounded: number; notFound: number };
}

interface DataFacts extends Common {
  keepAlive: { connected?: number[]; accepted?: number[]; afterDisable?: number[] };
  acceptedBlocking: {
    delayMs: number;
    boundedBeforeRead?: boolean;
    readCallMs: number;
    result: Settled;
  };
  ipv4: EchoFacts;
  ipv6: EchoFacts;
  /** The IPv4 echo again, with the client's send pacing turned off. */
  ipv4Unpaced: EchoFacts;
  dualStack: Record<string, { echoed: string; sent: string }> & {
    listenerAddr: NetAddrFacts;
    serverErrors: ReportedError[];
  };
  byob: {
    firstDone: boolean;
    firstByteOffset: number;
    firstByteLength: number;
    firstBufferByteLength: number;
    callerBufferTransferred: boolean;
    firstMatches: boolean;
    reads: number;
    maxReadBytes: number;
    totalBytes: number;
    expectedBytes: number;
    allMatch: boolean;
    endValueLength?: number;
    endReturnsCallerBuffer?: boolean;
    counts: Counts;
  };
  halfClose: {
    serverSawEndOfStream: boolean;
    serverBytes: number;
    serverSha256: string;
    sentBytes: number;
    sentSha256: string;
    reply: string;
    lockedCloseWrite: Settled;
    counts: Counts;
  };
  backpressure: {
    chunk: number;
    runawayCap: number;
    acceptedAtDeadline: number;
    writesStarted: number;
    blockedAtDeadline: boolean;
    stillPendingAfter300ms?: boolean;
    desiredSizeWhileBlocked?: number | null;
    pendingAfterServerReads?: Settled;
    totalSent?: number;
    serverReceived?: number;
    intact?: boolean;
    denoBaselineAccepted: number;
  };
  finalCounts: Counts;
}

/** A 16 MB write paced at 1 MB/s (or not) to a peer reading everything, aborted after 300 ms if still going. */
interface PacedWrite {
  after300ms: Settled;
  receivedAfter300ms: number;
  abort?: Settled;
  abortMs: number;
  writeResult: Settled;
}

interface ReleaseFacts extends Common {
  cancelAbort: {
    before: Counts;
    pendingReadAtCancel: Settled;
    afterCancel: Counts;
    afterAbort: Counts;
    serverRead: Settled;
    afterServerClose: Counts;
  };
  closeTwice: {
    before: Counts;
    afterFirst: Counts;
    afterSecond: Counts;
    withNew: Counts;
    afterThird: Counts;
    echoed: Settled;
    readAfterClose: Settled;
    writeAfterClose: Settled;
    optionAfterClose: Settled;
    pacingAfterClose: Settled;
    serverSeesEnd: Settled;
    end: Counts;
  };
  pendingThenClose: { readResult: Settled; writeResult: Settled; settledMs: number; end: Counts };
  abortBlockedWrite: {
    blocked: boolean;
    abortResult: Settled;
    writeResult: Settled;
    afterCancel: Counts;
    end: Counts;
  };
  pacing: {
    paced: PacedWrite;
    unpaced: PacedWrite;
    rateTooLow: Settled;
    unknownOption: Settled;
    end: Counts;
  };
  linger: {
    blocked: boolean;
    closeMs: number;
    stillLingering: Counts;
    afterLinger: Counts;
    lingerEndedMs: number;
    peerRead: Settled;
    sent: string;
    delivered: Settled;
    end: Counts;
  };
  listenerClose: {
    withListener: Counts;
    iterationResult: Settled;
    iterations: number;
    acceptResult: Settled;
    secondClose: Settled;
    acceptAfterClose: Settled;
    hostCloseMs: number;
    end: Counts;
    connectAfterClose: Settled;
  };
  errors: {
    refused4: Settled;
    refused6: Settled;
    afterRefused: Counts;
    resetRead: Settled;
    writeAfterReset: Settled;
    afterReset: Counts;
    afterResetClose: Counts;
    preAborted: Settled;
    retryTimeoutMs: number;
    timeoutWhileRetrying: Settled;
    timeoutElapsedMs: number;
    abortWhileRetrying: Settled;
    abortLatencyMs: number;
    invalid: Record<string, Settled>;
    afterInvalid: Counts;
    badChunk: Settled;
    readToEnd: Settled;
    afterBadChunkAndEnd: Counts;
    afterBadChunkClose: Counts;
  };
  connection$: {
    deliveredToFirst: number;
    firstIsA: boolean;
    firstAfterUnsubscribe: number;
    firstCompleted: boolean;
    bReadWhileUnsubscribed: Settled;
    secondGotB: boolean;
    secondGotC: boolean;
    deliveredToSecond: number;
    secondCompleted: boolean;
    end: Counts;
  };
  finalCounts: Counts;
}

interface NonetFacts extends Common {
  before: Counts;
  timedOut: Settled;
  timeoutElapsedMs: number;
  timedOut6: Settled;
  preAborted: Settled;
  stillWaiting: boolean;
  abortedWhileWaiting: Settled;
  abortLatencyMs: number;
  orphanResult: Settled;
  after: Counts;
}

interface StopFacts extends Common {
  before: Counts;
  accepted: number;
  writeBlocked: boolean;
  stopMs: number;
  clientRead: Settled;
  serverRead: Settled;
  blockedWrite: Settled;
  pendingAccept: Settled;
  iteration: Settled;
  retryingConnect: Settled;
  after: Counts;
  lifecycle: string;
  connectAfterStop: Settled;
  listenAfterStop: Settled;
  closeAfterStop: Settled;
}

interface ScaleFacts extends Common {
  count: number;
  size: number;
  connected: number;
  connectFailures: ReportedError[];
  allOpen: Counts;
  intact: number;
  failures: ReportedError[];
  failureCount: number;
  serverErrors: ReportedError[];
  connectMs: number;
  echoMs: number;
  afterAll: Counts;
  accepted: number;
  end: Counts;
}

interface LivenessFacts extends Common {
  badKeepAlive: ReportedError;
  badKeepAliveKey: ReportedError;
  badUnreachable: ReportedError;
  keepAliveOption: number[];
  roundTripsBefore: unknown[];
  links: { peer: string; link: string; lastEvent: string }[];
  goneRead: "pending" | "no error" | (ReportedError & { peerId?: string; afterMs: number });
  goneWrite: "written" | ReportedError;
  roundTripsAfter: { back: unknown; plain: unknown };
}

// ---------------------------------------------------------------------------
// Assertion helpers
// ---------------------------------------------------------------------------

/** Asserts a rejection with the given error class name and code. */
function rejectedWith(s: Settled, name: string, code?: string, what = ""): ReportedError {
  assert.equal(s.state, "rejected", `${what}: expected a rejection, got ${JSON.stringify(s)}`);
  const error = (s as { error: ReportedError }).error;
  assert.equal(error.name, name, `${what}: ${JSON.stringify(error)}`);
  if (code !== undefined) assert.equal(error.code, code, `${what}: ${JSON.stringify(error)}`);
  return error;
}

function counts(actual: Counts, node: number, what: string): void {
  assert.deepEqual(actual, { node, host: node }, `${what}: node.openSockets / stand-in sockets`);
}

const MiB = 1024 * 1024;

describe("TCP streams on the stand-in (a child process per scenario)", () => {
  const runs = new Map<Mode, PromiseSettledResult<ScenarioRun<Common>>>();

  before(async () => {
    const lib = standinPath();
    const results = await Promise.allSettled(
      MODES.map((mode) => runScenario<Common>(SCENARIO, [mode, lib], { limitMs: LIMIT_MS })),
    );
    MODES.forEach((mode, i) => runs.set(mode, results[i]));
  });

  /** The facts of a scenario that ran to its end and exited by itself with code 0. */
  function facts<T extends Common>(mode: Mode): T {
    const r = runs.get(mode)!;
    if (r.status === "rejected") throw r.reason;
    const run = r.value;
    assert.ok(run.json, `no JSON from ${mode}.\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    assert.equal(
      run.json.unexpected,
      undefined,
      `${mode}: ${JSON.stringify(run.json.unexpected)}\n${run.json.unexpectedStack}\n${run.stderr}`,
    );
    assert.equal(run.code, 0, `${mode}: exit code ${run.code}\nstderr: ${run.stderr}`);
    assert.equal(run.json.hostSocketsAtEnd, 0, `${mode}: stand-in sockets left open at the end`);
    return run.json as T;
  }

  test("every scenario's node was ready for IPv4 and IPv6 (the ad-hoc IPv4 network)", () => {
    for (const mode of MODES) {
      if (mode === "nonet") continue;
      assert.deepEqual(facts(mode).ready, { IPv4: true, IPv6: true }, mode);
      // the scenarios' non-blocking check found every accepted socket
      assert.equal(facts(mode).acceptedSockets.notFound, 0, mode);
    }
  });

  // -------------------------------------------------------------------------
  // 1. Ordering and integrity
  // -------------------------------------------------------------------------

  for (const family of ["ipv4", "ipv6", "ipv4Unpaced"] as const) {
    const over = family === "ipv6" ? "::1" : "127.0.0.1";
    test(`8 MB through an echo over ${over}${family === "ipv4Unpaced" ? ", send pacing off," : ""} arrives whole and in order`, () => {
      const f = facts<DataFacts>("data")[family];
      assert.equal(f.bytesSent, 8 * MiB);
      assert.equal(f.bytesReceived, f.bytesSent);
      assert.match(f.sentSha256, /^[0-9a-f]{64}$/);
      assert.equal(f.receivedSha256, f.sentSha256, "SHA-256 of what came back = of what was sent");
      assert.ok(f.writes > 8, "many writes of mixed sizes");
      assert.deepEqual(f.serverErrors, []);
      // addresses: the client sees the listener's address as its peer
      assert.equal(f.listenerAddr.hostname, f.hostname);
      assert.ok(f.listenerAddr.port > 0, "port 0 picked a free port");
      assert.deepEqual(f.remoteAddr, {
        transport: "tcp",
        hostname: f.hostname,
        port: f.listenerAddr.port,
      });
      assert.equal(f.localAddr.hostname, f.hostname);
      assert.ok(f.localAddr.port > 0 && f.localAddr.port !== f.listenerAddr.port);
      // both ends finished both directions: each released itself, only the listener is left
      counts(f.openSocketsBeforeListenerClose, 1, "after the echo");
    });
  }

  test("a listener on the default address (::) takes both IPv4 and IPv6 clients", () => {
    const f = facts<DataFacts>("data").dualStack;
    assert.equal(f.listenerAddr.hostname, "::");
    for (const host of ["127.0.0.1", "::1"]) assert.equal(f[host].echoed, f[host].sent, host);
    assert.deepEqual(f.serverErrors, []);
  });

  // -------------------------------------------------------------------------
  // 2. BYOB reads
  // -------------------------------------------------------------------------

  test("BYOB reads fill the caller's buffer (at its offset, up to its length) and hand it back", () => {
    const f = facts<DataFacts>("data").byob;
    assert.equal(f.firstDone, false);
    assert.equal(f.firstByteOffset, 4, "the view's offset is kept");
    assert.ok(f.firstByteLength >= 1 && f.firstByteLength <= 8, "at most the view's length");
    assert.equal(f.firstBufferByteLength, 16, "the caller's whole buffer comes back");
    assert.equal(
      f.callerBufferTransferred,
      true,
      "the caller's buffer was transferred, not copied",
    );
    assert.equal(f.firstMatches, true);
    assert.ok(f.maxReadBytes <= 4096, "never more than the caller's buffer");
    assert.ok(
      f.reads >= Math.ceil((f.expectedBytes - 8) / 4096),
      "reused the 4 KiB buffer for the rest",
    );
    assert.equal(f.totalBytes, f.expectedBytes);
    assert.equal(f.allMatch, true, "every byte in order");
    assert.equal(f.endValueLength, 0, "end of stream: done with an empty view");
    assert.equal(f.endReturnsCallerBuffer, true, "end of stream hands the buffer back");
    counts(f.counts, 1, "after the BYOB transfer");
  });

  // -------------------------------------------------------------------------
  // 3. Half-close
  // -------------------------------------------------------------------------

  test("half-close: closeWrite() ends the server's readable; the server's reply still arrives", () => {
    const f = facts<DataFacts>("data").halfClose;
    assert.equal(f.serverSawEndOfStream, true);
    assert.equal(f.serverBytes, f.sentBytes);
    assert.equal(f.serverSha256, f.sentSha256);
    assert.equal(f.reply, `got ${f.sentBytes} bytes, sha256 ${f.sentSha256}`);
    counts(f.counts, 1, "after both sides finished");
  });

  test("closeWrite() while the writable is locked rejects with STREAM_LOCKED", () => {
    const f = facts<DataFacts>("data").halfClose;
    rejectedWith(f.lockedCloseWrite, "ZeroTierError", "STREAM_LOCKED");
  });

  // -------------------------------------------------------------------------
  // 4. Backpressure
  // -------------------------------------------------------------------------

  test("backpressure: with a peer that does not read, writes stall within the host's buffers", () => {
    const f = facts<DataFacts>("data").backpressure;
    console.log(
      `  accepted before stalling: rxzt ${(f.acceptedAtDeadline / MiB).toFixed(2)} MiB, ` +
        `Deno's own TCP ${(f.denoBaselineAccepted / MiB).toFixed(2)} MiB (chunk ${
          f.chunk / 1024
        } KiB)`,
    );
    assert.equal(f.blockedAtDeadline, true, "a write was still pending at the deadline");
    assert.ok(f.acceptedAtDeadline < f.runawayCap, "the loop did not run away");
    // host socket buffers + the chunk in flight: a few MB, not an ever-growing buffer in rxzt
    // (hosts with larger socket buffers let Deno's own TCP take more too)
    const bound = Math.max(16 * MiB, 2 * f.denoBaselineAccepted) + f.chunk;
    assert.ok(
      f.acceptedAtDeadline <= bound,
      `accepted ${f.acceptedAtDeadline} bytes (bound ${bound})`,
    );
    assert.equal(f.stillPendingAfter300ms, true, "still blocked a while later");
    assert.ok((f.desiredSizeWhileBlocked ?? 1) <= 0, "the writer reports backpressure");
  });

  test("backpressure: once the peer reads, the pending write completes and every byte arrives intact", () => {
    const f = facts<DataFacts>("data").backpressure;
    assert.equal(f.pendingAfterServerReads?.state, "fulfilled");
    assert.equal(f.serverReceived, f.totalSent);
    assert.equal(f.intact, true);
  });

  test("data scenario: no socket left open", () => {
    counts(facts<DataFacts>("data").finalCounts, 0, "at the end");
  });

  test("connections start with keep-alive (DEFAULT_KEEPALIVE: 60 s idle, 15 s interval, 16 probes); setKeepAlive(false) turns it off", () => {
    const f = facts<DataFacts>("data").keepAlive;
    const want = [1, DEFAULT_KEEPALIVE.idle, DEFAULT_KEEPALIVE.interval, DEFAULT_KEEPALIVE.count];
    assert.deepEqual(
      f.connected,
      want,
      "connected socket: SO_KEEPALIVE, KEEPIDLE, KEEPINTVL, KEEPCNT",
    );
    assert.deepEqual(f.accepted, want, "accepted socket");
    assert.equal(f.afterDisable?.[0], 0, "SO_KEEPALIVE after setKeepAlive(false)");
  });

  test("accepted connections: a server-side read does not freeze the JS thread, and no wait is unbounded", () => {
    const data = facts<DataFacts>("data");
    const f = data.acceptedBlocking;
    assert.equal(f.result.state, "fulfilled");
    assert.equal(
      f.boundedBeforeRead,
      true,
      "accepted socket is non-blocking or has a receive timeout",
    );
    assert.ok(f.readCallMs < f.delayMs / 2, `read() held the thread for ${f.readCallMs} ms`);
    for (const mode of MODES) {
      assert.equal(
        facts(mode).acceptedSockets.unbounded,
        0,
        `${mode}: accepted sockets handed out that can block without a bound`,
      );
    }
  });

  // -------------------------------------------------------------------------
  // 5. cancel / abort / close release exactly once
  // -------------------------------------------------------------------------

  test("reader.cancel() + writer.abort(): released once both directions are done, never before", () => {
    const f = facts<ReleaseFacts>("release").cancelAbort;
    counts(f.before, 3, "listener + client + server");
    assert.deepEqual(
      f.pendingReadAtCancel,
      { state: "fulfilled", value: { done: true } },
      "a pending read ends",
    );
    counts(f.afterCancel, 3, "after cancel only (the writable is still open)");
    counts(f.afterAbort, 2, "after abort too");
    assert.equal(f.serverRead.state, "fulfilled", "the server reads end of stream");
    counts(f.afterServerClose, 1, "after the server's close()");
  });

  test("close() twice is harmless, also after a new connection may reuse the descriptor", () => {
    const f = facts<ReleaseFacts>("release").closeTwice;
    counts(f.before, 3, "before");
    counts(f.afterFirst, 2, "after close()");
    counts(f.afterSecond, 2, "after a second close()");
    counts(f.withNew, 4, "with a new pair");
    counts(f.afterThird, 4, "a third close() of the old connection closes nothing else");
    assert.deepEqual(
      f.echoed,
      { state: "fulfilled", value: "still here" },
      "the new connection still works",
    );
    assert.equal(f.serverSeesEnd.state, "fulfilled");
    counts(f.end, 1, "at the end");
  });

  test("after close(): reads, writes and options fail with SocketClosedError (SOCKET_CLOSED)", () => {
    const f = facts<ReleaseFacts>("release").closeTwice;
    rejectedWith(f.readAfterClose, "SocketClosedError", "SOCKET_CLOSED", "read");
    rejectedWith(f.writeAfterClose, "SocketClosedError", "SOCKET_CLOSED", "write");
    rejectedWith(f.optionAfterClose, "SocketClosedError", "SOCKET_CLOSED", "setNoDelay");
    rejectedWith(f.pacingAfterClose, "SocketClosedError", "SOCKET_CLOSED", "setSendPacing");
  });

  test("close() with a read pending and a write blocked: both reject with SOCKET_CLOSED at once", () => {
    const f = facts<ReleaseFacts>("release").pendingThenClose;
    rejectedWith(f.readResult, "SocketClosedError", "SOCKET_CLOSED", "pending read");
    rejectedWith(f.writeResult, "SocketClosedError", "SOCKET_CLOSED", "blocked write");
    assert.ok(f.settledMs < 500, `settled after ${f.settledMs} ms`);
    counts(f.end, 1, "at the end");
  });

  test("writer.abort() while a write is blocked by backpressure settles promptly", () => {
    const f = facts<ReleaseFacts>("release").abortBlockedWrite;
    assert.equal(f.blocked, true);
    assert.notEqual(f.abortResult.state, "pending", "abort() settled within 500 ms");
    assert.equal(f.writeResult.state, "rejected", "the blocked write rejected");
    counts(f.afterCancel, 2, "abort + cancel released the client (listener and server side left)");
  });

  test("send pacing at 1 MB/s holds a 16 MB write back; abort() ends the pause at once; unpaced it goes through", () => {
    const { paced, unpaced } = facts<ReleaseFacts>("release").pacing;
    assert.equal(paced.after300ms.state, "pending", "paced: still writing after 300 ms");
    assert.ok(
      paced.receivedAfter300ms < 16 * 1024 * 1024,
      `paced: the peer had ${paced.receivedAfter300ms} bytes`,
    );
    assert.equal(paced.abort?.state, "fulfilled", "abort() settled");
    assert.ok(paced.abortMs < 100, `abort() took ${paced.abortMs} ms`);
    assert.equal(
      paced.writeResult.state,
      "rejected",
      "the paced write rejected with the abort reason",
    );
    assert.equal(
      unpaced.after300ms.state,
      "fulfilled",
      "unpaced: the write was done within 300 ms",
    );
  });

  test("setSendPacing: a rate under 1 MB/s or an unknown option is an InvalidArgumentError", () => {
    const f = facts<ReleaseFacts>("release").pacing;
    const low = rejectedWith(
      f.rateTooLow,
      "InvalidArgumentError",
      "EINVAL",
      "bytesPerSecond 999999",
    );
    assert.equal(low.argument, "bytesPerSecond");
    rejectedWith(f.unknownOption, "InvalidArgumentError", "EINVAL", "option rate");
    counts(f.end, 1, "after the pacing checks");
  });

  test("close() with SO_LINGER 1 s and unacknowledged data: returns at once, lingers, then resets the peer", () => {
    const f = facts<ReleaseFacts>("release").linger;
    assert.equal(f.blocked, true, "the peer's buffers were full");
    assert.ok(f.closeMs < 50, `close() took ${f.closeMs} ms`);
    assert.deepEqual(
      f.stillLingering,
      { node: 2, host: 3 },
      "300 ms later: rxzt forgot it, the stack still holds it",
    );
    counts(f.afterLinger, 2, "after the linger time");
    assert.ok(
      f.lingerEndedMs >= 900 && f.lingerEndedMs < 2500,
      `the socket was freed after ${f.lingerEndedMs} ms`,
    );
    const err = rejectedWith(
      f.peerRead,
      "LibztCallError",
      "ECONNRESET",
      "the peer's read after the linger",
    );
    assert.ok(err);
  });

  test("close() with SO_LINGER 10 s right after a 4 MB write: the peer reads all of it, then end of stream", () => {
    const f = facts<ReleaseFacts>("release").linger;
    assert.deepEqual(f.delivered, { state: "fulfilled", value: f.sent });
    counts(f.end, 1, "after both linger checks");
  });

  test("listener close(): for-await ends, pending accept() rejects SOCKET_CLOSED, twice is harmless", () => {
    const f = facts<ReleaseFacts>("release").listenerClose;
    counts(f.withListener, 2, "two listeners");
    assert.deepEqual(f.iterationResult, { state: "fulfilled", value: "ended" });
    assert.equal(f.iterations, 0);
    rejectedWith(f.acceptResult, "SocketClosedError", "SOCKET_CLOSED", "pending accept");
    assert.equal(f.secondClose.state, "fulfilled");
    rejectedWith(f.acceptAfterClose, "SocketClosedError", "SOCKET_CLOSED", "accept after close");
    counts(f.end, 1, "after close");
    rejectedWith(f.connectAfterClose, "LibztCallError", "ECONNREFUSED", "the port is free again");
  });

  // -------------------------------------------------------------------------
  // 6. Error mapping
  // -------------------------------------------------------------------------

  test("connect to a port nothing listens on: LibztCallError ECONNREFUSED (IPv4 and IPv6), nothing leaked", () => {
    const f = facts<ReleaseFacts>("release").errors;
    rejectedWith(f.refused4, "LibztCallError", "ECONNREFUSED", "127.0.0.1");
    rejectedWith(f.refused6, "LibztCallError", "ECONNREFUSED", "::1");
    counts(f.afterRefused, 1, "only the scenario's listener");
  });

  test("peer reset (SO_LINGER 0 + close): the pending read fails with a typed error (or ends cleanly)", () => {
    const f = facts<ReleaseFacts>("release").errors;
    if (f.resetRead.state === "fulfilled") {
      console.log("  the host reported the reset as a clean end of stream");
      assert.deepEqual(f.resetRead.value, { done: true });
    } else {
      const err = rejectedWith(f.resetRead, "LibztCallError", undefined, "read after reset");
      console.log(`  the host reported the reset as ${err.code}`);
      assert.ok(["ECONNRESET", "ECONNABORTED"].includes(err.code!), err.code);
    }
    // the dead connection's writes fail with a typed error too
    assert.equal(f.writeAfterReset.state, "rejected");
    assert.equal((f.writeAfterReset as { error: ReportedError }).error.name, "LibztCallError");
    counts(f.afterResetClose, 1, "after close()");
  });

  test("connect with an already-aborted signal rejects with the signal's reason", () => {
    for (
      const s of [
        facts<ReleaseFacts>("release").errors.preAborted,
        facts<NonetFacts>("nonet").preAborted,
      ]
    ) {
      assert.equal(s.state, "rejected");
      assert.equal((s as { sameReason?: boolean }).sameReason, true, "the very reason object");
    }
  });

  test("connect retries while the path is missing (ENETUNREACH), then TimeoutError or the abort reason", () => {
    const f = facts<ReleaseFacts>("release").errors;
    const err = rejectedWith(
      f.timeoutWhileRetrying,
      "TimeoutError",
      "ETIMEDOUT",
      "timeout while retrying",
    );
    assert.match(err.message, new RegExp(`${f.retryTimeoutMs} ms`));
    assert.ok(
      f.timeoutElapsedMs >= f.retryTimeoutMs - 20,
      `gave up after ${f.timeoutElapsedMs} ms, not before the timeout`,
    );
    assert.equal(f.abortWhileRetrying.state, "rejected");
    assert.equal((f.abortWhileRetrying as { sameReason?: boolean }).sameReason, true);
  });

  test("connect's timeout and abort take effect during the retry back-off, not after it", () => {
    const f = facts<ReleaseFacts>("release").errors;
    assert.ok(
      f.timeoutElapsedMs < f.retryTimeoutMs + 200,
      `timeout ${f.retryTimeoutMs} ms took ${f.timeoutElapsedMs} ms`,
    );
    assert.ok(f.abortLatencyMs < 250, `abort took ${f.abortLatencyMs} ms`);
  });

  test("invalid options: InvalidArgumentError (EINVAL) naming the argument, and no socket opened", () => {
    const f = facts<ReleaseFacts>("release").errors;
    const expected: Record<string, string> = {
      connectHostname: "hostname",
      connectPort70000: "port",
      connectPort0: "port",
      connectTimeout: "timeout",
      connectSignal: "signal",
      listenPort70000: "port",
      listenBacklog0: "backlog",
      listenHostname: "hostname",
    };
    assert.deepEqual(Object.keys(f.invalid).sort(), Object.keys(expected).sort());
    for (const [call, argument] of Object.entries(expected)) {
      const err = rejectedWith(f.invalid[call], "InvalidArgumentError", "EINVAL", call);
      assert.equal(err.argument, argument, call);
    }
    counts(f.afterInvalid, 1, "only the scenario's listener");
  });

  test("writing something other than a Uint8Array: InvalidArgumentError naming the chunk", () => {
    const f = facts<ReleaseFacts>("release").errors;
    const err = rejectedWith(f.badChunk, "InvalidArgumentError", "EINVAL", "write('text')");
    assert.equal(err.argument, "chunk");
    assert.equal(f.readToEnd.state, "fulfilled", "reading still works");
    counts(f.afterBadChunkClose, 1, "close() releases it");
  });

  test("a connection whose writable errored (bad chunk) is released once its readable ends", () => {
    const f = facts<ReleaseFacts>("release").errors;
    counts(f.afterBadChunkAndEnd, 1, "after the bad write and end of stream, without close()");
  });

  // -------------------------------------------------------------------------
  // 9. connection$
  // -------------------------------------------------------------------------

  test("connection$: subscribing accepts; after unsubscribe the old subscriber gets nothing", () => {
    const f = facts<ReleaseFacts>("release").connection$;
    assert.equal(f.deliveredToFirst, 1);
    assert.equal(f.firstIsA, true);
    assert.equal(
      f.firstAfterUnsubscribe,
      1,
      "a later connection is not delivered to the old subscriber",
    );
    assert.equal(f.firstCompleted, false, "unsubscribing does not complete");
    assert.equal(f.secondGotC, true, "a new subscriber gets new connections");
    assert.equal(f.secondCompleted, true, "closing the listener completes connection$");
    counts(f.end, 1, "at the end");
  });

  test("connection$: unsubscribing does not swallow the next connection", () => {
    const f = facts<ReleaseFacts>("release").connection$;
    assert.equal(
      f.bReadWhileUnsubscribed.state,
      "pending",
      "the client made meanwhile is not closed",
    );
    assert.equal(f.secondGotB, true, "the next subscriber gets it");
  });

  test("release scenario: no socket left open", () => {
    counts(facts<ReleaseFacts>("release").finalCounts, 0, "at the end");
  });

  // -------------------------------------------------------------------------
  // 6 (continued). No network joined
  // -------------------------------------------------------------------------

  test("connect before any network is ready: TimeoutError (ETIMEDOUT) after `timeout`, no socket opened", () => {
    const f = facts<NonetFacts>("nonet");
    const err = rejectedWith(f.timedOut, "TimeoutError", "ETIMEDOUT", "127.0.0.1");
    assert.match(err.message, /300 ms/);
    assert.ok(f.timeoutElapsedMs >= 280 && f.timeoutElapsedMs < 2000, `${f.timeoutElapsedMs} ms`);
    rejectedWith(f.timedOut6, "TimeoutError", "ETIMEDOUT", "::1");
    counts(f.before, 0, "before");
    counts(f.after, 0, "after");
  });

  test("abort while waiting for a network: rejects at once with the reason", () => {
    const f = facts<NonetFacts>("nonet");
    assert.equal(f.stillWaiting, true);
    assert.equal(f.abortedWhileWaiting.state, "rejected");
    assert.equal((f.abortedWhileWaiting as { sameReason?: boolean }).sameReason, true);
    assert.ok(f.abortLatencyMs < 250, `${f.abortLatencyMs} ms`);
  });

  test("node.stop() while a connect waits for a network: NodeStateError NODE_STOPPED", () => {
    rejectedWith(facts<NonetFacts>("nonet").orphanResult, "NodeStateError", "NODE_STOPPED");
  });

  // -------------------------------------------------------------------------
  // 7. node.stop() with open connections and listeners
  // -------------------------------------------------------------------------

  test("node.stop(): pending reads, blocked writes and accepts reject with NODE_STOPPED; for-await ends", () => {
    const f = facts<StopFacts>("stop");
    assert.equal(f.accepted, 2);
    assert.equal(f.writeBlocked, true);
    counts(f.before, 6, "two listeners, two connection pairs");
    rejectedWith(f.clientRead, "NodeStateError", "NODE_STOPPED", "client read");
    rejectedWith(f.serverRead, "NodeStateError", "NODE_STOPPED", "server read");
    rejectedWith(f.blockedWrite, "NodeStateError", "NODE_STOPPED", "blocked write");
    rejectedWith(f.pendingAccept, "NodeStateError", "NODE_STOPPED", "pending accept");
    assert.deepEqual(f.iteration, { state: "fulfilled", value: "ended" });
  });

  test("node.stop(): every socket released, later calls NODE_STOPPED, close() still harmless", () => {
    const f = facts<StopFacts>("stop");
    counts(f.after, 0, "after stop");
    assert.equal(f.lifecycle, "stopped");
    rejectedWith(f.connectAfterStop, "NodeStateError", "NODE_STOPPED", "connect after stop");
    rejectedWith(f.listenAfterStop, "NodeStateError", "NODE_STOPPED", "listen after stop");
    assert.equal(f.closeAfterStop.state, "fulfilled");
  });

  test("node.stop(): the child process exits by itself (code 0, within the limit)", () => {
    const r = runs.get("stop")!;
    assert.equal(r.status, "fulfilled");
    facts<StopFacts>("stop");
    const run = (r as PromiseFulfilledResult<ScenarioRun<Common>>).value;
    assert.ok(run.elapsedMs < LIMIT_MS);
  });

  test("node.stop() during connect's retry back-off rejects with NodeStateError NODE_STOPPED", () => {
    rejectedWith(facts<StopFacts>("stop").retryingConnect, "NodeStateError", "NODE_STOPPED");
  });

  // -------------------------------------------------------------------------
  // 8. Scale
  // -------------------------------------------------------------------------

  test("200 concurrent connections to one listener, 64 KB echoed on each: all intact, then all released", () => {
    const f = facts<ScaleFacts>("scale");
    console.log(`  ${f.count} connections: connect ${f.connectMs} ms, echo ${f.echoMs} ms`);
    assert.deepEqual(f.connectFailures, []);
    assert.equal(f.connected, f.count);
    counts(f.allOpen, 2 * f.count + 1, "all open at once (clients, server sides, listener)");
    assert.deepEqual(f.failures, []);
    assert.deepEqual(f.serverErrors, []);
    assert.equal(f.intact, f.count, "every echo intact (SHA-256)");
    counts(f.afterAll, 1, "after every echo finished");
    assert.equal(f.accepted, f.count);
    counts(f.end, 0, "after the listener closed");
  });

  test("start options: keepAlive sets every new connection's keep-alive; bad values name the option", () => {
    const f = facts<LivenessFacts>("liveness");
    assert.deepEqual(f.keepAliveOption, [1, 7, 3, 2], "SO_KEEPALIVE, KEEPIDLE, KEEPINTVL, KEEPCNT");
    assert.equal(f.badKeepAlive.argument, "keepAlive.idle");
    assert.equal(f.badKeepAliveKey.code, "EINVAL");
    assert.match(f.badKeepAliveKey.message, /idel/);
    assert.equal(f.badUnreachable.argument, "peerUnreachableTimeout");
  });

  test("a peer relayed while the node is offline is UNREACHABLE; past peerUnreachableTimeout its connections fail with PeerUnreachableError, others keep working", () => {
    const f = facts<LivenessFacts>("liveness");
    assert.deepEqual(f.roundTripsBefore, ["ok", "ok", "ok"]);
    const seen = (peer: string) =>
      f.links.filter((l) => l.peer === peer).map((l) => `${l.link}/${l.lastEvent}`);
    // Peer ids of the scenario: gone 0000010203, back 0000040506.
    assert.deepEqual(seen("0000010203"), ["UNREACHABLE/PEER_RELAY", "RELAY/NODE_ONLINE"]);
    const back = seen("0000040506");
    assert.deepEqual(back.slice(0, 2), ["RELAY/PEER_RELAY", "UNREACHABLE/NODE_OFFLINE"]);
    assert.equal(back.at(-1), "DIRECT/PEER_DIRECT", back.join(" → "));
    assert.notEqual(f.goneRead, "pending", "the unreachable peer's connection did not fail");
    const read = f.goneRead as ReportedError & { peerId?: string; afterMs: number };
    assert.equal(read.name, "PeerUnreachableError", JSON.stringify(read));
    assert.equal(read.code, "PEER_UNREACHABLE");
    assert.equal(read.peerId, "0000010203");
    assert.ok(read.afterMs >= 400 - 5, `failed ${read.afterMs} ms into the spell (timeout 400)`);
    assert.equal(
      (f.goneWrite as ReportedError).code,
      "PEER_UNREACHABLE",
      JSON.stringify(f.goneWrite),
    );
    assert.deepEqual(
      f.roundTripsAfter,
      { back: "ok", plain: "ok" },
      "a peer reached again in time, and an address that names no peer, keep their connections",
    );
  });
});
