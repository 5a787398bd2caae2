/**
 * Tier 3: HTTP over a real self-hosted ZeroTier network. Leaf A serves
 * (`node.serve()`), leaf B fetches (`node.fetch()`), each in its own process
 * and namespace, over the 6PLANE addresses of an IPv6 ad-hoc network (so the
 * server also reads the client's node id from its address): a JSON round
 * trip, 50 MB each way checked by SHA-256, 200 concurrent requests, and
 * keep-alive reuse (connections counted by the server). Needs LIBZT_PATH and
 * root; otherwise skipped with a reason.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { adhocNetworkId, sixPlaneAddress } from "../../mod.ts";
import type { Agent } from "../_net/agent_client.ts";
import { cannotRunTier3, createTestNetwork, type TestNetwork } from "../_net/netns.ts";
import { startZeroTierNodes } from "../_net/zerotier.ts";

const skip = await cannotRunTier3();
if (skip) console.log(`tier 3 (HTTP) skipped: ${skip}`);

const HTTP_PORT = 5005;
const BYTES = 50 * 1024 * 1024;
const NETWORK = adhocNetworkId(5000, 5010);

describe("tier 3: node.serve() on leaf A, node.fetch() on leaf B", { skip }, () => {
  let net: TestNetwork;
  let root: Agent, a: Agent, b: Agent;
  let ids: { a: string; b: string };
  let base: string;
  const timings: Record<string, number> = {};

  before(async () => {
    net = await createTestNetwork(3);
    const nodes = await startZeroTierNodes(net, ["leafA", "leafB"]);
    ({ root, leaves: [a, b] } = nodes);
    ids = { a: nodes.leafIds[0], b: nodes.leafIds[1] };
    await Promise.all([a, b].map((x) => x.call("waitOnline", { timeout: 45_000 })));
    await Promise.all(
      [a, b].map((x) =>
        x.call("join", { network: NETWORK, family: "IPv6", timeout: 45_000 }, 60_000)
      ),
    );
    await a.call("httpServe", { port: HTTP_PORT });
    base = `http://[${sixPlaneAddress(NETWORK, ids.a)}]:${HTTP_PORT}`;
  });

  after(async () => {
    for (const agent of [root, a, b]) agent?.kill();
    await net?.destroy();
    console.log("tier 3 HTTP timings:", JSON.stringify(timings));
  });

  test("a JSON round trip; the server sees the client's 6PLANE address and node id", async () => {
    const r = await b.call<{
      status: number;
      json: {
        echo: unknown;
        remoteAddr: { transport: string; hostname: string };
        peerId: string | null;
      };
    }>("httpFetchJson", { url: `${base}/json?tag=json`, body: { hello: "zt" } }, 90_000);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.echo, { hello: "zt" });
    assert.equal(r.json.remoteAddr.transport, "tcp");
    assert.equal(r.json.remoteAddr.hostname, sixPlaneAddress(NETWORK, ids.b));
    assert.equal(r.json.peerId, ids.b, "info.peerId is leaf B's node id");
  });

  test("50 MB streamed request body arrives intact (SHA-256)", async () => {
    const r = await b.call<{
      status: number;
      server: { sha256: string; bytes: number };
      sentSha256: string;
      seconds: number;
    }>("httpFetchUpload", { url: `${base}/upload`, bytes: BYTES, seed: 1 }, 300_000);
    assert.equal(r.status, 200);
    assert.equal(r.server.bytes, BYTES);
    assert.equal(r.server.sha256, r.sentSha256);
    timings.upload_MBps = Math.round(BYTES / 1e6 / r.seconds * 10) / 10;
  });

  test("50 MB streamed response arrives intact (SHA-256)", async () => {
    const r = await b.call<{
      status: number;
      bytes: number;
      sha256: string;
      expectedSha256: string;
      seconds: number;
    }>("httpFetchDownload", { url: `${base}/download?bytes=${BYTES}&seed=2`, seed: 2 }, 300_000);
    assert.equal(r.status, 200);
    assert.equal(r.bytes, BYTES);
    assert.equal(r.sha256, r.expectedSha256);
    timings.download_MBps = Math.round(BYTES / 1e6 / r.seconds * 10) / 10;
  });

  test("200 concurrent requests are all answered", async () => {
    const r = await b.call<{ ok: number; seconds: number }>("httpFetchMany", {
      url: `${base}/json?tag=concurrent`,
      count: 200,
      concurrent: true,
    }, 180_000);
    assert.equal(r.ok, 200);
    const { connections } = await a.call<{ connections: number }>("httpServeConnections", {
      tag: "concurrent",
    });
    assert.ok(connections >= 1 && connections <= 200, String(connections));
    timings.concurrent200_ms = Math.round(r.seconds * 1000);
    timings.concurrent200_connections = connections;
  });

  test("keep-alive: 20 requests in turn reuse one connection", async () => {
    // A fresh client pool per agent would dial once; the pool may still hold connections from
    // the concurrent test, which are reused too: count only this tag's.
    const r = await b.call<{ ok: number; seconds: number }>("httpFetchMany", {
      url: `${base}/json?tag=sequential`,
      count: 20,
      concurrent: false,
    }, 120_000);
    assert.equal(r.ok, 20);
    const { connections } = await a.call<{ connections: number }>("httpServeConnections", {
      tag: "sequential",
    });
    assert.equal(connections, 1, "20 requests in turn over one kept-alive connection");
    timings.sequential20_ms = Math.round(r.seconds * 1000);
  });
});
