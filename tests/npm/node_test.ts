/**
 * Tier 2 in both runtimes: the same file runs under Deno (`deno task test`,
 * rxzt from mod.ts) and under Node (`deno task test:npm`, rxzt from the
 * installed npm package, libzt through koffi), against the CI stand-in.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  generateIdentity,
  identityNodeId,
  isValidIdentity,
  LibraryLoadError,
  LibraryNotFoundError,
  loadLibzt,
} from "rxzt";
import { buildDir, buildSharedLibrary, runScenario, runtime, standinPath } from "./_runtime.ts";

/** What _scenario_node prints. */
interface NodeScenario {
  unexpected?: unknown;
  threadpool: string | null;
  eventThreadDiffers: boolean;
  handlerRanOnEventThread: boolean;
  peer: { link: string; paths: unknown[]; latency: number };
  burst: { received: number; intactPayloads: number; dropped: number };
  network: { status: string; readyIPv4: boolean };
  responsiveness: { fsWorstMs: number; timerWorstMs: number };
  echo: { bytes: number; intact: boolean; ms: number };
  pacing: { after300ms: string; abortMs: number; write: string };
  lifecycle: string;
  completed: number;
  openSockets: number;
  standinSockets: number;
}

describe(`tier 2 under ${runtime}: loading libzt`, () => {
  test("an explicit path that does not exist is a LibraryNotFoundError naming it", () => {
    const missing = join(buildDir(), "no-such-libzt.so");
    assert.throws(() => loadLibzt({ libraryPath: missing }), (err: unknown) => {
      assert.ok(err instanceof LibraryNotFoundError);
      assert.deepEqual(err.searched, [missing]);
      assert.match(err.message, /LIBZT_PATH/);
      return true;
    });
  });

  test("a file that is not a shared library is a LibraryLoadError", () => {
    const bogus = join(buildDir(), "not-a-library.so");
    writeFileSync(bogus, "not ELF");
    assert.throws(() => loadLibzt({ libraryPath: bogus }), (err: unknown) => {
      assert.ok(err instanceof LibraryLoadError);
      assert.equal(err.code, "LIBZT_LOAD_FAILED");
      return true;
    });
  });

  test("a library lacking symbols is a LibraryLoadError naming every missing one", () => {
    const partial = buildSharedLibrary("libzt_partial", {
      code: "int zts_node_start(void) { return 0; }\nint zts_errno;\n",
    });
    assert.throws(() => loadLibzt({ libraryPath: partial }), (err: unknown) => {
      assert.ok(err instanceof LibraryLoadError);
      assert.equal(err.code, "LIBZT_MISSING_SYMBOLS");
      assert.ok(err.missing.includes("zts_node_stop"), "a blocking (async) symbol is reported");
      assert.ok(err.missing.includes("zts_bsd_poll"));
      assert.ok(err.missing.includes("zts_init_set_event_handler"));
      assert.ok(!err.missing.includes("zts_node_start"), "present symbols are not reported");
      assert.ok(!err.missing.includes("zts_errno"));
      return true;
    });
  });

  test("the stand-in loads, and identities work without a running node", () => {
    assert.equal(loadLibzt({ libraryPath: standinPath() }), standinPath());
    const id = generateIdentity();
    assert.ok(isValidIdentity(id));
    assert.match(identityNodeId(id), /^[0-9a-f]{10}$/);
  });
});

describe(`tier 2 under ${runtime}: a node on the stand-in (child process)`, () => {
  test("events from libzt's thread, network, TCP echo, a responsive event loop, and exit after stop", async () => {
    // Node's default threadpool (4): rxzt uses at most 2 threads, with short polls.
    const run = await runScenario<NodeScenario>("_scenario_node", [standinPath()], {
      env: { UV_THREADPOOL_SIZE: "" },
      limitMs: 60_000,
    });
    const r = run.json;
    assert.ok(r, `no JSON from the scenario (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
    assert.equal(r.unexpected, undefined, JSON.stringify(r.unexpected));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(r.eventThreadDiffers, true, "events come from a thread of the library's own");
    assert.equal(r.handlerRanOnEventThread, false, "the JS handler never runs on libzt's thread");
    // Intact payloads after the stand-in scrubbed them: libzt's thread waited for the handler.
    assert.equal(r.peer.link, "DIRECT");
    assert.equal(r.peer.paths.length, 2);
    assert.equal(r.peer.latency, 7);
    assert.equal(r.burst.dropped, 0);
    assert.equal(r.burst.received, 500);
    assert.equal(r.burst.intactPayloads, 500);
    assert.deepEqual(r.network, { status: "OK", readyIPv4: true });
    assert.equal(r.echo.intact, true);
    assert.equal(r.echo.bytes, 4 * 1024 * 1024);
    // Send pacing at 1 MB/s holds a 16 MB write back on Node's timers too; abort() is prompt.
    assert.equal(r.pacing.after300ms, "pending", "the paced write is still going after 300 ms");
    assert.ok(r.pacing.abortMs < 100, `abort() took ${r.pacing.abortMs} ms`);
    assert.equal(r.pacing.write, "rejected", "the aborted write rejected");
    // 24 sockets waiting in polls must not starve Node's threadpool or the event loop.
    assert.ok(r.responsiveness.fsWorstMs < 250, `fs read took ${r.responsiveness.fsWorstMs} ms`);
    assert.ok(
      r.responsiveness.timerWorstMs < 250,
      `a 1 ms timer took ${r.responsiveness.timerWorstMs} ms`,
    );
    assert.equal(r.threadpool, null, "rxzt leaves UV_THREADPOOL_SIZE to the app");
    assert.equal(r.lifecycle, "stopped");
    assert.equal(r.completed, 2, "observables complete at stop");
    assert.equal(r.openSockets, 0);
    assert.equal(r.standinSockets, 0);
    assert.ok(run.elapsedMs < 60_000);
  });

  const setups = [
    { what: "UV_THREADPOOL_SIZE=2", env: { UV_THREADPOOL_SIZE: "2" }, pool: "2" },
    {
      what: "the rxzt/threadpool preload",
      env: { UV_THREADPOOL_SIZE: "" },
      nodeFlags: ["--import", "rxzt/threadpool"],
      pool: "20",
    },
  ];
  for (const setup of setups) {
    const skip = runtime === "deno" && setup.nodeFlags ? "a Node preload" : false;
    test(`with ${setup.what} the same works and stays responsive`, { skip }, async () => {
      const run = await runScenario<NodeScenario>("_scenario_node", [standinPath()], {
        env: setup.env,
        nodeFlags: setup.nodeFlags,
        limitMs: 60_000,
      });
      const r = run.json;
      assert.ok(r, `no JSON from the scenario (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
      assert.equal(r.unexpected, undefined, JSON.stringify(r.unexpected));
      assert.equal(run.code, 0);
      assert.equal(r.threadpool, setup.pool);
      assert.equal(r.echo.intact, true);
      assert.equal(r.burst.intactPayloads, 500);
      assert.ok(r.responsiveness.fsWorstMs < 250, `fs read took ${r.responsiveness.fsWorstMs} ms`);
      assert.ok(
        r.responsiveness.timerWorstMs < 250,
        `a 1 ms timer took ${r.responsiveness.timerWorstMs} ms`,
      );
      assert.equal(r.lifecycle, "stopped");
    });
  }
});
