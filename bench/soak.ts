/**
 * `deno task soak`: steady traffic both ways between two leaves of a
 * self-hosted ZeroTier network (root and leaves in network namespaces, as in
 * tier 3), with the direct path between the leaves cut and healed
 * periodically. Each transfer is an echo connection (A dials B's echo server
 * and B dials A's, so every connection carries data both ways), checked end
 * to end: what came back has the byte count and SHA-256 of what was sent.
 * Prints bytes sent, echoed and lost, aborted connections (either side), the
 * peer and online transitions seen, and each process's peak memory. Exits 1
 * when a byte was lost or a connection aborted.
 *
 * A cut lasts until A's peer$ reports B relayed plus 30 s (the regime that
 * used to race keep-alive), or SOAK_PARTITION_FOR_S seconds when that is set.
 *
 * Needs LIBZT_PATH, root, iproute2 and nftables; without them it prints why
 * and exits 0.
 *
 * Environment (defaults): SOAK_MINUTES (10), SOAK_RATE bytes/s each way per
 * connection (1000000), SOAK_SEGMENT_S seconds per transfer (60),
 * SOAK_PARTITION_EVERY_S (150), SOAK_PARTITION_FOR_S (until RELAY + 30 s).
 */
import { adhocIPv4Address, adhocIPv4NetworkId } from "../mod.ts";
import type { Agent } from "../tests/_net/agent_client.ts";
import { startZeroTierNodes } from "../tests/_net/zerotier.ts";
import { createTestNetwork, type TestNetwork } from "../tests/_net/netns.ts";
import { envNumber, libztOrExit } from "./_env.ts";

await libztOrExit("soak"); // exits, saying why, when the soak cannot run here

const MINUTES = envNumber("SOAK_MINUTES", 10);
const RATE = envNumber("SOAK_RATE", 1_000_000);
const SEGMENT_S = envNumber("SOAK_SEGMENT_S", 60);
const PARTITION_EVERY_S = envNumber("SOAK_PARTITION_EVERY_S", 150);
const PARTITION_FOR_S = Deno.env.get("SOAK_PARTITION_FOR_S")
  ? envNumber("SOAK_PARTITION_FOR_S", 60)
  : undefined;
const HOLD_RELAY_S = 30;
const ECHO_PORT = 7300;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) =>
  console.error(`[soak ${((performance.now() - t0) / 1000).toFixed(0)}s] ${msg}`);
const t0 = performance.now();

