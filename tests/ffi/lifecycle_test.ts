/**
 * Tier 2: lifecycle rules that need a fresh process each (libzt allows one
 * node per process and cannot restart it). Each scenario runs in a child
 * Deno process on the stand-in, bounded by a hard time limit; the child must
 * exit by itself (no Deno.exit) once its node is stopped.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { identityNodeId } from "../../mod.ts";
import { type ReportedError, runScenario, type ScenarioRun } from "./_helpers.ts";
import { buildDir, standinPath } from "./_standin.ts";

const SCENARIO = "./_scenario_lifecycle.ts";
const LIMIT_MS = 20_000;

interface Attempted {
  ok: boolean;
  value?: unknown;
  error?: ReportedError;
}

interface LifecycleOut {
  mode: string;
  unexpected?: ReportedError;
  nodeId?: string;
  joinedExpectedAddress?: boolean;
  lifecycle?: string;
  completions?: number;
  restart?: Attempted;
  restartWithoutPath?: Attempted;
  second?: Attempted;
  lifecycleAfterSecond?: string;
  stillWorks?: boolean;
  first?: Attempted;
  firstRejectedWithReason?: boolean;
  retry?: Attempted;
}

function ok(run: ScenarioRun<LifecycleOut>): LifecycleOut {
  assert.ok(run.json, `no JSON from the scenario.\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.equal(
    run.json.unexpected,
    undefined,
    `scenario error: ${JSON.stringify(run.json.unexpected)}\n${run.stderr}`,
  );
  assert.equal(run.code, 0, `exit code ${run.code}\nstderr: ${run.stderr}`);
  return run.json;
}

describe("node lifecycle across processes", () => {
  let storage: string;
  const runs = new Map<string, ScenarioRun<LifecycleOut>>();

  before(async () => {
    const lib = standinPath();
    storage = `${buildDir()}/node-storage`;
    const modes = ["exit", "restart", "running", "aborted"];
    const results = await Promise.all(
      modes.map((mode) =>
        runScenario<LifecycleOut>(SCENARIO, mode === "exit" ? [mode, lib, storage] : [mode, lib], {
          limitMs: LIMIT_MS,
        })
      ),
    );
    modes.forEach((mode, i) => runs.set(mode, results[i]));
  });

  test("after stop() the process exits by itself, with code 0, even with subscriptions left open", () => {
    const run = runs.get("exit")!;
    const out = ok(run);
    assert.ok(run.elapsedMs < LIMIT_MS);
    assert.match(out.nodeId!, /^[0-9a-f]{10}$/);
    assert.equal(out.joinedExpectedAddress, true);
    assert.equal(out.lifecycle, "stopped");
    assert.equal(out.completions, 5, "every open subscription was completed by stop()");
  });

  test("storagePath: libzt keeps the identity there, and a new process reuses it", async () => {
    const first = ok(runs.get("exit")!);
    const secret = Deno.readTextFileSync(`${storage}/identity.secret`).trim();
    const pub = Deno.readTextFileSync(`${storage}/identity.public`).trim();
    assert.equal(identityNodeId(secret), first.nodeId);
    assert.equal(identityNodeId(pub), first.nodeId);
    const again = ok(
      await runScenario<LifecycleOut>(SCENARIO, ["exit", standinPath(), storage], {
        limitMs: LIMIT_MS,
      }),
    );
    assert.equal(again.nodeId, first.nodeId);
  });

  test("a second start after stop(): NodeStateError NODE_NOT_RESTARTABLE, before loading anything", () => {
    const out = ok(runs.get("restart")!);
    assert.match(out.nodeId!, /^[0-9a-f]{10}$/);
    for (const attempt of [out.restart!, out.restartWithoutPath!]) {
      assert.equal(attempt.ok, false);
      assert.equal(attempt.error!.name, "NodeStateError");
      assert.equal(attempt.error!.code, "NODE_NOT_RESTARTABLE");
    }
  });

  test("start while a node runs: NodeStateError NODE_ALREADY_RUNNING, the running node unaffected", () => {
    const out = ok(runs.get("running")!);
    assert.equal(out.second!.ok, false);
    assert.equal(out.second!.error!.name, "NodeStateError");
    assert.equal(out.second!.error!.code, "NODE_ALREADY_RUNNING");
    assert.equal(out.lifecycleAfterSecond, "running");
    assert.equal(out.stillWorks, true);
  });

  test("start with an already-aborted signal rejects with the signal's reason", () => {
    const out = ok(runs.get("aborted")!);
    assert.equal(out.first!.ok, false);
    assert.equal(out.firstRejectedWithReason, true);
  });

  test("start with an already-aborted signal does not use up the process's one node", () => {
    const out = ok(runs.get("aborted")!);
    assert.equal(out.retry!.ok, true, `retry failed: ${JSON.stringify(out.retry!.error)}`);
    assert.match(out.retry!.value as string, /^[0-9a-f]{10}$/);
  });
});
