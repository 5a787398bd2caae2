/**
 * `deno task bench`: rxzt against libzt's own C API on a self-hosted ZeroTier
 * network (network namespaces joined by a bridge, one root, two leaves; see
 * tests/_net/netns.ts).
 *
 * 1. C baseline: bench/zt_bench.c, built here against the user's libzt; its
 *    server runs in leaf B's namespace, its client in leaf A's.
 * 2. rxzt, one stream: the same transfers between two agent processes
 *    (tests/_net/agent.ts) in the same namespaces. The C and rxzt nodes run
 *    side by side and the measured transfers of 1 and 2 alternate (see
 *    runBench for why).
 * 3. rxzt, parallel streams.
 * 4. Event delay: from rxzt's event callback to an `events$` subscriber.
 * 5. rxzt on Node (the npm package, koffi): the same single-stream runs
 *    between two Node agents, interleaved with those of 1 and 2
 *    (bench/node.ts; BENCH_NODE=0 skips it).
 *
 * Each side starts fresh nodes, makes one unmeasured warm-up transfer, then
 * BENCH_RUNS measured ones (a new connection each); the table shows medians.
 * Why: libzt's TCP (lwIP) loses segments now and then inside libzt and
 * recovers by retransmission timeout, a stall of about 1.5 s (2.7 s on a
 * fresh path) whatever the binding; one run of a few seconds measures mostly
 * how many stalls it hit.
 *
 * Needs LIBZT_PATH, root, iproute2, nftables and a C compiler; without the
 * first two it prints one line saying why and exits 0.
 *
 * Environment: BENCH_BYTES (per single-stream run, default 200000000),
 * BENCH_RUNS (default 5), BENCH_WARMUP_BYTES (default 20000000; 0: none),
 * BENCH_STREAMS (default 100), BENCH_STREAM_BYTES (per parallel stream,
 * default 10000000), LIBZT_INCLUDE (directory of ZeroTierSockets.h; default
 * <lib dir>/../include), BENCH_DENO_FLAGS (extra flags for the agent
 * processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"),
 * BENCH_SEND_PACING (rxzt senders, Deno and Node: unset leaves rxzt's default
 * (off), 1 turns it on at its default rate, another number sets its rate in
 * bytes/s; see TcpConn.setSendPacing),
 * BENCH_RECEIVE_THREAD (the Deno agents' `receiveThread` start option: 0 for
 * false, or JSON such as {"wakeWithinMs":5}; default: rxzt's default),
 * BENCH_COMPARE (more receivers, each an rxzt node of its own in leaf B that
 * the C client feeds in the same rounds: a comma-separated list of `direct`
 * (receiveThread false) and `thread[:wakeWithinMs[:wakeAfterBytes]]`, each
 * optionally with `+sha` for a consumer that hashes every chunk and `@<MiB>`
 * for the connections' readBufferSize),
 * BENCH_SIDES (run only these sides, comma-separated: C, rxzt, rxzt->C,
 * C->rxzt, C->sha, C-><BENCH_COMPARE spec>, Node; default all),
 * ZT_BENCH_BLOCKING_SEND=1 (the C client sends with blocking calls; see
 * bench/zt_bench.c).
 *
 * Besides C -> C and rxzt -> rxzt, every run has rxzt sending to the C
 * receiver and C sending to the rxzt receiver (which end a difference comes
 * from), and C sending to an rxzt receiver whose consumer awaits the SHA-256
 * of every chunk (an app that does work per chunk).
 */
import { adhocIPv4Address, adhocIPv4NetworkId } from "../mod.ts";
import { envNumber, libztOrExit } from "./_env.ts";
import { createTestNetwork, type Host, type TestNetwork } from "../tests/_net/netns.ts";
import { Agent, withTimeout } from "../tests/_net/agent_client.ts";
import { buildCPeer, CProcess } from "../tests/_net/c_peer.ts";
import { cpuOf, receiveInto } from "./_receive.ts";
import {
  nodeBenchSkip,
  nodeBenchThreadpool,
  type NodeRun,
  type NodeSide,
  startNodeSide,
} from "./node.ts";

const ZT_PORT = 9993;
const C_PORT = 7100;
const RXZT_PORT = 7200;

const libzt = await libztOrExit("bench");
const envInt = (name: string, fallback: number) => envNumber(name, fallback, true);

const BYTES = envInt("BENCH_BYTES", 200_000_000);
const RUNS = envInt("BENCH_RUNS", 5);
const WARMUP = Deno.env.get("BENCH_WARMUP_BYTES") === "0"
  ? 0
  : envInt("BENCH_WARMUP_BYTES", 20_000_000);
