/**
 * Tier 2 in both runtimes: the README's snippets for `node:http` frameworks
 * and clients over rxzt sockets, run as written (tests/npm/_scenario_snippets.ts):
 * Express, Fastify and a plain `http.Server` serving over an rxzt listener,
 * `http.request` with `createConnection` and undici's `Client` dialling over
 * rxzt, against the CI stand-in. Under Deno (`deno task test`) the packages
 * are `npm:` specifiers; under Node (`deno task test:npm`) they are test-only
 * dependencies of the scratch project (`TEST_ONLY_DEPENDENCIES` in
 * scripts/test_npm.ts). The scenario runs in a child process (one libzt node
 * per process).
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { runtime, type ScenarioRun, standinPath } from "./_runtime.ts";
import { assertCleanEnd, runToEnd } from "./_scenario_end.ts";

type Failed = { failed?: string };
type Json = { status: number; body: unknown };

interface Facts {
  unexpected?: { name: string; code?: string; message: string; stack?: string };
  unhandled: string[];
  uploadSha256: string;
  express: Failed & Json & { second: Json; connections: number };
  fastify: Failed & Json & {
    contentType: string;
    upload: { status: number; bytes: number; sha256: string };
    missing: number;
  };
  nodeHttp: Failed & { output: string; connections: number };
  undici: Failed & {
    json: Json;
    posted: { status: number; body: { bytes: number; sha256: string } };
    downloaded: { status: number; bytes: number; sha256: string };
    downloadSha256: string;
    requests: number;
    dialled: number;
    serverConnections: number;
  };
  undiciRefused: Failed & { rejected: boolean; code?: string };
  lifecycle: string;
  openSockets: number;
  standinSockets: number;
}

const MB = 1024 * 1024;

describe(`tier 2 under ${runtime}: the README's framework and client snippets`, () => {
  let run: ScenarioRun<Facts>;
  let f: Facts;
  before(async () => {
    ({ run, facts: f } = await runToEnd<Facts>("_scenario_snippets", [standinPath()], 120_000));
  });

  test("the scenario ran to its end, exited by itself, and nothing was unhandled", () => {
    assertCleanEnd(run, f);
  });

  test("Express over an rxzt listener: JSON, two requests in turn over one kept-alive connection", () => {
    const e = f.express;
    assert.equal(e.failed, undefined, e.failed);
    assert.deepEqual({ status: e.status, body: e.body }, {
      status: 200,
      body: { hello: "zerotier" },
    });
    assert.deepEqual(e.second, { status: 200, body: { hello: "zerotier" } });
    assert.equal(e.connections, 1);
  });

  test("Fastify through serverFactory over an rxzt listener: JSON route, 1 MB upload (SHA-256), 404", () => {
    const x = f.fastify;
    assert.equal(x.failed, undefined, x.failed);
    assert.equal(x.status, 200);
    assert.match(x.contentType, /^application\/json/);
    assert.deepEqual(x.body, { hello: "zerotier" });
    assert.deepEqual(x.upload, { status: 200, bytes: MB, sha256: f.uploadSha256 });
    assert.equal(x.missing, 404);
  });

  test("node:http: http.Server fed by the listener, http.request with createConnection", () => {
    const h = f.nodeHttp;
    assert.equal(h.failed, undefined, h.failed);
    assert.equal(h.output, "hi 127.0.0.1\n");
    assert.equal(h.connections, 1);
  });

  test("undici Client with connect: GET JSON, POST 1 MB and GET 1 MB (SHA-256) over one connection", () => {
    const u = f.undici;
    assert.equal(u.failed, undefined, u.failed);
    assert.deepEqual(u.json, { status: 200, body: { hello: "zerotier" } });
    assert.deepEqual(u.posted, { status: 200, body: { bytes: MB, sha256: f.uploadSha256 } });
    assert.deepEqual(u.downloaded, { status: 200, bytes: MB, sha256: u.downloadSha256 });
    assert.equal(u.dialled, 1, `${u.requests} requests, one dial`);
    assert.equal(u.serverConnections, 1, "the server saw one connection");
  });

  test("undici: a refused connection rejects the request with ECONNREFUSED", () => {
    const r = f.undiciRefused;
    assert.equal(r.failed, undefined, r.failed);
    assert.deepEqual(r, { rejected: true, code: "ECONNREFUSED" });
  });
});
