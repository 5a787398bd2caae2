/**
 * How every scenario of the socket and HTTP tests (tests/npm/_scenario_*.ts)
 * records its end, and the check each test file makes of it: nothing
 * unhandled, no unexpected error, the node stopped and no socket left open,
 * in rxzt and in the stand-in.
 *
 * @module
 */
import assert from "node:assert/strict";
import process from "node:process";
import type { ZeroTierNode } from "rxzt";
import { runScenario, type ScenarioRun, type StandinControl } from "./_runtime.ts";

/** What a scenario reports about how it ended. */
export interface ScenarioEnd {
  unexpected?: { name: string; code?: string; message: string; stack?: string };
  unhandled: string[];
  lifecycle: string;
  openSockets: number;
  standinSockets: number;
}

/** An error in one line: name, code and message. */
export function describeError(e: unknown): string {
  const err = e as { name?: string; code?: string; message?: string };
  return `${err?.name ?? typeof e} ${err?.code ?? ""} ${err?.message ?? String(e)}`;
}

/** Records every unhandled rejection and uncaught exception of this process from now on. */
export function watchUnhandled(): string[] {
  const unhandled: string[] = [];
  process.on(
    "unhandledRejection",
    (e) => unhandled.push(`unhandledRejection: ${describeError(e)}`),
  );
  process.on("uncaughtException", (e) => unhandled.push(`uncaughtException: ${describeError(e)}`));
  return unhandled;
}

/** Stops the node and records its lifecycle and the sockets left in rxzt and in the stand-in. */
export async function stopAndCount(
  out: Record<string, unknown>,
  node: ZeroTierNode,
  ctl: StandinControl,
): Promise<void> {
  await node.stop();
  out.lifecycle = node.lifecycle;
  out.openSockets = node.openSockets;
  out.standinSockets = ctl.openSockets();
}

/** Records an error the scenario did not expect (the process then exits with 1). */
export function recordUnexpected(out: Record<string, unknown>, err: unknown): void {
  const e = err as Error & { code?: string };
  out.unexpected = { name: e.name, code: e.code, message: e.message, stack: e.stack };
  process.exitCode = 1;
}

/** Prints the scenario's facts as its one JSON line, with what went unhandled. */
export function printFacts(out: Record<string, unknown>, unhandled: string[]): void {
  out.unhandled = unhandled;
  console.log(JSON.stringify(out));
}

/** Asserts that a scenario ran to its end, exited by itself, and left nothing behind. */
export function assertCleanEnd(run: ScenarioRun<unknown>, facts: ScenarioEnd): void {
  assert.equal(facts.unexpected, undefined, JSON.stringify(facts.unexpected));
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(facts.unhandled, [], "no unhandled rejection or uncaught exception");
  assert.equal(facts.lifecycle, "stopped");
  assert.equal(facts.openSockets, 0);
  assert.equal(facts.standinSockets, 0);
}

/** Runs a scenario (see `runScenario`) and returns its run and its JSON facts, which must exist. */
export async function runToEnd<T>(
  script: string,
  args: string[],
  limitMs: number,
): Promise<{ run: ScenarioRun<T>; facts: T }> {
  const run = await runScenario<T>(script, args, { limitMs });
  assert.ok(
    run.json,
    `no JSON from the scenario (exit ${run.code}):\n${run.stdout}\n${run.stderr}`,
  );
  return { run, facts: run.json };
}
