/**
 * Tier 2: the I/O thread that reads TCP connections (`receiveThread`, on by
 * default) on the libzt stand-in: a real Worker opening the stand-in, polling
 * it from its own thread and filling the rings the JS thread reads. Every
 * scenario runs in a child process (`_scenario_receive.ts <mode>`), which
 * must exit by itself after `node.stop()`: a Worker left running would keep
 * it alive past the limit.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { type ReportedError, runScenario, type ScenarioRun } from "./_helpers.ts";
import { standinPath } from "./_standin.ts";

const SCENARIO = "./_scenario_receive.ts";
const LIMIT_MS = 30_000;

interface Bulk {
  bytes: number;
  intact: boolean;
  ms: number;
  wakes?: number;
  receives?: number;
}

interface ThreadFacts {
  unexpected?: ReportedError;
  unexpectedStack?: string;
  idle: {
    noConnection: { polls: number; receives: number };
    parkedQuiet2500ms: { polls: number; receives: number; wakes: number };
  };
  bulk: Bulk;
  readAhead: {
    ringBytes: number;
    writerBlocked: string;
    pollsWhileFull: number;
    biggestChunk: number;
    intact: boolean;
  };
  roundTrips: { count: number; medianMs: number; p90Ms: number };
  afterAll: { reading: number; sockets: number };
}

interface DirectFacts {
  unexpected?: ReportedError;
  bulk: Bulk;
  byob: number;
  internals: { counters: unknown; ioThreadSockets: number };
}

interface OptionFacts {
  unexpected?: ReportedError;
  badThread: ReportedError;
  badWithin: ReportedError;
  unknownKey: ReportedError;
  tooSmall: ReportedError;
  notInteger: ReportedError;
  listenTooBig: ReportedError;
}

const runs: Record<string, ScenarioRun<unknown>> = {};

function facts<T>(mode: string): T {
  const run = runs[mode];
  const json = run.json as T & { unexpected?: ReportedError; unexpectedStack?: string };
  assert.ok(json, `${mode}: no JSON (exit ${run.code}); stderr:\n${run.stderr}`);
  assert.equal(
    json.unexpected,
    undefined,
    `${mode}: ${JSON.stringify(json.unexpected)}\n${json.unexpectedStack}`,
  );
  assert.equal(run.code, 0, `${mode}: exit code ${run.code}; stderr:\n${run.stderr}`);
  return json;
}

describe("the I/O thread on the stand-in (a child process per scenario)", () => {
  before(async () => {
    const path = standinPath();
    const modes = ["thread", "direct", "options"];
    const results = await Promise.all(
      modes.map((m) => runScenario(SCENARIO, [m, path], { limitMs: LIMIT_MS })),
    );
    modes.forEach((m, i) => (runs[m] = results[i]));
  });

  test("an idle node makes no libzt calls; a parked reader on a quiet connection costs a poll a second at most", () => {
    const { idle } = facts<ThreadFacts>("thread");
    assert.deepEqual(
      idle.noConnection,
      { polls: 0, receives: 0 },
      "no connection being read: the thread sleeps",
    );
    assert.ok(
      idle.parkedQuiet2500ms.polls <= 4,
      `polls over 2.5 s of quiet: ${idle.parkedQuiet2500ms.polls}`,
    );
    assert.equal(idle.parkedQuiet2500ms.wakes, 0, "nothing came: the JS thread was never woken");
  });

  test("32 MB arrive whole; the JS thread is woken in batches, far fewer times than libzt was read", () => {
    const { bulk } = facts<ThreadFacts>("thread");
    assert.ok(bulk.intact, "SHA-256 of what arrived matches what was sent");
    assert.ok(bulk.wakes !== undefined && bulk.receives !== undefined);
    // 256 KiB per wake-up (the default), or one wake-up per 200 ms (this scenario's bound).
    const bound = Math.ceil(bulk.bytes / (256 * 1024)) + Math.ceil(bulk.ms / 200) + 2;
    assert.ok(
      bulk.wakes! <= bound,
      `${bulk.wakes} wake-ups for ${bulk.bytes} bytes in ${bulk.ms} ms (bound ${bound})`,
    );
  });

  test("readBufferSize bounds the read-ahead: a paused app stops the thread (no polls), the writer waits; then all arrives", () => {
    const { readAhead } = facts<ThreadFacts>("thread");
    assert.equal(
      readAhead.writerBlocked,
      "pending",
      "16 MB could not all be taken while the app paused",
    );
    assert.ok(
      readAhead.pollsWhileFull <= 1,
      `the thread polled ${readAhead.pollsWhileFull} times with its only ring full`,
    );
    assert.ok(
      readAhead.biggestChunk <= readAhead.ringBytes,
      `a chunk of ${readAhead.biggestChunk} bytes from a ${readAhead.ringBytes}-byte ring`,
    );
    assert.ok(readAhead.intact, "SHA-256 matches once the app reads again");
  });

  test("request/response is not held back by the wake-up batching (bound 200 ms here)", () => {
    const { roundTrips } = facts<ThreadFacts>("thread");
    assert.ok(roundTrips.medianMs < 100, `median round trip ${roundTrips.medianMs} ms`);
  });

  test("rings are freed when connections end, and no socket is left", () => {
    const { afterAll } = facts<ThreadFacts>("thread");
    assert.deepEqual(afterAll, { reading: 0, sockets: 0 });
  });

  test("receiveThread: false reads on the JS thread: same data, BYOB works, no Worker and no wake socket", () => {
    const f = facts<DirectFacts>("direct");
    assert.ok(f.bulk.intact);
    assert.equal(f.byob, 1000);
    assert.deepEqual(f.internals, { counters: null, ioThreadSockets: 0 });
  });

  test("bad receiveThread and readBufferSize values are InvalidArgumentErrors naming the option", () => {
    const f = facts<OptionFacts>("options");
    for (
      const [what, err, arg] of [
        ["receiveThread: 'yes'", f.badThread, "receiveThread"],
        ["wakeWithinMs: -1", f.badWithin, "receiveThread.wakeWithinMs"],
        ["unknown key", f.unknownKey, "receiveThread.wakeAfter"],
        ["readBufferSize 1024", f.tooSmall, "readBufferSize"],
        ["readBufferSize 1.5", f.notInteger, "readBufferSize"],
        ["listen readBufferSize 2^40", f.listenTooBig, "readBufferSize"],
      ] as const
    ) {
      assert.equal(err.name, "InvalidArgumentError", `${what}: ${JSON.stringify(err)}`);
      assert.equal(err.argument, arg, `${what}: ${JSON.stringify(err)}`);
    }
  });
});
