/**
 * Tier 3: HTTP over a real self-hosted ZeroTier network. Leaf A serves
 * (`node.serve()`), leaf B fetches (`node.fetch()`), each in its own process
 * and namespace, over the 6PLANE addresses of an IPv6 ad-hoc network (so the
 * server also reads the client's node id from its address): a JSON round
 * trip (a plain handler, then a Hono app), 50 MB each way checked by
 * SHA-256, 200 concurrent requests, keep-alive reuse (connections counted by
 * the server), a handler that throws, the client aborting a slow request,
 * and last shutdown() during a request (on a server of its own). Needs
 * LIBZT_PATH and root; otherwise skipped with a reason.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { adhocNetworkId, sixPlaneAddress } from "../../mod.ts";
import type { Agent } from "../_net/agent_client.ts";
import { cannotRunTier3, createTestNetwork, type TestNetwork } from "../_net/netns.ts";
import { startZeroTierNodes } from "../_net/zerotier.ts";

const skip = await cannotRunTier3();
if (skip) console.log(`tier 3 (HTTP) skipped: ${skip}`);

const HTTP_PORT = 5005;
/** The Hono app's server. */
const HONO_PORT = 5006;
/** The server the shutdown test shuts down (the others stay up for the tests before it). */
const SHUTDOWN_PORT = 5007;
const BYTES = 50 * 1024 * 1024;
const NETWORK = adhocNetworkId(5000, 5010);

