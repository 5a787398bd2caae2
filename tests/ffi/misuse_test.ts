/**
 * Tier 2: the defined behaviour of each misuse in issue 5 (README "Misuse and
 * lifecycle rules"), on the stand-in in a child process (`_scenario_misuse.ts`).
 * Each fact is a bounded wait: "pending" would be a hang.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { type ReportedError, runScenario } from "./_helpers.ts";
import { standinPath } from "./_standin.ts";

type Settled =
  | { state: "fulfilled"; value?: unknown }
  | { state: "rejected"; error: ReportedError }
  | { state: "pending" }
  | { state: "threw"; error: ReportedError };

type Out = Record<string, unknown> & { unexpected?: ReportedError };

function failedWith(s: Settled | undefined, code: string, name?: string, label = ""): void {
  assert.ok(s, `${label}: no fact`);
  assert.ok(
    s.state === "rejected" || s.state === "threw",
    `${label}: expected ${code}, got ${JSON.stringify(s)}`,
  );
  assert.equal(s.error.code, code, `${label}: ${JSON.stringify(s.error)}`);
  if (name) assert.equal(s.error.name, name, label);
}

function fulfilled(s: Settled | undefined, label: string): void {
  assert.equal(s?.state, "fulfilled", `${label}: ${JSON.stringify(s)}`);
}

describe("misuse has defined behaviour", () => {
  let out: Out;

  before(async () => {
    const run = await runScenario<Out>("./_scenario_misuse.ts", [standinPath()], {
      limitMs: 30_000,
    });
    assert.ok(run.json, `no JSON.\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    out = run.json;
    assert.equal(
      out.unexpected,
      undefined,
      `scenario error: ${JSON.stringify(out)}\n${run.stderr}`,
    );
    assert.equal(run.code, 0, run.stderr);
  });

  test("before start(): libzt helpers work without a node", () => {
    const s = out.identityBeforeStart as Settled;
    assert.deepEqual(s, { state: "fulfilled", value: true });
  });

  test("two start() calls at once: one node; the other NODE_ALREADY_RUNNING", () => {
    const starts = out.concurrentStarts as Settled[];
    assert.equal(starts.filter((s) => s.state === "fulfilled").length, 1);
    failedWith(
      starts.find((s) => s.state !== "fulfilled"),
      "NODE_ALREADY_RUNNING",
      "NodeStateError",
    );
  });

  test("secrets: the storage directory rxzt creates is 0700, parents included", () => {
    assert.deepEqual(out.storage, { dir: 0o700, parents: [0o700, 0o700] });
  });

  test("secrets: never in inspect/JSON/String of the node, of STORE_IDENTITY_SECRET events, or in errors", () => {
    const s = out.secrets as Record<string, unknown>;
    assert.equal(s.detectorWorks, true, "the check finds unredacted bytes in every format");
    assert.equal(s.storeEvents, 2, "the start's and the emitted STORE_IDENTITY_SECRET");
    assert.equal(s.storeDataReadable, true, "the app can still read event.data");
    assert.equal(s.storeRedacted, true);
    assert.equal(s.storeShown, false);
    assert.equal(s.storeInArrayShown, false);
    assert.equal(s.nodeShown, false);
    assert.deepEqual(Object.keys(JSON.parse(s.nodeJson as string)).sort(), [
      "lifecycle",
      "nodeId",
      "online",
    ]);
    assert.equal(s.errors, 4);
    assert.equal(
      s.errorsShown,
      false,
      "errors given a secret identity where it does not belong do not echo it",
    );
  });

  test("joining the same network twice, in turn or at once, resolves with its state", () => {
    assert.deepEqual(out.joinTwice, { sameState: true, concurrentBothReady: true, networks: 2 });
  });

  test("after conn.close(): reads and writes fail SOCKET_CLOSED, options too; close() again is a no-op", () => {
    const a = out.afterClose as Record<string, Settled>;
    failedWith(a.read, "SOCKET_CLOSED", "SocketClosedError", "read");
    failedWith(a.write, "SOCKET_CLOSED", "SocketClosedError", "write");
    failedWith(a.setNoDelay, "SOCKET_CLOSED", "SocketClosedError", "setNoDelay");
    fulfilled(a.closeAgain, "close again");
    fulfilled(a.closed, "conn.closed");
  });

  test("after the peer closed: every read is end of stream; closing our side releases it", () => {
    const b = out.afterPeerClosed as Record<string, Settled>;
    assert.deepEqual(b.first, { state: "fulfilled", value: { done: true } });
    assert.deepEqual(b.second, { state: "fulfilled", value: { done: true } });
    fulfilled(b.closedAfterBothEnds, "conn.closed");
  });

  test("a closed listener or UDP socket: SOCKET_CLOSED; listener.close() again is a no-op", () => {
    failedWith(out.acceptAfterClose as Settled, "SOCKET_CLOSED", "SocketClosedError", "accept");
    fulfilled(out.listenerCloseAgain as Settled, "listener.close again");
    const u = out.udpAfterClose as Record<string, Settled>;
    failedWith(u.read, "SOCKET_CLOSED", undefined, "udp read");
    failedWith(u.write, "SOCKET_CLOSED", undefined, "udp write");
  });

  test("stop() from inside a subscriber, concurrently and again: one shared stop, all resolve", () => {
    const s = out.stop as Record<string, unknown>;
    assert.equal(s.calledFromSubscriber, true);
    assert.equal(s.sharedPromise, true, "a concurrent stop() returns the same promise");
    for (const k of ["first", "second", "third"]) fulfilled(s[k] as Settled, `stop ${k}`);
    assert.equal(s.lifecycle, "stopped");
  });

  test("whatever was pending or open at stop() fails NODE_STOPPED", () => {
    const o = out.openAtStop as Record<string, Settled>;
    failedWith(o.read, "NODE_STOPPED", "NodeStateError", "pending read");
    failedWith(o.accept, "NODE_STOPPED", "NodeStateError", "pending accept");
    failedWith(o.join, "NODE_STOPPED", "NodeStateError", "pending join");
    failedWith(o.write, "NODE_STOPPED", "NodeStateError", "write after stop");
    fulfilled(o.connClosed, "conn.closed resolves");
  });

  test("after stop(): every call fails NODE_STOPPED (argument errors first), observables complete", () => {
    const a = out.afterStop as Record<string, Settled> & { openSockets: number };
    for (
      const k of [
        "join",
        "leave",
        "waitUntilOnline",
        "connect",
        "listen",
        "listenDatagram",
        "addresses",
        "secretIdentity",
        "stats",
        "port",
      ]
    ) {
      failedWith(a[k], "NODE_STOPPED", "NodeStateError", k);
    }
    assert.equal(a.nodeId.state, "fulfilled", "nodeId stays readable");
    failedWith(a.badArgument, "EINVAL", "InvalidArgumentError", "bad argument after stop");
    failedWith(a.startAgain, "NODE_NOT_RESTARTABLE", "NodeStateError", "start after stop");
    fulfilled(a.events$Completes, "events$ completes for a late subscriber");
    fulfilled(a.network$Completes, "network$ completes for a late subscriber");
    fulfilled(a.asyncDispose, "asyncDispose after stop");
    assert.equal(a.openSockets, 0);
  });
});