let net: TestNetwork | undefined;
const agents: Agent[] = [];
let failed = false;
try {
  net = await createTestNetwork(3);
  const [, hostA, hostB] = net.hosts;
  const nodes = await startZeroTierNodes(net, ["leafA", "leafB"]);
  const { root, leaves: [a, b], rootId, leafIds: [idA, idB] } = nodes;
  agents.push(root, a, b);
  for (const x of agents) await x.call("memory");
  await Promise.all([a, b].map((x) => x.call("waitOnline", { timeout: 60_000 }, 70_000)));
  const network = adhocIPv4NetworkId(10, rootId);
  await Promise.all(
    [a, b].map((x) => x.call("join", { network, family: "IPv4", timeout: 60_000 }, 70_000)),
  );
  await a.call("echoServer", { port: ECHO_PORT });
  await b.call("echoServer", { port: ECHO_PORT });
  // Each leaf dials the other's echo server: data flows both ways on both connections.
  const dialers = [
    { agent: a, name: "A→B", hostname: adhocIPv4Address(network, idB) },
    { agent: b, name: "B→A", hostname: adhocIPv4Address(network, idA) },
  ];
  log(
    `network ready; ${MINUTES} min of ${RATE} B/s each way on two echo connections, ` +
      `${SEGMENT_S} s per transfer, cut ${
        PARTITION_FOR_S === undefined ? `until RELAY + ${HOLD_RELAY_S}` : PARTITION_FOR_S
      } s every ${PARTITION_EVERY_S} s`,
  );

  const end = performance.now() + MINUTES * 60_000;
  const totals = {
    transfers: 0,
    sent: 0,
    received: 0,
    corrupted: 0,
    aborted: 0,
    failures: 0,
    partitions: 0,
  };

  // Partitions run on their own schedule, across transfer boundaries.
  let stopPartitions = false;
  const partitions = (async () => {
    while (!stopPartitions) {
      for (let waited = 0; waited < PARTITION_EVERY_S * 1000 && !stopPartitions; waited += 1000) {
        await sleep(1000);
      }
      if (stopPartitions) break;
      log("cutting the direct path between the leaves");
      await net!.block(hostA, hostB, true);
      await net!.block(hostB, hostA, true);
      totals.partitions++;
      const cutAt = performance.now();
      if (PARTITION_FOR_S === undefined) {
        await a.call("waitPeerLink", { peer: idB, link: "RELAY" }, 600_000);
        log(`A sees B relayed, ${((performance.now() - cutAt) / 1000).toFixed(0)} s after the cut`);
      }
      const holdMs = (PARTITION_FOR_S ?? HOLD_RELAY_S) * 1000;
      for (let waited = 0; waited < holdMs && !stopPartitions; waited += 1000) {
        await sleep(1000);
      }
      await net!.block(hostA, hostB, false);
      await net!.block(hostB, hostA, false);
      log("healed");
    }
  })();

  let segment = 0;
  while (performance.now() < end) {
    segment++;
    try {
      await Promise.all(dialers.map((d, i) =>
        d.agent.call(
          "echoStreamStart",
          {
            name: d.name,
            hostname: d.hostname,
            port: ECHO_PORT,
            rate: RATE,
            seed: 2 * segment + i,
          },
          60_000,
        )
      ));
      const segmentEnd = Math.min(end, performance.now() + SEGMENT_S * 1000);
      while (performance.now() < segmentEnd) await sleep(1000);
      const results = await Promise.all(
        dialers.map((d) =>
          d.agent.call<
            { sent: number; received: number; intact: boolean; error?: { code: string } }
          >(
            "echoStreamFinish",
            { name: d.name },
            600_000,
          )
        ),
      );
      results.forEach((r, i) => {
        totals.transfers++;
        if (r.error) {
          totals.aborted++;
        } else {
          totals.sent += r.sent;
          if (r.intact) totals.received += r.received;
          else totals.corrupted++;
        }
        log(
          `${dialers[i].name} transfer ${segment}: ${r.sent} bytes sent, ${r.received} echoed, ${
            r.error ? `ABORTED (${r.error.code})` : r.intact ? "intact" : "CORRUPTED"
          }`,
        );
      });
    } catch (err) {
      totals.failures++;
      log(`transfer failed: ${(err as Error).message}`);
    }
  }
  stopPartitions = true;
  await partitions;

  const peer = await a.call<{ link: string; event: string; at: number }[]>("peerHistory", {
    peer: idB,
  });
  const online = await a.call<{ online: boolean; at: number }[]>("onlineHistory");
  const memory: Record<string, { rss: number; heapUsed: number }> = {};
  for (const x of agents) memory[x.name] = await x.call("memory");
  const lost = totals.sent - totals.received;
  // The echo servers' sides: a connection that failed there is aborted too.
  for (const x of [a, b]) {
    const { served } = await x.call<{ served: { error?: unknown }[] }>("echoServerResults");
    totals.aborted += served.filter((s) => s.error).length;
  }
  const mb = (n: number) => (n / 1e6).toFixed(1);

  console.log();
  console.log(
    `soak: ${MINUTES} min, ${totals.transfers} transfers, ${totals.partitions} partitions`,
  );
  console.log(
    `bytes sent ${totals.sent} (${
      mb(totals.sent)
    } MB) each way, echoed back intact ${totals.received}, lost ${lost}`,
  );
  console.log(`corrupted transfers ${totals.corrupted}, failed transfers ${totals.failures}`);
  console.log(`aborted connections: ${totals.aborted}`);
  console.log(
    `peer$ transitions of B seen by A (${peer.length}): ` +
      peer.map((s) => `${s.event.replace("PEER_", "")}@${(s.at / 1000).toFixed(0)}s`).join(" → "),
  );
  console.log(
    `online$ of A: ${online.map((o) => `${o.online}@${(o.at / 1000).toFixed(0)}s`).join(" → ")}`,
  );
  console.log(
    "peak memory: " +
      Object.entries(memory).map(([n, m]) => `${n} rss ${mb(m.rss)} MB, heap ${mb(m.heapUsed)} MB`)
        .join("; "),
  );
  failed = lost !== 0 || totals.corrupted !== 0 || totals.failures !== 0 ||
    totals.aborted !== 0 || totals.transfers === 0;
  console.log(`lost: ${lost}`);
} catch (err) {
  console.error(`soak failed: ${(err as Error).stack}`);
  failed = true;
} finally {
  for (const x of agents) x.kill();
  await net?.destroy();
}
Deno.exit(failed ? 1 : 0);