describe("tier 3: node.serve() on leaf A, node.fetch() on leaf B", { skip }, () => {
  let net: TestNetwork;
  let root: Agent, a: Agent, b: Agent;
  let ids: { a: string; b: string };
  let base: string;
  let host: string;
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
    host = `[${sixPlaneAddress(NETWORK, ids.a)}]`;
    base = `http://${host}:${HTTP_PORT}`;
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

  test("a Hono app served unchanged: a JSON round trip, the serve info as its env", async () => {
    await a.call("httpServeHono", { port: HONO_PORT });
    const r = await b.call<{
      status: number;
      json: {
        echo: unknown;
        remoteAddr: { transport: string; hostname: string };
        peerId: string | null;
        via: string;
      };
    }>(
      "httpFetchJson",
      { url: `http://${host}:${HONO_PORT}/json`, body: { hono: [1, 2] } },
      90_000,
    );
    assert.equal(r.status, 200);
    assert.equal(r.json.via, "hono");
    assert.deepEqual(r.json.echo, { hono: [1, 2] });
    assert.equal(r.json.remoteAddr.hostname, sixPlaneAddress(NETWORK, ids.b));
    assert.equal(r.json.peerId, ids.b);
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

  test("a handler that throws: the client gets 500, and the next request is served", async () => {
    // The agent's server logs the handler's error ("node.serve(): the handler failed: ..."): expected.
    const failed = await b.call<{ status: number; text: string }>("httpFetchText", {
      url: `${base}/throw?tag=throw`,
    });
    assert.equal(failed.status, 500);
    assert.equal(failed.text, "Internal Server Error");
    const after = await b.call<{ status: number; json: { echo: unknown } }>("httpFetchJson", {
      url: `${base}/json?tag=throw`,
      body: { after: "throw" },
    });
    assert.equal(after.status, 200);
    assert.deepEqual(after.json.echo, { after: "throw" });
    const { connections, throws } = await a.call<{ connections: number; throws: number }>(
      "httpServeConnections",
      { tag: "throw" },
    );
    assert.equal(throws, 1, "the handler ran once for /throw");
    assert.equal(connections, 1, "the 500 left its kept-alive connection usable");
  });

  test("the client aborts a slow request: fetch rejects with AbortError, the server's request.signal aborts", async () => {
    await b.call("httpFetchStart", { key: "abort", url: `${base}/slow?key=abort&ms=20000` });
    await a.call("httpSlowState", { key: "abort", until: "entered", timeout: 30_000 }, 40_000);
    const client = await b.call<{
      abortedAt: number;
      outcome: { error?: { name: string; message: string }; status?: number; settledAt: number };
    }>("httpFetchAbort", { key: "abort" });
    assert.equal(client.outcome.status, undefined, JSON.stringify(client.outcome));
    assert.equal(client.outcome.error?.name, "AbortError", JSON.stringify(client.outcome));
    const server = await a.call<{
      how: string;
      aborted: boolean;
      reason: string;
      settledAt: number;
      arrivals: number;
    }>("httpSlowState", { key: "abort", until: "settled", timeout: 15_000 }, 20_000);
    // Times are Date.now() in two processes on one machine: one clock.
    const seenAfterMs = server.settledAt - client.abortedAt;
    assert.equal(server.how, "aborted", JSON.stringify(server));
    assert.equal(server.aborted, true);
    assert.match(server.reason, /AbortError/);
    assert.ok(seenAfterMs < 5000, `the server saw the abort ${seenAfterMs} ms after it`);
    timings.abort_seen_by_server_ms = seenAfterMs;
    timings.abort_client_rejected_ms = client.outcome.settledAt - client.abortedAt;
    // Deno's node:http client sends a request destroyed on a reused keep-alive connection
    // again on a new one; rxzt's agent refuses to (src/http/fetch.ts).
    timings.abort_arrivals = server.arrivals;
    assert.equal(server.arrivals, 1, "the aborted request reached the server once");
  });

  test("shutdown() during a slow request: it completes with its body, finished resolves after it, then connections are refused", async () => {
    const bytes = 1024 * 1024;
    const url = `http://${host}:${SHUTDOWN_PORT}`;
    await a.call("httpServe", { port: SHUTDOWN_PORT });
    await b.call("httpFetchStart", {
      key: "shutdown",
      url: `${url}/slow?key=shutdown&ms=60000&bytes=${bytes}`,
    });
    await a.call("httpSlowState", { key: "shutdown", until: "entered", timeout: 30_000 }, 40_000);
    const { calledAt } = await a.call<{ calledAt: number }>("httpShutdown", {
      port: SHUTDOWN_PORT,
    });
    await new Promise((r) => setTimeout(r, 500));
    const pending = await a.call<{ finishedAt?: number; shutdownResolvedAt?: number }>(
      "httpShutdownState",
      { port: SHUTDOWN_PORT },
    );
    assert.equal(pending.finishedAt, undefined, "finished waits for the request in flight");
    assert.equal(pending.shutdownResolvedAt, undefined, "shutdown() waits for it too");
    const { releasedAt } = await a.call<{ releasedAt: number }>("httpSlowRelease", {
      key: "shutdown",
    });
    const response = await b.call<{
      status?: number;
      bytes?: number;
      sha256?: string;
      connection?: string | null;
      slow?: string | null;
      error?: unknown;
    }>("httpFetchResult", { key: "shutdown" }, 60_000);
    assert.equal(response.error, undefined, JSON.stringify(response.error));
    assert.equal(response.status, 200);
    assert.equal(response.slow, "released");
    assert.equal(response.bytes, bytes);
    assert.equal(
      response.sha256,
      createHash("sha256").update(new Uint8Array(bytes).fill(0x78)).digest("hex"),
    );
    assert.equal(response.connection, "close", "a response during shutdown closes its connection");
    const done = await a.call<{ finishedAt: number; shutdownResolvedAt: number }>(
      "httpShutdownState",
      { port: SHUTDOWN_PORT, wait: true, timeout: 15_000 },
      20_000,
    );
    const slow = await a.call<{ respondedAt: number; how: string }>("httpSlowState", {
      key: "shutdown",
      until: "settled",
    });
    assert.equal(slow.how, "released");
    assert.ok(slow.respondedAt >= releasedAt);
    assert.ok(done.finishedAt >= slow.respondedAt, JSON.stringify({ done, slow }));
    assert.ok(done.shutdownResolvedAt >= slow.respondedAt, JSON.stringify({ done, slow }));
    timings.shutdown_finished_after_release_ms = done.finishedAt - releasedAt;
    timings.shutdown_total_ms = done.finishedAt - calledAt;
    const refused = await b.call<{ error?: { name: string; causeCode?: string } }>(
      "httpFetchText",
      { url: `${url}/small`, timeout: 30_000 },
      40_000,
    );
    assert.equal(refused.error?.name, "TypeError", JSON.stringify(refused));
    assert.equal(refused.error?.causeCode, "ECONNREFUSED", JSON.stringify(refused));
  });
});
