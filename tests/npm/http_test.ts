/**
 * Tier 2 in both runtimes: `node.serve()` and `node.fetch()` (HTTP over
 * `node:http` over rxzt connections), a Hono app's fetch, and Express over
 * `toNodeSocket`, against the CI stand-in. The same file runs under Deno
 * (`deno task test`, rxzt from mod.ts, Hono and Express as `npm:`
 * specifiers) and under Node (`deno task test:npm`, the installed npm
 * package; `scripts/test_npm.ts` installs Hono and Express as test-only
 * dependencies of its scratch project). The scenario runs in a child process
 * (one libzt node per process).
 *
 * `RXZT_HTTP_TEST_MB` sets the size of each bulk transfer (default 50).
 */
import assert from "node:assert/strict";
import process from "node:process";
import { before, describe, test } from "node:test";
import { runtime, type ScenarioRun, standinPath } from "./_runtime.ts";
import { assertCleanEnd, runToEnd } from "./_scenario_end.ts";

const MB = Number(process.env.RXZT_HTTP_TEST_MB ?? 50);

interface ErrorInfo {
  name?: string;
  code?: string | number;
  causeCode?: string;
  causeName?: string;
  message?: string;
}

interface Facts {
  unexpected?: { name: string; code?: string; message: string; stack?: string };
  unhandled: string[];
  listen: { onListen: unknown; addr: { transport: string; hostname: string; port: number } };
  json: {
    status: number;
    contentType: string;
    url: string;
    body: {
      echo: unknown;
      method: string;
      contentType: string;
      url: string;
      remoteAddr: { transport: string; hostname: string; port: number };
      peerId: string | null;
    };
    cookies: { status: number; statusText: string; setCookie: string[]; text: string };
    gzip: { encoding: string; length: number; ok: boolean };
    https: ErrorInfo & { isTyped: boolean; protocol: string };
    head: { status: number; body: string };
    notFound: { status: number; text: string };
  };
  bulk: {
    bytes: number;
    up: { status: number; sha256: string; bytes: number; expected: string; ms: number };
    down: {
      status: number;
      sha256: string;
      bytes: number;
      expected: string;
      chunked: string;
      ms: number;
    };
  };
  concurrency: {
    ok: number;
    ms: number;
    connections: number;
    sequentialOk: number;
    sequentialConnections: number;
  };
  throwing: {
    status: number;
    text: string;
    throwCount: number;
    notResponseStatus: number;
    after: { status: number; text: string };
    custom: { status: number; text: string };
  };
  abort: {
    clientError: ErrorInfo;
    server: { aborted: boolean; reason: string; afterMs: number };
    bodyError: ErrorInfo;
    arrivals: number;
  };
  redirects: {
    follow: { status: number; redirected: boolean; url: string; body: unknown };
    manual: { status: number; location: string; redirected: boolean };
    error: ErrorInfo;
    post303: unknown;
    post307: unknown;
    tooMany: ErrorInfo;
    streamed307: ErrorInfo;
  };
  hono: { status?: number; body?: unknown; missing?: number; unavailable?: string };
  express: {
    readBeforeReset?: number;
    after?: { status: number; body: unknown };
    unavailable?: string;
  };
  shutdown: {
    response: { status: number; text: string; connection: string };
    order: string[];
    refused: ErrorInfo;
  };
  lifecycle: string;
  openSockets: number;
  standinSockets: number;
}