const STREAMS = envInt("BENCH_STREAMS", 100);
const STREAM_BYTES = envInt("BENCH_STREAM_BYTES", 10_000_000);
/** The `receiveThread` start option of a receiver design (see BENCH_COMPARE). */
function receiveDesign(spec: string): boolean | { wakeWithinMs?: number; wakeAfterBytes?: number } {
  spec = spec.replace(/@\d+$/, "").replace(/\+sha$/, "");
  if (spec === "direct") return false;
  const [kind, ms, bytes] = spec.split(":");
  if (kind !== "thread") {
    throw new Error(`BENCH_COMPARE: unknown receiver ${spec} (direct, thread[:ms[:bytes]])`);
  }
  return {
    ...(ms ? { wakeWithinMs: Number(ms) } : {}),
    ...(bytes ? { wakeAfterBytes: Number(bytes) } : {}),
  };
}
const RECEIVE_THREAD: unknown = Deno.env.get("BENCH_RECEIVE_THREAD") === undefined
  ? undefined
  : Deno.env.get("BENCH_RECEIVE_THREAD") === "0"
  ? false
  : JSON.parse(Deno.env.get("BENCH_RECEIVE_THREAD")!);
const ONLY = Deno.env.get("BENCH_SIDES")?.split(",").filter(Boolean);
const COMPARE = (Deno.env.get("BENCH_COMPARE") ?? "").split(",").filter(Boolean).map((spec) => ({
  spec,
  receiveThread: receiveDesign(spec),
}));
/** false: send pacing off; a number: its rate (bytes/s); true: the default rate. */
/** undefined: rxzt's default; false: off; true: on at the default rate; a number: that rate (bytes/s). */
const PACING: boolean | number | undefined = Deno.env.get("BENCH_SEND_PACING") === undefined
  ? undefined
  : Deno.env.get("BENCH_SEND_PACING") === "0"
  ? false
  : Deno.env.get("BENCH_SEND_PACING") === "1" || envInt("BENCH_SEND_PACING", 0);
const DENO_FLAGS = (Deno.env.get("BENCH_DENO_FLAGS") ?? "").split(/\s+/).filter(Boolean);

/** What a receiver saw (absent where it is not counted: over parallel streams). */
interface ReceiverStats {
  /** Gaps of 250 ms or more between reads (stalls), and their total (s). */
  stalls?: number;
  stalled?: number;
  /** Shorter gaps between reads (2-10 ms, 10-250 ms), and where stalls began (MB). */
  gaps2?: number;
  gaps10?: number;
  stallAt?: number[];
  /** What the receiving node's I/O thread did over the transfer (rxzt receivers with one). */
  io?: { polls: number; receives: number; wakes: number; sleeps: number };
}

/** One end's report of a transfer. */
interface Transfer extends ReceiverStats {
  bytes: number;
  seconds: number;
  cpu: number;
  direct: boolean;
}

/** One measured transfer: both ends' CPU seconds over it. */
interface Run extends ReceiverStats {
  mbps: number;
  cpuClient: number;
  cpuServer: number;
  direct: boolean;
}

interface Results {
  c: Run[];
  rxzt: Run[];
  /** rxzt sending to the C receiver, and C sending to the rxzt receiver (plain, and SHA-256 per chunk). */
  rxztToC: Run[];
  cToRxzt: Run[];
  cToRxztSha256: Run[];
  /** BENCH_COMPARE: C sending to other rxzt receiver designs. */
  compare: { spec: string; runs: Run[] }[];
  /** Kernel UDP drops in the leaves' namespaces over each side's single-stream runs. */
  udp: { c: string; rxzt: string };
  /** rxzt on Node (koffi), or why it did not run. */
  node: NodeRun[] | string;
  parallel: Run & { streams: number; bytesEach: number };
  events: {
    count: number;
    median: number;
    p99: number;
    max: number;
    perAgent: Record<string, number>;
    slowest: string[];
  };
  /** HTTP (node.serve on A, node.fetch on B; see httpBench), or why it did not run. */
  http: HttpFigures | string;
}

/** One 50 MB HTTP response body against one raw 50 MB stream (A -> B), and keep-alive requests/s. */
interface HttpFigures {
  httpMbps: number;
  streamMbps: number;
  requestsPerSecond: number;
  loopbackRequestsPerSecond: number;
}

const HTTP_BYTES = 50 * 1024 * 1024;
const HTTP_SECONDS = envInt("BENCH_HTTP_SECONDS", 10);

/**
 * node:http over loopback TCP in this process (a plain http.Server and a
 * keep-alive http.Agent, no web conversion): 1 KB responses in turn for
 * `seconds`, the reference for rxzt's keep-alive requests/s.
 */
async function loopbackRequestsPerSecond(seconds: number): Promise<number> {
  const http = await import("node:http");
  const body = new Uint8Array(1024);
  const server = http.createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const once = () =>
    new Promise<void>((resolve, reject) => {
      http.get({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
        res.on("data", () => {});
        res.on("end", resolve);
      }).on("error", reject);
    });
  await once();
  const until = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < until) {
    await once();
    n++;
  }
  agent.destroy();
  server.close();
  return n / seconds;
}

