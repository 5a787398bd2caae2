/**
 * Tier 2: a seeded randomized test of the public API against the stand-in
 * (`_scenario_fuzz.ts`, in a child process: one libzt node per process).
 *
 * At least 10,000 generated inputs; every call must succeed or fail with a
 * typed rxzt error (or the reason of a signal the input carried), answer
 * within 5 s, leave no unhandled rejection, and leave `node.openSockets` and
 * the stand-in's host sockets where they were. The seed is printed; replay a
 * run with `RXZT_FUZZ_SEED=<seed> deno test -A tests/ffi/fuzz_test.ts`
 * (`RXZT_FUZZ_COUNT` changes the number of inputs).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type ReportedError, runScenario } from "./_helpers.ts";
import { standinPath } from "./_standin.ts";

interface FuzzOut {
  seed: number;
  count: number;
  unexpected?: ReportedError;
  baseline?: { node: number; host: number };
  afterFuzz?: { node: number; host: number };
  hostSocketsAtEnd?: number;
  openSocketsAtEnd?: number;
  failures: Record<string, unknown>[];
  failureCount: number;
  unhandled: ReportedError[];
  unhandledCount: number;
  outcomes: Record<string, number>;
  byTarget: Record<string, { ok: number; typed: number }>;
  fuzzMs?: number;
  slowestCallMs?: number;
  slowestTarget?: string;
  lifecycle?: string;
  online?: boolean;
}

const envSeed = Deno.env.get("RXZT_FUZZ_SEED");
const seed = envSeed !== undefined ? Number(envSeed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const count = Number(Deno.env.get("RXZT_FUZZ_COUNT") ?? 10_000);

describe("fuzzing the public API on the stand-in", () => {
  test(`${count} generated inputs: only typed errors, no crash, no hang, no leaked socket (seed ${seed})`, async () => {
    console.log(`fuzz seed ${seed} (replay: RXZT_FUZZ_SEED=${seed}), ${count} inputs`);
    const run = await runScenario<FuzzOut>(
      "./_scenario_fuzz.ts",
      [standinPath(), String(seed), String(count)],
      { limitMs: 60_000 },
    );
    const replay = `replay: RXZT_FUZZ_SEED=${seed} deno test -A tests/ffi/fuzz_test.ts`;
    assert.ok(
      run.json,
      `no JSON (crash?), exit ${run.code}. ${replay}\nstderr: ${run.stderr.slice(-3000)}`,
    );
    const out = run.json;
    assert.equal(out.unexpected, undefined, `scenario error: ${JSON.stringify(out.unexpected)}`);
    assert.equal(run.code, 0, `exit code ${run.code}. ${replay}\n${run.stderr.slice(-2000)}`);
    assert.equal(out.seed, seed);
    assert.equal(
      out.failureCount,
      0,
      `${out.failureCount} inputs broke the rules. ${replay}\n${
        JSON.stringify(out.failures, null, 1)
      }`,
    );
    assert.equal(
      out.unhandledCount,
      0,
      `unhandled rejections: ${JSON.stringify(out.unhandled)}. ${replay}`,
    );
    const total = Object.values(out.outcomes).reduce((a, b) => a + b, 0);
    assert.equal(total, count, "every input was answered");
    assert.ok(count < 10_000 || total >= 10_000);
    // The inputs reach past validation too: some calls succeed, some fail inside libzt or the network.
    assert.ok(
      (out.outcomes.ok ?? 0) > count / 20,
      `too few successes: ${JSON.stringify(out.outcomes)}`,
    );
    assert.ok(
      (out.outcomes.EINVAL ?? 0) > count / 5,
      `too few argument errors: ${JSON.stringify(out.outcomes)}`,
    );
    assert.deepEqual(out.afterFuzz, out.baseline, "sockets back to the baseline after the fuzz");
    assert.equal(out.openSocketsAtEnd, 0);
    assert.equal(out.hostSocketsAtEnd, 0, "the stand-in has no socket left open after stop()");
    assert.equal(out.lifecycle, "running", "the node survived the fuzz");
    console.log(
      `fuzz: ${total} inputs in ${out.fuzzMs} ms (slowest call ${out.slowestCallMs} ms: ${out.slowestTarget}); outcomes ${
        JSON.stringify(out.outcomes)
      }; sockets before ${JSON.stringify(out.baseline)} after ${JSON.stringify(out.afterFuzz)}`,
    );
  });
});
