/**
 * Tier-2 resource scenario (run by resources_test.ts in a child process with
 * `--v8-flags=--expose-gc`). On the stand-in: `connects` connect/close cycles
 * against a local listener, then `subs` subscribe/unsubscribe cycles of every
 * observable. Before and after each phase (after a warm-up, and after a full
 * GC) it records heap use, RSS, `node.openSockets`, the stand-in's host
 * sockets and the subscribers of every subject the node holds.
 *
 * Usage: deno run -A --v8-flags=--expose-gc _scenario_resources.ts <standinPath> <connects> <subs>
 * Prints ONE JSON object; exits by itself.
 */
import type { Observable, Subscription } from "rxjs";
import { adhocIPv4NetworkId, fromReadable, toReadable, ZeroTierNode } from "../../mod.ts";
import { nodeInternals } from "../../src/node/internals.ts";
import { reportError, sleep } from "./_helpers.ts";

const [libraryPath, connectsText, subsText] = Deno.args;
const connects = Number(connectsText);
const subs = Number(subsText);
const out: Record<string, unknown> = { connects, subs };

const standin = Deno.dlopen(
  libraryPath,
  {
    standin_open_sockets: { parameters: [], result: "i32" },
    standin_emit: { parameters: ["i32", "u64"], result: "void" },
    standin_peer_sequence: { parameters: ["u64", "i32"], result: "void" },
  } as const,
);
const hostSockets = (): number => standin.symbols.standin_open_sockets();
const gc = (globalThis as { gc?: () => void }).gc;
out.gcAvailable = typeof gc === "function";

interface Figures {
  heapUsed: number;
  external: number;
  rss: number;
  openSockets: number;
  hostSockets: number;
  subscribers: Record<string, number>;
  pendingEvents: number;
}

async function figures(node: ZeroTierNode, base: number): Promise<Figures> {
  // Let deferred closes and queued events finish, then collect garbage twice (weak refs, finalizers).
  await sleep(50);
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(10);
  }
  const m = Deno.memoryUsage();
  const internals = nodeInternals(node);
  return {
    heapUsed: m.heapUsed,
    external: m.external,
    rss: m.rss,
    openSockets: node.openSockets,
    hostSockets: hostSockets() - base,
    subscribers: { ...internals.subscribers },
    pendingEvents: internals.pendingEvents,
  };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

async function connectCycles(node: ZeroTierNode, port: number, n: number): Promise<number> {
  let failures = 0;
  for (let i = 0; i < n; i++) {
    try {
      const conn = await node.connect({ hostname: "127.0.0.1", port, timeout: 5000 });
      conn.close();
    } catch {
      failures++;
    }
  }
  return failures;
}

let node: ZeroTierNode | undefined;
const base = hostSockets();
try {
  node = await ZeroTierNode.start({ libraryPath, timeout: 5000 });
  const n = node;
  await n.waitUntilOnline({ timeout: 3000 });
  const netId = adhocIPv4NetworkId(10);
  await n.join(netId, { timeout: 3000 });
  const listener = n.listen({ hostname: "127.0.0.1", port: 0, backlog: 1024 });
  let served = 0;
  const serving = (async () => {
    for await (const c of listener) {
      served++;
      c.close();
    }
  })();
  const port = listener.addr.port;
  const settled = () => n.openSockets === 1 && hostSockets() - base === 1;

  // Connect/close cycles, after a warm-up (JIT, pools, first-use allocations).
  await connectCycles(n, port, Math.min(500, connects));
  await until(settled, 5000);
  const connectBefore = await figures(n, base);
  const t0 = performance.now();
  const connectFailures = await connectCycles(n, port, connects);
  const connectMs = performance.now() - t0;
  out.connectSettled = await until(settled, 5000);
  const connectAfter = await figures(n, base);
  out.connect = {
    before: connectBefore,
    after: connectAfter,
    failures: connectFailures,
    ms: Math.round(connectMs),
    perCycleMs: connectMs / connects,
    served,
  };

  // Subscribe/unsubscribe cycles of every observable; make every one replay something.
  const peerId = 0x7e57000002n;
  standin.symbols.standin_emit(219, BigInt(`0x${netId}`));
  standin.symbols.standin_peer_sequence(peerId, 0);
  await sleep(100);
  const observables: [string, () => Observable<unknown>][] = [
    ["events$", () => n.events$],
    ["online$", () => n.online$],
    ["networks$", () => n.networks$],
    ["network$(id)", () => n.network$(netId)],
    ["peers$", () => n.peers$],
    ["peer$()", () => n.peer$()],
    ["peer$(id)", () => n.peer$(peerId)],
    ["address$", () => n.address$],
    ["store$", () => n.store$],
    ["connection$", () => listener.connection$],
  ];
  const run = (rounds: number) => {
    let values = 0;
    for (const [, make] of observables) {
      for (let i = 0; i < rounds; i++) {
        const s: Subscription = make().subscribe(() => values++);
        s.unsubscribe();
      }
    }
    return values;
  };
  run(Math.min(100, subs)); // warm-up
  // toReadable/fromReadable hold a subscription or a reader: one round each per cycle too.
  const streamRound = async () => {
    const r = toReadable(n.online$);
    const reader = r.getReader();
    await reader.read();
    await reader.cancel();
    const s = fromReadable(new ReadableStream({ start: (c) => c.enqueue(1) })).subscribe();
    s.unsubscribe();
  };
  const subsBefore = await figures(n, base);
  const t1 = performance.now();
  const replayed = run(subs);
  for (let i = 0; i < subs; i++) await streamRound();
  const subsMs = performance.now() - t1;
  const subsAfter = await figures(n, base);
  out.subscribe = {
    observables: observables.map(([name]) => name).concat(["toReadable", "fromReadable"]),
    before: subsBefore,
    after: subsAfter,
    replayed,
    ms: Math.round(subsMs),
  };

  listener.close();
  await serving;
} catch (err) {
  out.unexpected = reportError(err);
  out.unexpectedStack = (err as Error)?.stack;
  Deno.exitCode = 1;
}
await node?.stop();
await until(() => hostSockets() === base, 3000);
out.hostSocketsAtEnd = hostSockets() - base;
console.log(JSON.stringify(out));
