/**
 * The Node part of `deno task bench`: the same single-stream transfers as the
 * Deno rxzt runs, between two Node agents (tests/_net/agent.ts compiled into
 * the npm test project, rxzt from the installed npm package, libzt through
 * koffi) in the same namespaces, beside the C and Deno nodes (on a ZeroTier
 * port of their own), their runs interleaved with theirs.
 *
 * The npm test project is made by `deno task test:npm`; when it is missing
 * it is made here first (the `deno task build:npm` output, packed and
 * installed); BENCH_NODE_REBUILD=1 also runs `build:npm` again first. BENCH_NODE=0 skips this part. The agents
 * run with UV_THREADPOOL_SIZE=20, the setup the README recommends
 * (BENCH_NODE_THREADPOOL changes it; "default" leaves it unset: 4 threads).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Agent } from "../tests/_net/agent_client.ts";
import { prepareNodeProject, SCRATCH } from "../scripts/test_npm.ts";
import type { SinkStats } from "../tests/_net/bench_sink.ts";
import { receiveInto, type Sent } from "./_receive.ts";

/** One measured transfer, as bench/run.ts records it, with what the Node sink saw. */
export interface NodeRun extends Omit<SinkStats, "bytes"> {
  mbps: number;
  cpuClient: number;
  cpuServer: number;
  direct: boolean;
}

/** What bench/run.ts hands over: the leaves' namespaces and the network to use. */
export interface NodeBenchOptions {
  /** Namespaces of leaf A (client) and leaf B (server). */
  readonly namespaces: readonly [string, string];
  readonly libzt: string;
  readonly roots: string;
  readonly ztPort: number;
  readonly network: string;
  /** Address of leaf B on `network`, from its node id. */
  readonly address: (nodeId: string) => string;
  readonly port: number;
  readonly bytes: number;
  readonly warmup: number;
  /** Send pacing of the sending agent (TcpConn.setSendPacing): off, on, or a rate in bytes/s. */
  readonly pacing: boolean | number | undefined;
}

/** Why the Node part cannot run here, or undefined. */
export function nodeBenchSkip(): string | undefined {
  if (Deno.env.get("BENCH_NODE") === "0") return "BENCH_NODE=0";
  try {
    new Deno.Command("node", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
  } catch {
    return "node is not on PATH";
  }
  return undefined;
}

/** libuv threadpool size of the Node agents ("default": unset). */
export function nodeBenchThreadpool(): string {
  return Deno.env.get("BENCH_NODE_THREADPOOL") || "20";
}

/** Two running Node agents, ready for measured transfers. */
export interface NodeSide {
  /** One measured transfer from A to B. */
  run(): Promise<NodeRun>;
  /** B's sink as "<address> <port>", for another sender (the C client's "go" line). */
  readonly sink: string;
  /** One measured transfer into B's sink made by `send` (another sender). */
  receive(
    send: () => Promise<{ bytes: number; seconds: number; cpu: number; direct: boolean }>,
  ): Promise<NodeRun>;
  /** Stops both agents (their nodes first); once, however often it is called. */
  stop(): Promise<void>;
}

/**
 * Starts two fresh Node agents (leaf A sends, leaf B receives), joins them to
 * the network and makes the warm-up transfer; bench/run.ts then interleaves
 * their measured runs with the C and Deno ones.
 */
export async function startNodeSide(o: NodeBenchOptions): Promise<NodeSide> {
  const rebuild = Deno.env.get("BENCH_NODE_REBUILD") === "1";
  if (!existsSync(join(SCRATCH, "tests", "_net", "agent.js")) || rebuild) {
    console.error("preparing the npm package for the Node agents (build, pack, install) ...");
    if (rebuild) {
      const build = new URL("../scripts/build_npm.ts", import.meta.url).pathname;
      const r = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", build],
        stdout: "null",
        stderr: "inherit",
      }).outputSync();
      if (!r.success) throw new Error("scripts/build_npm.ts failed");
    }
    prepareNodeProject();
  }
  const pool = nodeBenchThreadpool();
  const env: Record<string, string> = {
    LIBZT_PATH: o.libzt,
    UV_THREADPOOL_SIZE: pool === "default" ? "" : pool,
  };
  const a = new Agent("nodeA", o.namespaces[0], { runtime: "node", env });
  const b = new Agent("nodeB", o.namespaces[1], { runtime: "node", env });
  const kill = () => {
    a.kill();
    b.kill();
  };
  try {
    const [, { nodeId: idB }] = await Promise.all([
      a.call<{ nodeId: string }>("benchStart", { roots: o.roots, port: o.ztPort }),
      b.call<{ nodeId: string }>("benchStart", { roots: o.roots, port: o.ztPort }),
    ]);
    await Promise.all([a, b].map((x) => x.call("waitOnline", { timeout: 45_000 }, 50_000)));
    await Promise.all(
      [a, b].map((x) =>
        x.call("join", { network: o.network, family: "IPv4", timeout: 45_000 }, 50_000)
      ),
    );
    await b.call("benchSink", { port: o.port });
    const hostname = o.address(idB);
    if (o.warmup > 0) {
      await a.call("benchSend", { hostname, port: o.port, bytes: o.warmup }, 600_000);
      // Not a measured run: its sink stats must not stand for the first one.
      await b.call("benchSinkStats");
    }
    let stopped: Promise<void> | undefined;
    const receive = (send: () => Promise<Sent>): Promise<NodeRun> =>
      receiveInto<SinkStats>(b, send, o.bytes);
    return {
      sink: `${hostname} ${o.port}`,
      receive,
      run: () =>
        receive(() =>
          a.call<Sent>(
            "benchSend",
            { hostname, port: o.port, bytes: o.bytes, pacing: o.pacing },
            600_000,
          )
        ),
      stop() {
        stopped ??= Promise.all([a, b].map((x) => x.stop().catch(() => {}))).then(kill);
        return stopped;
      },
    };
  } catch (err) {
    kill();
    throw err;
  }
}
