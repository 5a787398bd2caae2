/**
 * Tier 2: resources stay flat (`_scenario_resources.ts`, a child process run
 * with `--v8-flags=--expose-gc` so figures are taken after a full GC).
 *
 * - 10,000 connect/close cycles against a local listener on the stand-in;
 * - 1,000 subscribe/unsubscribe cycles of every observable (events$, online$,
 *   networks$, network$(id), peers$, peer$(), peer$(id), address$, store$,
 *   connection$, plus toReadable and fromReadable).
 *
 * Tolerances:
 * - sockets (rxzt's and the stand-in's) and subscribers of every subject the
 *   node holds: exactly equal before and after;
 * - heap (after GC, measured after a warm-up so JIT code and first-use
 *   allocations are in the baseline): growth below 1 MiB per phase, i.e.
 *   under ~100 bytes per connect cycle and ~85 bytes per subscription. A
 *   leaked connection (a TcpConn with its two streams, controllers and
 *   promises) costs well over 1 KB and a leaked subscriber with its closure
 *   over 100 bytes, so a per-cycle leak of either exceeds the bound; GC noise
 *   measured here is under 0.3 MiB. (Before the fix in dial.ts, each
 *   connect kept its timeout's timer and signal alive: ~630 bytes per cycle.)
 * - RSS is reported, not asserted: it includes allocator arenas of the
 *   threads that run libzt's blocking calls and plateaus (measured: +76 MB
 *   after 10,000 cycles, +80 MB after 20,000).
 *
 * `RXZT_RESOURCE_CONNECTS` / `RXZT_RESOURCE_SUBS` change the counts.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { type ReportedError, runScenario } from "./_helpers.ts";
import { standinPath } from "./_standin.ts";

interface Figures {
  heapUsed: number;
  external: number;
  rss: number;
  openSockets: number;
  hostSockets: number;
  subscribers: Record<string, number>;
  pendingEvents: number;
}

interface Out {
  connects: number;
  subs: number;
  gcAvailable: boolean;
  connectSettled: boolean;
  connect: { before: Figures; after: Figures; failures: number; ms: number; served: number };
  subscribe: {
    before: Figures;
    after: Figures;
    observables: string[];
    replayed: number;
    ms: number;
  };
  hostSocketsAtEnd: number;
  unexpected?: ReportedError;
}

const CONNECTS = Number(Deno.env.get("RXZT_RESOURCE_CONNECTS") ?? 10_000);
const SUBS = Number(Deno.env.get("RXZT_RESOURCE_SUBS") ?? 1_000);
const HEAP_BOUND = 1024 * 1024;
const MB = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MB`;

function table(name: string, before: Figures, after: Figures): string {
  const row = (k: keyof Figures, fmt: (v: number) => string = String) =>
    `  ${k.padEnd(12)} ${fmt(before[k] as number).padStart(10)} -> ${
      fmt(after[k] as number).padStart(10)
    }`;
  return [
    `${name}:`,
    row("heapUsed", MB),
    row("external", MB),
    row("rss", MB),
    row("openSockets"),
    row("hostSockets"),
    `  subscribers  ${JSON.stringify(before.subscribers)} -> ${JSON.stringify(after.subscribers)}`,
  ].join("\n");
}

describe("resources stay flat", () => {
  let out: Out;

  before(async () => {
    const run = await runScenario<Out>(
      "./_scenario_resources.ts",
      [standinPath(), String(CONNECTS), String(SUBS)],
      { limitMs: 120_000, denoFlags: ["--v8-flags=--expose-gc"] },
    );
    assert.ok(run.json, `no JSON.\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    out = run.json;
    assert.equal(
      out.unexpected,
      undefined,
      `scenario error: ${JSON.stringify(out)}\n${run.stderr}`,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(out.gcAvailable, true, "figures are taken after a full GC");
    console.log(
      `${CONNECTS} connect/close cycles in ${out.connect.ms} ms\n${
        table("connect/close", out.connect.before, out.connect.after)
      }\n${SUBS} subscribe/unsubscribe cycles of ${out.subscribe.observables.length} observables in ${out.subscribe.ms} ms\n${
        table("subscribe/unsubscribe", out.subscribe.before, out.subscribe.after)
      }`,
    );
  });

  test(`${CONNECTS} connect/close cycles: sockets and subscribers exactly flat, heap within 1 MiB`, () => {
    const { before: b, after: a, failures, served } = out.connect;
    assert.equal(failures, 0);
    assert.ok(served >= CONNECTS, `the listener served every connection (${served})`);
    assert.equal(out.connectSettled, true, "sockets went back to the listener alone");
    assert.equal(a.openSockets, b.openSockets);
    assert.equal(a.hostSockets, b.hostSockets);
    assert.deepEqual(a.subscribers, b.subscribers);
    assert.equal(a.pendingEvents, 0);
    assert.ok(a.heapUsed - b.heapUsed < HEAP_BOUND, `heap grew ${MB(a.heapUsed - b.heapUsed)}`);
  });

  test(`${SUBS} subscribe/unsubscribe cycles of every observable: no subscriber left, heap within 1 MiB`, () => {
    const { before: b, after: a } = out.subscribe;
    assert.ok(out.subscribe.replayed > 0, "the replaying observables replayed");
    assert.deepEqual(a.subscribers, b.subscribers);
    assert.equal(a.openSockets, b.openSockets);
    assert.equal(a.hostSockets, b.hostSockets);
    assert.ok(a.heapUsed - b.heapUsed < HEAP_BOUND, `heap grew ${MB(a.heapUsed - b.heapUsed)}`);
  });

  test("after stop() the stand-in has no socket left", () => {
    assert.equal(out.hostSocketsAtEnd, 0);
  });
});