describe(`tier 2 under ${runtime}: node.serve() and node.fetch()`, () => {
  let run: ScenarioRun<Facts>;
  let f: Facts;
  before(async () => {
    ({ run, facts: f } = await runToEnd<Facts>(
      "_scenario_http",
      [standinPath(), String(MB)],
      240_000,
    ));
  });

  test("the scenario ran to its end, exited by itself, and nothing was unhandled", () => {
    assertCleanEnd(run, f);
  });

  test("onListen and server.addr give the address; a JSON POST round-trips with its headers", () => {
    assert.deepEqual(f.listen.onListen, f.listen.addr);
    assert.equal(f.listen.addr.transport, "tcp");
    const j = f.json;
    assert.equal(j.status, 200);
    assert.equal(j.contentType, "application/json");
    assert.equal(j.url, `http://127.0.0.1:${f.listen.addr.port}/json?tag=json`);
    assert.deepEqual(j.body.echo, { hello: "zerotier", n: [1, 2, 3] });
    assert.equal(j.body.method, "POST");
    assert.equal(j.body.contentType, "application/json");
    assert.equal(j.body.url, j.url);
    assert.equal(j.body.remoteAddr.transport, "tcp");
    assert.equal(j.body.remoteAddr.hostname, "127.0.0.1");
    assert.ok(j.body.remoteAddr.port > 0);
    assert.equal(j.body.peerId, null, "IPv4 encodes no whole node id");
  });

  test("status text, Set-Cookie list, gzip decoded, HEAD without body, 404 passes through", () => {
    const j = f.json;
    assert.deepEqual(j.cookies, {
      status: 201,
      statusText: "Made",
      setCookie: ["a=1", "b=2"],
      text: "ok",
    });
    assert.deepEqual(j.gzip, { encoding: "gzip", length: 13000, ok: true });
    assert.deepEqual(j.head, { status: 200, body: "" });
    assert.deepEqual(j.notFound, { status: 404, text: "not found" });
  });

  test("https: rejects with UnsupportedProtocolError that says what to do", () => {
    const h = f.json.https;
    assert.equal(h.isTyped, true);
    assert.equal(h.code, "UNSUPPORTED_PROTOCOL");
    assert.equal(h.protocol, "https:");
    assert.match(h.message!, /http:\/\//);
  });

  test(`${MB} MB streamed request body and ${MB} MB streamed response arrive intact (SHA-256)`, () => {
    const { up, down, bytes } = f.bulk;
    assert.equal(bytes, MB * 1024 * 1024);
    assert.equal(up.status, 200);
    assert.equal(up.bytes, bytes);
    assert.equal(up.sha256, up.expected);
    assert.equal(down.status, 200);
    assert.equal(down.bytes, bytes);
    assert.equal(down.sha256, down.expected);
    assert.equal(down.chunked, "chunked", "a streamed response goes out chunked");
    console.log(`  up ${up.ms} ms, down ${down.ms} ms for ${MB} MB each`);
  });

  test("200 concurrent requests all answered; sequential requests reuse one keep-alive connection", () => {
    const c = f.concurrency;
    assert.equal(c.ok, 200);
    assert.ok(c.connections >= 1 && c.connections <= 200, String(c.connections));
    assert.equal(c.sequentialOk, 20);
    assert.equal(c.sequentialConnections, 1, "20 requests in turn over one connection");
    console.log(`  200 concurrent in ${c.ms} ms over ${c.connections} connections`);
  });

  test("a handler that throws gives 500 and the server keeps serving; onError answers instead", () => {
    const t = f.throwing;
    assert.equal(t.status, 500);
    assert.equal(t.text, "Internal Server Error");
    assert.equal(t.throwCount, 1);
    assert.equal(t.notResponseStatus, 500, "a handler returning a non-Response is an error too");
    assert.deepEqual(t.after, { status: 200, text: "xxx" });
    assert.deepEqual(t.custom, { status: 503, text: "custom: boom" });
  });

  test("the client aborting: fetch rejects with AbortError, the server's request.signal aborts", () => {
    const a = f.abort;
    assert.equal(a.clientError.name, "AbortError");
    assert.equal(a.server.aborted, true, a.server.reason);
    assert.ok(a.server.afterMs < 5000);
    assert.equal(a.bodyError.name, "AbortError", "a body being read errors with the abort reason");
    assert.equal(a.arrivals, 1, "the aborted request reached the server once (never sent again)");
  });

  test("redirects: followed (url, redirected), manual, error, 303 → GET, 307 keeps the body, at most 20", () => {
    const r = f.redirects;
    assert.equal(r.follow.status, 200);
    assert.equal(r.follow.redirected, true);
    assert.match(r.follow.url, /\/json-echo$/);
    assert.deepEqual(r.follow.body, { method: "GET", body: null });
    assert.equal(r.manual.status, 302);
    assert.equal(r.manual.location, "/redirect?n=0&status=302");
    assert.equal(r.manual.redirected, false);
    assert.equal(r.error.name, "TypeError");
    assert.deepEqual(r.post303, { method: "GET", body: null });
    assert.deepEqual(r.post307, { method: "POST", body: "keep" });
    assert.equal(r.tooMany.name, "TypeError");
    assert.match(r.tooMany.message!, /20 redirects/);
    assert.equal(r.streamed307.name, "TypeError");
  });

  test("a Hono app's fetch serves unchanged", () => {
    const h = f.hono;
    assert.equal(h.unavailable, undefined, `Hono could not be loaded: ${h.unavailable}`);
    assert.deepEqual(h, { status: 200, body: { hello: "zt" }, missing: 404 });
  });

  test("Express over toNodeSocket: a peer resetting mid-response leaves the process serving", () => {
    const e = f.express;
    assert.equal(e.unavailable, undefined, `Express could not be loaded: ${e.unavailable}`);
    assert.ok(e.readBeforeReset! >= 1024 * 1024);
    assert.deepEqual(e.after, { status: 200, body: { express: true } });
  });

  test("shutdown() during a request: it completes, then finished resolves; then connections are refused", () => {
    const s = f.shutdown;
    assert.deepEqual(s.response, {
      status: 200,
      text: "finished after shutdown",
      connection: "close",
    });
    const at = (what: string) => s.order.indexOf(what);
    assert.ok(at("released") >= 0 && at("released") < at("handler returns"), s.order.join(", "));
    assert.ok(at("handler returns") < at("finished resolved"), s.order.join(", "));
    assert.ok(at("shutdown resolved") > at("handler returns"), s.order.join(", "));
    assert.equal(s.refused.name, "TypeError");
    assert.equal(s.refused.causeCode, "ECONNREFUSED");
  });
});