/**
 * (f) HTTP over the same pair: leaf A serves (node.serve), leaf B fetches one
 * 50 MB response body (a fixed buffer, counted, not hashed, as the raw sink
 * does), against one raw 50 MB stream A -> B (benchSend into B's sink); then
 * keep-alive requests of 1 KB in turn for BENCH_HTTP_SECONDS (default 10).
 */
async function httpBench(
  a: Agent,
  b: Agent,
  addressA: string,
  addressB: string,
): Promise<HttpFigures> {
  const port = RXZT_PORT + 5;
  await a.call("httpServe", { port });
  const base = `http://${addressA}:${port}`;
  // Warm-up: the path and a pooled connection.
  await b.call("httpFetchDownload", { url: `${base}/download?bytes=1048576&fixed=1`, count: true });
  const stream = await a.call<Transfer>("benchSend", {
    hostname: addressB,
    port: RXZT_PORT,
    bytes: HTTP_BYTES,
    pacing: PACING,
  }, 600_000);
  const download = await b.call<{ bytes: number; seconds: number }>("httpFetchDownload", {
    url: `${base}/download?bytes=${HTTP_BYTES}&fixed=1`,
    count: true,
  }, 600_000);
  if (download.bytes !== HTTP_BYTES) {
    throw new Error(`HTTP download of ${download.bytes} bytes, expected ${HTTP_BYTES}`);
  }
  const rps = await b.call<{ perSecond: number }>("httpRequestsPerSecond", {
    url: `${base}/small?bytes=1024`,
    seconds: HTTP_SECONDS,
  }, (HTTP_SECONDS + 60) * 1000);
  return {
    httpMbps: HTTP_BYTES / 1e6 / download.seconds,
    streamMbps: stream.bytes / 1e6 / stream.seconds,
    requestsPerSecond: rps.perSecond,
    loopbackRequestsPerSecond: await loopbackRequestsPerSecond(HTTP_SECONDS),
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const describe = (r: Run) =>
  `${r.mbps.toFixed(1)} MB/s, CPU client ${r.cpuClient.toFixed(2)} s + server ${
    r.cpuServer.toFixed(2)
  } s, receiver stalls ${r.stalls ?? "?"} (${(r.stalled ?? NaN).toFixed(1)} s${
    r.stallAt?.length ? ` at ${r.stallAt.join(", ")} MB` : ""
  }), read gaps 2-10 ms ${r.gaps2 ?? "?"}, 10-250 ms ${r.gaps10 ?? "?"}` +
  (r.io
    ? `; I/O thread ${r.io.polls} polls, ${r.io.receives} receives, ${r.io.wakes} wake-ups`
    : "");

/** The kernel's UDP counters in a host's namespace (ZeroTier's own traffic is UDP). */
interface UdpCounters {
  InDatagrams: number;
  InErrors: number;
  RcvbufErrors: number;
  SndbufErrors: number;
}

async function udpCounters(net: TestNetwork, host: Host): Promise<UdpCounters> {
  const text = await net.exec(host, ["cat", "/proc/net/snmp"]);
  const [names, values] = text.split("\n").filter((l) => l.startsWith("Udp:")).map((l) =>
    l.split(/\s+/).slice(1)
  );
  const get = (k: string) => Number(values?.[names?.indexOf(k) ?? -1] ?? NaN);
  return {
    InDatagrams: get("InDatagrams"),
    InErrors: get("InErrors"),
    RcvbufErrors: get("RcvbufErrors"),
    SndbufErrors: get("SndbufErrors"),
  };
}

/** What the kernel dropped in both leaves' namespaces between two readings. */
const zeroUdp = (): UdpCounters => ({
  InDatagrams: 0,
  InErrors: 0,
  RcvbufErrors: 0,
  SndbufErrors: 0,
});

/** Adds the change from `before` to `after` into `total`. */
function addUdp(total: UdpCounters, after: UdpCounters, before: UdpCounters): void {
  for (const k of Object.keys(total) as (keyof UdpCounters)[]) total[k] += after[k] - before[k];
}

/** Leaf A's and leaf B's UDP counter totals, as a line. */
function udpDrops(totals: UdpCounters[]): string {
  return totals.map((d, i) =>
    `${i === 0 ? "A" : "B"}: ${d.InDatagrams} in, ${d.RcvbufErrors} receive-buffer drops, ` +
    `${d.InErrors} in-errors, ${d.SndbufErrors} send-buffer drops`
  ).join("; ");
}

/** Receiver stalls over all runs of one side: count, seconds, and per GB received. */
function stallSummary(runs: Run[]): string {
  const n = runs.reduce((sum, r) => sum + (r.stalls ?? 0), 0);
  const secs = runs.reduce((sum, r) => sum + (r.stalled ?? 0), 0);
  const gb = (runs.length * BYTES) / 1e9;
  return `${n} stalls, ${secs.toFixed(1)} s stalled (${(n / gb).toFixed(1)} per GB)`;
}

async function runBench(): Promise<Results> {
  let net: TestNetwork | undefined;
  const agents: Agent[] = [];
  const cprocs: CProcess[] = [];
  const tmp = await Deno.makeTempDir({ prefix: "rxzt-bench-" });
  try {
    console.error(`building the C baseline against ${libzt} ...`);
    const bin = await buildCPeer(libzt!, tmp);

    net = await createTestNetwork(3);
    const [rootHost, hostA, hostB] = net.hosts;
    const root = new Agent("root", rootHost, { denoFlags: DENO_FLAGS });
    const rxztStart = RECEIVE_THREAD === undefined ? {} : { receiveThread: RECEIVE_THREAD };
    agents.push(root);
    const { secret, roots } = await root.call<{ secret: string; roots: string }>("makePlanet", {
      endpoint: `${rootHost.address}/${ZT_PORT}`,
    });
    const { nodeId: rootId } = await root.call<{ nodeId: string }>("benchStart", {
      identity: secret,
      roots,
      port: ZT_PORT,
    });
    await root.call("waitOnline", { timeout: 45_000 }, 50_000);
    const planetPath = `${tmp}/planet.bin`;
    await Deno.writeFile(planetPath, Uint8Array.from(atob(roots), (ch) => ch.charCodeAt(0)));
    const network = adhocIPv4NetworkId(10, rootId);

    // (a), (b) and (e), interleaved: the C nodes (on ZT_PORT + 1), the rxzt agents (on ZT_PORT)
    // and the Node agents (on ZT_PORT + 2) run side by side in the same namespaces for the
    // whole comparison, and the measured transfers take turns, each round starting with the
    // next side. Why: stall rates drift over minutes (one side hit 3 to 20 stalls per 6 runs
    // in runs of the same code), so sides measured one after the other were judged partly by
    // the clock.
    console.error(
      `C, rxzt and rxzt on Node (unless skipped), interleaved: ${RUNS} x ${BYTES} bytes each (after ${WARMUP} warm-up), leaf A -> leaf B ...`,
    );
    const cEnv = { ZT_BENCH_PORT: String(ZT_PORT + 1) };
    const server = new CProcess("zt_bench server", hostB, bin, [
      planetPath,
      network,
      "server",
      String(C_PORT),
      // Connections it takes: C's and rxzt's runs (and the paced rxzt ones, when asked for).
      String(RUNS * (ONLY?.includes("rxzt->C-paced") ? 3 : 2) + (WARMUP > 0 ? 1 : 0)),
    ], cEnv);
    cprocs.push(server);
    const a = new Agent("leafA", hostA, { denoFlags: DENO_FLAGS });
    const b = new Agent("leafB", hostB, { denoFlags: DENO_FLAGS });
    // BENCH_COMPARE: receivers of other designs, each a node of its own in leaf B.
    const others = COMPARE.map((d, i) => ({
      ...d,
      agent: new Agent(`leafB-${d.spec}`, hostB, { denoFlags: DENO_FLAGS }),
      ztPort: ZT_PORT + 10 + i,
      port: RXZT_PORT + 10 + i,
      runs: [] as Run[],
    }));
    agents.push(a, b, ...others.map((o) => o.agent));
    const [ready, { nodeId: idA }, { nodeId: idB }, ...otherIds] = await Promise.all([
      server.next<{ address: string; nodeId: string }>(60_000),
      a.call<{ nodeId: string }>("benchStart", { roots, port: ZT_PORT, ...rxztStart }),
      b.call<{ nodeId: string }>("benchStart", { roots, port: ZT_PORT, ...rxztStart }),
      ...others.map((o) =>
        o.agent.call<{ nodeId: string }>("benchStart", {
          roots,
          port: o.ztPort,
          receiveThread: o.receiveThread,
        })
      ),
    ]);
    const client = new CProcess("zt_bench client", hostA, bin, [
      planetPath,
      network,
      "client",
      ready.address,
      String(C_PORT),
      String(BYTES),
      // One run per round of each side it sends for.
      String(
        RUNS * [
          "C",
          "C->rxzt",
          "C->sha",
          "C->Node",
          ...others.map((o) => `C->${o.spec}`),
        ].filter((n) => ONLY ? ONLY.includes(n) : n !== "C->Node").length,
      ),
      String(WARMUP),
    ], { ...cEnv, ZT_BENCH_STEP: "1" });
    cprocs.push(client);
    const rxztAgents = [a, b, ...others.map((o) => o.agent)];
    await Promise.all(rxztAgents.map((x) => x.call("waitOnline", { timeout: 45_000 }, 50_000)));
    await Promise.all(
      rxztAgents.map((x) => x.call("join", { network, family: "IPv4", timeout: 45_000 }, 50_000)),
    );
    await b.call("benchSink", { port: RXZT_PORT });
    await b.call("benchSink", { port: RXZT_PORT + 2, consumer: "sha256" });
    for (const o of others) {
      const mib = /@(\d+)$/.exec(o.spec)?.[1];
      await o.agent.call("benchSink", {
        port: o.port,
        ...(/\+sha(@\d+)?$/.test(o.spec) ? { consumer: "sha256" } : {}),
        ...(mib ? { readBufferSize: Number(mib) * 1024 * 1024 } : {}),
      });
    }
    const hostname = adhocIPv4Address(network, idB);
    await client.next(600_000); // {"ready":true}, after its warm-up
    if (WARMUP > 0) {
      await server.next<Transfer>(30_000);
      await a.call<Transfer>("benchSend", { hostname, port: RXZT_PORT, bytes: WARMUP }, 600_000);
      await b.call("benchSinkStats");
    }

    // rxzt on Node (koffi), when it can run: a third pair of nodes on their own ZeroTier port.
    let node: NodeRun[] | string = ONLY && !ONLY.includes("Node")
      ? "BENCH_SIDES leaves it out"
      : nodeBenchSkip() ?? [];
    let nodeSide: NodeSide | undefined;
    if (typeof node !== "string") {
      nodeSide = await startNodeSide({
        namespaces: [hostA.ns, hostB.ns],
        libzt: libzt!,
        roots,
        ztPort: ZT_PORT + 2,
        network,
        address: (id) => adhocIPv4Address(network, id),
        port: RXZT_PORT + 1,
        bytes: BYTES,
        warmup: WARMUP,
        pacing: PACING,
      }).catch((err) => {
        node = `failed: ${(err as Error).message}`; // keep the C and Deno figures
        return undefined;
      });
    }

    const udpTotals = { c: [zeroUdp(), zeroUdp()], rxzt: [zeroUdp(), zeroUdp()] };
    /** Runs `transfer` and adds the leaves' UDP counter changes over it to `side`'s totals. */
    const counted = async <T>(side: "c" | "rxzt", transfer: () => Promise<T>): Promise<T> => {
      const before = await Promise.all([hostA, hostB].map((h) => udpCounters(net!, h)));
      const result = await transfer();
      const after = await Promise.all([hostA, hostB].map((h) => udpCounters(net!, h)));
      after.forEach((x, i) => addUdp(udpTotals[side][i], x, before[i]));
      return result;
    };
    /** One transfer into the C server; `send` makes it and resolves with the sender's figures. */
    const intoC = async (send: () => Promise<Transfer>): Promise<Run> => {
      const sent = await send();
      const received = await server.next<Transfer>(30_000);
      if (sent.bytes !== BYTES || received.bytes !== BYTES) {
        throw new Error(`transfer to C incomplete: ${JSON.stringify({ sent, received })}`);
      }
      return {
        ...received,
        mbps: sent.bytes / 1e6 / sent.seconds,
        cpuClient: sent.cpu,
        cpuServer: received.cpu,
        direct: sent.direct,
      };
    };
    /** One transfer into an rxzt sink (both kinds of sender check the sink's count). */
    const intoRxzt = (send: () => Promise<Transfer>, sinkAgent = b): Promise<Run> =>
      receiveInto<Transfer>(sinkAgent, send, BYTES);
    /** A C client's next transfer, to its own destination or to `to` ("<ip> <port>"). */
    const fromC = (proc: CProcess, to?: string) => async () => {
      await proc.send(to ? `go ${to}` : "go");
      return await proc.next<Transfer>(600_000);
    };
    const fromRxzt = (to: string, port: number) => () =>
      a.call<Transfer>("benchSend", { hostname: to, port, bytes: BYTES, pacing: PACING }, 600_000);
    const cRun = () => counted("c", () => intoC(fromC(client)));
    const rxztRun = () => counted("rxzt", () => intoRxzt(fromRxzt(hostname, RXZT_PORT)));
    const c: Run[] = [];
    const rxzt: Run[] = [];
    const sides: { name: string; run: () => Promise<Run>; runs: Run[] }[] = [
      { name: "C", run: cRun, runs: c },
      { name: "rxzt", run: rxztRun, runs: rxzt },
    ];
    // rxzt (A) to the C server (B), and the same C client (A) to the rxzt sinks of B (plain,
    // SHA-256 per chunk, and BENCH_COMPARE's designs): which end a difference comes from, and
    // what work per chunk costs. One C sender for every C side, so that no side differs from
    // another by its sender node or the ZeroTier path from it.
    const rxztToC: Run[] = [];
    const cToRxzt: Run[] = [];
    const cToRxztSha256: Run[] = [];
    sides.push(
      { name: "rxzt->C", run: () => intoC(fromRxzt(ready.address, C_PORT)), runs: rxztToC },
      {
        name: "C->rxzt",
        run: () => intoRxzt(fromC(client, `${hostname} ${RXZT_PORT}`)),
        runs: cToRxzt,
      },
      {
        name: "C->sha",
        run: () => intoRxzt(fromC(client, `${hostname} ${RXZT_PORT + 2}`)),
        runs: cToRxztSha256,
      },
    );
    others.forEach((o, i) => {
      const to = `${adhocIPv4Address(network, otherIds[i].nodeId)} ${o.port}`;
      sides.push({
        name: `C->${o.spec}`,
        run: () => intoRxzt(fromC(client, to), o.agent),
        runs: o.runs,
      });
    });
    // Only when BENCH_SIDES names them: the rxzt senders paced at the default rate, beside the others.
    const paced = (to: string, port: number) => () =>
      a.call<Transfer>("benchSend", { hostname: to, port, bytes: BYTES, pacing: true }, 600_000);
    const extra = [
      { name: "rxzt-paced", run: () => intoRxzt(paced(hostname, RXZT_PORT)), runs: [] as Run[] },
      { name: "rxzt->C-paced", run: () => intoC(paced(ready.address, C_PORT)), runs: [] as Run[] },
    ].filter((x) => ONLY?.includes(x.name));
    sides.push(...extra);
    if (nodeSide && typeof node !== "string") {
      sides.push({ name: "Node", run: nodeSide.run, runs: node });
    }
    // Only when BENCH_SIDES names it: the C client into the Node sink (the runtimes' receivers, one sender).
    const cToNode: Run[] = [];
    if (nodeSide && ONLY?.includes("C->Node")) {
      const ns = nodeSide;
      sides.push({ name: "C->Node", run: () => ns.receive(fromC(client, ns.sink)), runs: cToNode });
    }
    if (ONLY) sides.splice(0, sides.length, ...sides.filter((x) => ONLY.includes(x.name)));
    for (let i = 0; i < RUNS; i++) {
      // Each round starts with the next side, so each goes first equally often.
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(i + k) % sides.length];
        const run = await side.run().catch(async (err) => {
          if (side.name !== "Node") throw err;
          node = `failed in round ${i + 1}: ${(err as Error).message}`; // keep the C and Deno figures
          sides.splice(sides.indexOf(side), 1);
          await nodeSide?.stop();
          return undefined;
        });
        if (!run) break;
        side.runs.push(run);
        console.error(`  round ${i + 1}, ${side.name.padEnd(7)}: ${describe(run)}`);
      }
    }
    await nodeSide?.stop();
    await Promise.all(
      [client.exited, server.exited].map((p) =>
        withTimeout(p, 10_000, "zt_bench exit").catch(() => {})
      ),
    );
    const udp = { c: udpDrops(udpTotals.c), rxzt: udpDrops(udpTotals.rxzt) };

    // (c) rxzt, parallel streams.
    console.error(`rxzt: ${STREAMS} parallel streams of ${STREAM_BYTES} bytes ...`);
    const par0 = cpuOf(await b.call("cpu"));
    // A parallel run that takes far longer than it should shows both ends' I/O threads.
    const watchdog = setTimeout(async () => {
      for (const x of [a, b]) {
        const state = await x.call("ioState").catch((err) => (err as Error).message);
        console.error(
          `parallel streams still running after 120 s; ${x.name} I/O thread: ${
            JSON.stringify(state)
          }`,
        );
      }
    }, 120_000);
    const par = await a.call<Transfer>(
      "benchSendParallel",
      { hostname, port: RXZT_PORT, streams: STREAMS, bytesEach: STREAM_BYTES },
      900_000,
    ).finally(() => clearTimeout(watchdog));
    const par1 = cpuOf(await b.call("cpu"));
    const parallel = {
      mbps: par.bytes / 1e6 / par.seconds,
      cpuClient: par.cpu,
      cpuServer: par1 - par0,
      direct: par.direct,
      streams: STREAMS,
      bytesEach: STREAM_BYTES,
    };
    console.error(`  ${describe(parallel)}`);

    // (f) HTTP over the same pair (before the event delays, which count every event of the run).
    console.error("HTTP: one 50 MB response vs one 50 MB stream, then keep-alive requests/s ...");
    const http = await httpBench(a, b, adhocIPv4Address(network, idA), hostname).catch((err) =>
      `failed: ${(err as Error).message}`
    );
    console.error(`  ${typeof http === "string" ? http : JSON.stringify(http)}`);

    // (d) event delays: every event of the run on every agent.
    const perAgent: Record<string, number> = {};
    const labelled: { ms: number; what: string }[] = [];
    for (const agent of [root, a, b]) {
      const r = await agent.call<{ delays: number[]; events: string[] }>("eventDelays");
      perAgent[agent.name] = r.delays.length;
      r.delays.forEach((ms, i) => labelled.push({ ms, what: `${agent.name} ${r.events[i]}` }));
    }
    labelled.sort((x, y) => x.ms - y.ms);
    const delays = labelled.map((x) => x.ms);
    const slowest = labelled.slice(-3).reverse().map((x) => `${x.what} ${x.ms.toFixed(3)} ms`);
    // Stopped so that --cpu-prof files get written; one that does not exit in time is killed.
    await Promise.all(rxztAgents.map((x) => x.stop().catch(() => {})));

    return {
      c,
      rxzt,
      rxztToC,
      cToRxzt,
      cToRxztSha256,
      compare: [
        ...others.map((o) => ({ spec: o.spec, runs: o.runs })),
        ...extra.map((x) => ({ spec: x.name, runs: x.runs })),
        ...(cToNode.length ? [{ spec: "C->Node", runs: cToNode }] : []),
      ],
      udp,
      node,
      parallel,
      events: {
        count: delays.length,
        median: percentile(delays, 50),
        p99: percentile(delays, 99),
        max: delays.at(-1) ?? NaN,
        perAgent,
        slowest,
      },
      http,
    };
  } finally {
    for (const p of cprocs) p.kill();
    for (const agent of agents) agent.kill();
    await net?.destroy();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

let r: Results;
try {
  r = await runBench();
} catch (err) {
  console.error(`bench failed: ${(err as Error).message}`);
  Deno.exit(1);
}
const cpuPerGb = (run: Run, bytes: number) => (run.cpuClient + run.cpuServer) / (bytes / 1e9);
const summary = (runs: Run[]) => ({
  mbps: median(runs.map((x) => x.mbps)),
  cpuPerGb: median(runs.map((x) => cpuPerGb(x, BYTES))),
  cpuClient: median(runs.map((x) => x.cpuClient)),
  cpuServer: median(runs.map((x) => x.cpuServer)),
  direct: runs.every((x) => x.direct),
  all: runs.map((x) => x.mbps.toFixed(0)).join(" / "),
});
const c = summary(r.c);
const rx = summary(r.rxzt);
const parCpuPerGb = cpuPerGb(r.parallel, r.parallel.streams * r.parallel.bytesEach);
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
const ratio = rx.mbps / c.mbps;
const cpuRatio = rx.cpuPerGb / c.cpuPerGb;

console.log();
console.log(
  `rxzt benchmark: leaf A -> leaf B over a self-hosted ZeroTier network (libzt ${libzt})`,
);
console.log(
  `single stream: ${RUNS} runs of ${BYTES} bytes after a ${WARMUP}-byte warm-up, medians shown; ` +
    "CPU = client + server process CPU over each transfer; " +
    `rxzt senders' send pacing ${
      PACING === undefined
        ? "as rxzt's default (off)"
        : PACING === true
        ? "on (the default rate)"
        : PACING
        ? `at ${PACING} bytes/s`
        : "off (BENCH_SEND_PACING=0)"
    }`,
);
console.log();
console.log(
  row(["", "MB/s", "CPU s/GB", "client CPU s", "server CPU s", "MB/s of each run", "direct path"]),
);
console.log(row(["---", "---:", "---:", "---:", "---:", "---", "---"]));
type Summary = ReturnType<typeof summary>;
/** A table row of one side's medians. */
const sideRow = (label: string, x: Summary, runs: string) =>
  row([
    label,
    f(x.mbps),
    f(x.cpuPerGb, 2),
    f(x.cpuClient, 2),
    f(x.cpuServer, 2),
    runs,
    String(x.direct),
  ]);
/** A table row of one side's medians divided by C's. */
const ratioRow = (label: string, x: Summary) =>
  row([
    label,
    f(x.mbps / c.mbps, 2),
    f(x.cpuPerGb / c.cpuPerGb, 2),
    f(x.cpuClient / c.cpuClient, 2),
    f(x.cpuServer / c.cpuServer, 2),
    "",
    "",
  ]);
console.log(sideRow("C (libzt API)", c, c.all));
console.log(sideRow("rxzt", rx, rx.all));
console.log(ratioRow("rxzt / C", rx));
const nd = typeof r.node === "string" ? undefined : summary(r.node);
if (nd) {
  console.log(
    sideRow(`rxzt on Node (koffi, UV_THREADPOOL_SIZE ${nodeBenchThreadpool()})`, nd, nd.all),
  );
  console.log(ratioRow("Node / C", nd));
}
const toC = summary(r.rxztToC), fromCSide = summary(r.cToRxzt), sha = summary(r.cToRxztSha256);
console.log(sideRow("rxzt sends, C receives", toC, toC.all));
console.log(sideRow("C sends, rxzt receives", fromCSide, fromCSide.all));
console.log(sideRow("C sends, rxzt receives, consumer SHA-256s each chunk", sha, sha.all));
for (const o of r.compare) {
  const x = summary(o.runs);
  console.log(
    sideRow(/paced|Node/.test(o.spec) ? o.spec : `C sends, rxzt receives (${o.spec})`, x, x.all),
  );
}
console.log(sideRow(
  `rxzt, ${r.parallel.streams} parallel streams x ${r.parallel.bytesEach} bytes`,
  { ...r.parallel, cpuPerGb: parCpuPerGb, all: "one run" },
  "one run",
));
console.log();
console.log(
  "receiver stalls (gaps of 250 ms or more between reads: libzt's TCP waiting out a " +
    `retransmission timeout): C ${stallSummary(r.c)}; rxzt ${stallSummary(r.rxzt)}` +
    (typeof r.node === "string" ? "" : `; Node ${stallSummary(r.node)}`) +
    `; rxzt to C ${stallSummary(r.rxztToC)}; C to rxzt ${stallSummary(r.cToRxzt)}; ` +
    `C to rxzt, SHA-256 consumer ${stallSummary(r.cToRxztSha256)}` +
    r.compare.map((o) => `; C to rxzt (${o.spec}) ${stallSummary(o.runs)}`).join(""),
);
console.log(
  `kernel UDP counters over the single-stream runs: C (${r.udp.c}); rxzt (${r.udp.rxzt})`,
);
console.log();
console.log(
  "event delay (rxzt's part only: from its libzt callback to an events$ subscriber; not the time an event " +
    `waits in libzt's queue): median ${f(r.events.median, 3)} ms, p99 ${f(r.events.p99, 3)} ms, ` +
    `max ${f(r.events.max, 3)} ms over ${r.events.count} events ` +
    `(${Object.entries(r.events.perAgent).map(([k, v]) => `${k} ${v}`).join(", ")}); ` +
    `slowest: ${r.events.slowest.join(", ")} (@ = ms after that node's start)`,
);
console.log(
  `targets: single stream >= 0.95 of C: ${ratio >= 0.95 ? "met" : "MISSED"}; ` +
    `CPU per GB <= 1.1 of C: ${cpuRatio <= 1.1 ? "met" : "MISSED"}; ` +
    `event delay p99 < 1 ms: ${r.events.p99 < 1 ? "met" : "MISSED"}`,
);
// Receiver stalls per GB, C -> rxzt over C -> C (a C side without a stall counts as one).
// NaN for a side that did not run (BENCH_SIDES), so that its ratios print as NaN, not 0.
const stallsPerGb = (runs: Run[], floor = 0) =>
  runs.length === 0 ? NaN : Math.max(floor, runs.reduce((sum, x) => sum + (x.stalls ?? 0), 0)) /
    ((runs.length * BYTES) / 1e9);
const stallRatio = stallsPerGb(r.cToRxzt) / stallsPerGb(r.c, 1);
const shaRatio = sha.mbps / fromCSide.mbps;
console.log(
  `receive-path targets: receiver stalls per GB rxzt/c <= 2.0: ${
    stallRatio <= 2 ? "met" : "MISSED"
  } ` +
    `(goal 1.0: ${stallRatio <= 1 ? "met" : "missed"}); SHA-256 consumer >= 0.8 of plain: ${
      shaRatio >= 0.8 ? "met" : "MISSED"
    }`,
);
if (nd) {
  console.log(
    `Node target: single stream >= 0.9 of C: ${nd.mbps / c.mbps >= 0.9 ? "met" : "MISSED"}`,
  );
} else console.log(`Node (koffi) part skipped: ${r.node}`);
if (typeof r.http === "string") console.log(`HTTP part: ${r.http}`);
else {
  console.log(`ratio http/stream 50MB: ${(r.http.httpMbps / r.http.streamMbps).toFixed(2)}`);
  console.log(
    `http requests/s (keep-alive, 1 KB): ${r.http.requestsPerSecond.toFixed(0)} ` +
      `(node:http over loopback TCP, same run: ${r.http.loopbackRequestsPerSecond.toFixed(0)})`,
  );
}
console.log(`receiver stalls per GB rxzt/c: ${stallRatio.toFixed(2)}`);
console.log(`ratio sha256-consumer/plain rxzt: ${shaRatio.toFixed(2)}`);
if (nd) console.log(`ratio node/c single-stream: ${(nd.mbps / c.mbps).toFixed(2)}`);
console.log(`ratio rxzt/c single-stream: ${ratio.toFixed(2)}`);
