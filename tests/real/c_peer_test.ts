/**
 * Tier 3: rxzt against libzt's own C API, as a user would meet it — a peer
 * written in C (bench/zt_bench.c, built here against LIBZT_PATH) on a
 * self-hosted network, traffic in both directions at once, and an rxzt
 * consumer that does work on every chunk (it checks every byte against the
 * sender's pattern). Needs LIBZT_PATH, root and a C compiler; otherwise
 * skipped with a reason.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { adhocIPv4Address, adhocIPv4NetworkId } from "../../mod.ts";
import { Agent } from "../_net/agent_client.ts";
import { buildCPeer, CProcess } from "../_net/c_peer.ts";
import { cannotRunTier3, createTestNetwork, type TestNetwork } from "../_net/netns.ts";

const libzt = Deno.env.get("LIBZT_PATH");
const skip = await cannotRunTier3();
if (skip) console.log(`tier 3 (rxzt against a C peer) skipped: ${skip}`);

const ZT_PORT = 9993;
const C_SERVER_PORT = 7100;
const RXZT_PORT = 7300;
const BYTES = 100_000_000;

interface Transfer {
  bytes: number;
  seconds: number;
  stalls?: number;
  patternErrors?: number;
}

describe("tier 3: rxzt and libzt's C API, both directions at once", { skip }, () => {
  let net: TestNetwork;
  let tmp: string;
  const agents: Agent[] = [];
  const cprocs: CProcess[] = [];
  let a: Agent;
  let server: CProcess;
  let client: CProcess;
  let serverAddress: string;

  before(async () => {
    tmp = await Deno.makeTempDir({ prefix: "rxzt-cpeer-" });
    const bin = await buildCPeer(libzt!, tmp);
    net = await createTestNetwork(3);
    const [rootHost, hostA, hostB] = net.hosts;
    const root = new Agent("root", rootHost);
    agents.push(root);
    const { secret, roots } = await root.call<{ secret: string; roots: string }>("makePlanet", {
      endpoint: `${rootHost.address}/${ZT_PORT}`,
    });
    const { nodeId: rootId } = await root.call<{ nodeId: string }>("start", {
      identity: secret,
      roots,
      port: ZT_PORT,
    });
    const planet = `${tmp}/planet.bin`;
    await Deno.writeFile(planet, Uint8Array.from(atob(roots), (ch) => ch.charCodeAt(0)));
    const network = adhocIPv4NetworkId(10, rootId);

    a = new Agent("leafA", hostA);
    agents.push(a);
    const { nodeId: idA } = await a.call<{ nodeId: string }>("benchStart", {
      roots,
      port: ZT_PORT,
    });
    // The C peers: a server that counts what rxzt sends, and a client that sends to rxzt;
    // each is a libzt node of its own in leaf B's namespace.
    server = new CProcess("C server", hostB, bin, [
      planet,
      network,
      "server",
      String(C_SERVER_PORT),
      "1",
    ], {
      ZT_BENCH_PORT: String(ZT_PORT + 1),
    });
    client = new CProcess("C client", hostB, bin, [
      planet,
      network,
      "client",
      adhocIPv4Address(network, idA),
      String(RXZT_PORT),
      String(BYTES),
      "1",
    ], { ZT_BENCH_PORT: String(ZT_PORT + 2), ZT_BENCH_STEP: "1" });
    cprocs.push(server, client);
    await root.call("waitOnline", { timeout: 45_000 }, 50_000);
    await a.call("waitOnline", { timeout: 45_000 }, 50_000);
    await a.call("join", { network, family: "IPv4", timeout: 45_000 }, 50_000);
    await a.call("benchSink", { port: RXZT_PORT, consumer: "pattern" });
    serverAddress = (await server.next<{ address: string }>(90_000)).address;
    await client.next(180_000); // {"ready":true}: online, joined, and the path to rxzt found
  });

  after(async () => {
    for (const p of cprocs) p.kill();
    for (const agent of agents) agent.kill();
    await net?.destroy();
    if (tmp) await Deno.remove(tmp, { recursive: true }).catch(() => {});
  });

  test(`${BYTES / 1e6} MB each way at once: the C server counts every byte rxzt sent, and rxzt's checking consumer finds every byte the C client sent, in order`, async () => {
    const t0 = performance.now();
    const [sent, fromC] = await Promise.all([
      a.call<Transfer>(
        "benchSend",
        { hostname: serverAddress, port: C_SERVER_PORT, bytes: BYTES },
        600_000,
      ),
      (async () => {
        await client.send("go");
        return await client.next<Transfer>(600_000);
      })(),
    ]);
    const wallS = (performance.now() - t0) / 1000;
    const counted = await server.next<Transfer>(30_000);
    const [sink] = await a.call<Transfer[]>("benchSinkStats");
    console.log(
      `rxzt -> C ${(BYTES / 1e6 / sent.seconds).toFixed(1)} MB/s, C -> rxzt ${
        (BYTES / 1e6 / fromC.seconds).toFixed(1)
      } MB/s ` +
        `(at once, ${wallS.toFixed(1)} s in all); rxzt's receiver: ${sink.stalls} stalls`,
    );
    assert.equal(sent.bytes, BYTES, "rxzt's sender: the C server's count, as it answered");
    assert.equal(counted.bytes, BYTES, "the C server's own report");
    assert.equal(fromC.bytes, BYTES, "the C client: rxzt's count, as it answered");
    assert.equal(sink.bytes, BYTES, "rxzt's sink");
    assert.equal(sink.patternErrors, 0, "every byte from the C peer is the byte it sent, in order");
    // The two directions overlapped: together they took less than one after the other would.
    assert.ok(
      wallS < sent.seconds + fromC.seconds,
      `${wallS} s for ${sent.seconds} s + ${fromC.seconds} s`,
    );
  });
});
