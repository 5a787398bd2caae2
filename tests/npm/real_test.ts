/**
 * Tier 3 for the npm package (run by `deno task test:npm` under Node): rxzt
 * through koffi against a real libzt on a self-hosted network, mixed with a
 * Deno node. A root (Node), leaf A (Node) and leaf B (Deno), each in its own
 * process and network namespace (`tests/_net/netns.ts`, names `rzn<pid>`, distinct from
 * a concurrent Deno tier-3 run). Besides TCP between the leaves, Express
 * (a test-only dependency) over `toNodeSocket` on the Node leaf, with the
 * Deno leaf resetting its connection mid-response. Needs LIBZT_PATH and
 * root; otherwise skipped with a reason. Under Deno it is skipped:
 * tests/real/ covers Deno.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import { adhocIPv4Address, adhocIPv4NetworkId, identityNodeId } from "rxzt";
import type { Agent } from "../_net/agent_client.ts";
import { allOnline, relayThenDirect, startZeroTierNodes } from "../_net/zerotier.ts";
import { cannotRunTier3, createTestNetwork, type TestNetwork } from "../_net/netns.ts";
import { runtime } from "./_runtime.ts";

const libzt = process.env.LIBZT_PATH;
const skip = runtime === "deno"
  ? "the npm tier 3 runs under Node (deno task test:npm); tests/real/ is the Deno tier 3"
  : await cannotRunTier3();
if (skip && runtime === "node") console.log(`tier 3 under node (real libzt) skipped: ${skip}`);

interface JoinReply {
  state: {
    status: string;
    readyIPv4: boolean;
    assignedAddresses: { address: string; prefixLength: number }[];
  };
  readyMs: number;
}

describe("tier 3 under node: koffi and real libzt, with a Deno peer", { skip }, () => {
  let net: TestNetwork;
  let root: Agent, a: Agent, b: Agent;
  let ids: { root: string; a: string; b: string };
  const timings: Record<string, number> = {};

  /** 50 MB from `from` to a sink on `to` (node id `toId`): the sender's digest and MB/s, the sink's reply. */
  async function transfer50MB(from: Agent, to: Agent, toId: string, port: number) {
    await to.call("sinkServer", { port });
    return await from.call<
      { sentDigest: string; reply: { digest: string; bytes: number }; mbps: number }
    >(
      "send",
      {
        hostname: adhocIPv4Address(adhocIPv4NetworkId(10, ids.root), toId),
        port,
        bytes: 50_000_000,
      },
      180_000,
    );
  }

  before(async () => {
    net = await createTestNetwork(3);
    const [, hostA, hostB] = net.hosts;
    // The leaves reach each other only through the root until the relay→direct test lifts this.
    await net.block(hostA, hostB, true);
    await net.block(hostB, hostA, true);
    const env = { LIBZT_PATH: libzt! };
    const nodes = await startZeroTierNodes(net, [
      { name: "leafA", runtime: "node", env },
      { name: "leafB", runtime: "deno", env },
    ], { runtime: "node", env });
    ({ root, leaves: [a, b] } = nodes);
    assert.deepEqual(nodes.runtimes, ["node", "node", "deno"]);
    ids = { root: nodes.rootId, a: nodes.leafIds[0], b: nodes.leafIds[1] };
    assert.equal(ids.root, identityNodeId(nodes.rootSecret));
  });

  after(async () => {
    for (const agent of [root, a, b]) agent?.kill();
    await net?.destroy();
    console.log("tier 3 under node, timings (ms):", JSON.stringify(timings));
  });

  test("every node comes online (Node root, Node leaf, Deno leaf)", async () => {
    const online = await allOnline({ root, a, b });
    for (const [name, ms] of Object.entries(online)) timings[`online_${name}`] = Math.round(ms);
  });

  test("both leaves join an IPv4 ad-hoc network and get the computed address", async () => {
    const network = adhocIPv4NetworkId(10, ids.root);
    const joined = await Promise.all(
      [a, b].map((x) => x.call<JoinReply>("join", { network, family: "IPv4", timeout: 45_000 })),
    );
    joined.forEach((j, i) => {
      assert.equal(j.state.status, "OK");
      assert.equal(j.state.readyIPv4, true);
      const v4 = adhocIPv4Address(network, i === 0 ? ids.a : ids.b);
      assert.ok(
        j.state.assignedAddresses.some((p) => p.address === v4 && p.prefixLength === 8),
        JSON.stringify(j.state.assignedAddresses),
      );
      timings[`ready_ipv4_${i === 0 ? "a" : "b"}`] = Math.round(j.readyMs);
    });
  });

  test("peer$ on the Node leaf reports the Deno leaf going from relay to direct", async () => {
    const [, hostA, hostB] = net.hosts;
    const target = adhocIPv4Address(adhocIPv4NetworkId(10, ids.root), ids.b);
    const poke = () => a.call("poke", { address: target, port: 5001, timeout: 500 });
    const r = await relayThenDirect(net, [hostA, hostB], a, ids.b, poke);
    timings.direct_after_unblock = Math.round(r.directAfterMs);
  });

  test("TCP Node → Deno: 50 MB arrive intact (SHA-256)", async () => {
    const r = await transfer50MB(a, b, ids.b, 7001);
    assert.equal(r.reply.bytes, 50_000_000);
    assert.equal(r.reply.digest, r.sentDigest);
    timings.node_to_deno_MBps = Math.round(r.mbps);
  });

  test("TCP Deno → Node: 50 MB arrive intact (SHA-256)", async () => {
    const r = await transfer50MB(b, a, ids.a, 7002);
    assert.equal(r.reply.bytes, 50_000_000);
    assert.equal(r.reply.digest, r.sentDigest);
    timings.deno_to_node_MBps = Math.round(r.mbps);
  });

  test("TCP echo: the Node leaf echoes, the Deno leaf checks 5 MB come back intact", async () => {
    const network = adhocIPv4NetworkId(10, ids.root);
    await a.call("echoServer", { port: 7003 });
    const r = await b.call<{ bytes: number; intact: boolean }>("echo", {
      hostname: adhocIPv4Address(network, ids.a),
      port: 7003,
      bytes: 5_000_000,
    }, 120_000);
    assert.equal(r.bytes, 5_000_000);
    assert.equal(r.intact, true);
  });

  test("Express over toNodeSocket on the Node leaf: the Deno leaf resets mid-response, the Node process keeps serving", async () => {
    const network = adhocIPv4NetworkId(10, ids.root);
    const hostname = adhocIPv4Address(network, ids.a);
    const port = 7004;
    await a.call("watchUnhandled");
    await a.call("expressServe", { port });
    // A large, paced response (256 MiB, 64 KiB every 5 ms at most): still going when the reset comes.
    const reset = await b.call<{ read: number; statusLine: string }>("httpGetReset", {
      hostname,
      port,
      path: "/big",
      readBytes: 1024 * 1024,
    }, 60_000);
    assert.equal(reset.statusLine, "HTTP/1.1 200 OK");
    assert.ok(reset.read >= 1024 * 1024, String(reset.read));
    const state = await a.call<{ big: { sent: number; finished?: boolean; closedAt?: number }[] }>(
      "expressState",
      { closed: 1, timeout: 15_000 },
      20_000,
    );
    assert.equal(state.big.length, 1);
    assert.equal(state.big[0].finished, false, "the response was cut off, not finished");
    assert.ok(state.big[0].sent < 256 * 1024 * 1024, String(state.big[0].sent));
    const ok = await b.call<{ status?: number; text?: string; error?: unknown }>("httpFetchText", {
      url: `http://${hostname}:${port}/ok`,
      timeout: 30_000,
    }, 40_000);
    assert.equal(ok.error, undefined, JSON.stringify(ok.error));
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.text!), { express: true });
    const unhandled = await a.call<{ rejections: string[]; exceptions: string[] }>("unhandled");
    assert.deepEqual(unhandled, { rejections: [], exceptions: [] });
  });

  test("stop() completes the observables and every process exits by itself", async () => {
    for (const [name, agent] of [["a", a], ["b", b], ["root", root]] as const) {
      const t0 = performance.now();
      const code = await agent.stop();
      assert.equal(code, 0, `${name} exit code`);
      timings[`exit_${name}`] = Math.round(performance.now() - t0);
    }
  });
});
