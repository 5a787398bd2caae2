/**
 * The README's snippets for `node:http` frameworks and clients over rxzt
 * sockets, run as the README writes them (only the address, the port and
 * where the output goes differ), in both runtimes (run by snippets_test.ts
 * in a child process of the same runtime: one libzt node per process):
 * Express, Fastify and a plain `http.Server` serving over an rxzt listener;
 * `http.request` with `createConnection` and undici's `Client` dialling over
 * rxzt. Prints one JSON object with what it saw, stops the node and returns
 * WITHOUT exiting: the process must end by itself.
 *
 * The packages come as `npm:` specifiers under Deno and from the scratch
 * project under Node (`TEST_ONLY_DEPENDENCIES` in scripts/test_npm.ts).
 * Every unhandled rejection and uncaught exception is recorded.
 *
 * Usage: <runtime> _scenario_snippets.(ts|js) <standin path>
 */
import { Buffer } from "node:buffer";
import { createHash, randomFillSync } from "node:crypto";
import http from "node:http";
import process from "node:process";
import {
  adhocIPv4NetworkId,
  dialNodeSocket,
  toNodeSocket,
  ZeroTierNode,
  type ZeroTierSocket,
} from "rxzt";
import { runtime, standinControl } from "./_runtime.ts";
import {
  describeError,
  printFacts,
  recordUnexpected,
  stopAndCount,
  watchUnhandled,
} from "./_scenario_end.ts";

const [libraryPath] = process.argv.slice(2);
const out: Record<string, unknown> = { runtime };
const unhandled = watchUnhandled();

const describe = describeError;

/** A test-only package: an `npm:` specifier under Deno, the scratch project's under Node. */
// deno-lint-ignore no-explicit-any
const load = (name: string, range: string): Promise<any> =>
  import(runtime === "deno" ? `npm:${name}@${range}` : name);

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Rejects after `ms` with a message naming `what`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Runs one snippet's step; a failure is recorded as `{ failed }` and the scenario goes on. */
async function step(name: string, body: () => Promise<unknown>): Promise<void> {
  try {
    out[name] = await within(body(), 20_000, name);
  } catch (e) {
    out[name] = { failed: describe(e) };
  }
}

const MB = 1024 * 1024;
const upload = randomFillSync(new Uint8Array(MB));
out.uploadSha256 = sha256(upload);

try {
  const ctl = await standinControl(libraryPath);
  const node = await ZeroTierNode.start({ libraryPath, timeout: 5000 });
  await node.waitUntilOnline({ timeout: 3000 });
  await node.join(adhocIPv4NetworkId(10), { timeout: 3000 });
  const hostname = "127.0.0.1"; // the README: a ZeroTier address of the serving node
  const cleanup: (() => unknown)[] = [];
  /** Counts the connections `server` is given, and closes them (kept alive) at the end. */
  const watch = (server: http.Server) => {
    const seen = { connections: 0 };
    server.on("connection", () => seen.connections++);
    cleanup.push(() => server.closeAllConnections());
    return seen;
  };

  // README, "Express, Fastify and other node:http frameworks": Express.
  await step("express", async () => {
    const express = (await load("express", "^5")).default;
    // --- README snippet (its handler is untyped there)
    const app = express();
    app.get(
      "/",
      (_req: unknown, res: { json(v: unknown): void }) => res.json({ hello: "zerotier" }),
    );
    const server = http.createServer(app);
    Object.defineProperty(server, "listening", { get: () => true }); // Deno: keep-alive (see below)
    const listener = node.listen({ hostname, port: 0 }); // README: { port: 5000 }
    (async () => {
      for await (const conn of listener) server.emit("connection", toNodeSocket(conn));
    })();
    // --- end of snippet
    const seen = watch(server);
    cleanup.push(() => listener.close());
    const base = `http://${hostname}:${listener.addr.port}`;
    const first = await node.fetch(`${base}/`);
    const body = await first.json();
    const second = await node.fetch(`${base}/`);
    return {
      status: first.status,
      body,
      second: { status: second.status, body: await second.json() },
      connections: seen.connections,
    };
  });

  // README: Fastify through its serverFactory.
  let origin = "";
  let downloadSha256 = "";
  let fastifySeen = { connections: 0 };
  await step("fastify", async () => {
    const Fastify = (await load("fastify", "^5")).default;
    // --- README snippet (typed here)
    let server!: http.Server;
    const app = Fastify({
      serverFactory: (handler: http.RequestListener) => (server = http.createServer(handler)),
    });
    app.get("/", () => ({ hello: "zerotier" }));
    app.addContentTypeParser(
      "application/octet-stream",
      { parseAs: "buffer", bodyLimit: 16 * 1024 * 1024 },
      (_req: unknown, body: Buffer, done: (err: null, body: Buffer) => void) => done(null, body),
    );
    app.post("/upload", (req: { body: Buffer }) => ({
      bytes: req.body.length,
      sha256: createHash("sha256").update(req.body).digest("hex"),
    }));
    // --- (not in the README: a route for the undici step, 1 MB down)
    const download = randomFillSync(new Uint8Array(MB));
    downloadSha256 = sha256(download);
    app.get("/download", (_req: unknown, reply: { type(t: string): unknown }) => {
      reply.type("application/octet-stream");
      return Buffer.from(download);
    });
    // ---
    await app.ready(); // Fastify never listen()s: rxzt's listener feeds its server
    Object.defineProperty(server, "listening", { get: () => true }); // Deno: keep-alive
    const listener = node.listen({ hostname, port: 0 }); // README: { port: 5000 }
    (async () => {
      for await (const conn of listener) server.emit("connection", toNodeSocket(conn));
    })();
    // --- end of snippet
    fastifySeen = watch(server);
    cleanup.push(() => listener.close(), () => app.close());
    origin = `http://${hostname}:${listener.addr.port}`;
    const json = await node.fetch(`${origin}/`);
    const up = await node.fetch(`${origin}/upload`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: upload,
    });
    const missing = await node.fetch(`${origin}/none`);
    await missing.body?.cancel();
    return {
      status: json.status,
      contentType: json.headers.get("content-type"),
      body: await json.json(),
      upload: { status: up.status, ...(await up.json()) },
      missing: missing.status,
    };
  });

  // README, "Sockets for node:http": an http.Server fed by the listener, http.request dialling.
  await step("nodeHttp", async () => {
    let output = "";
    let seen = { connections: 0 };
    await new Promise<void>((resolve, reject) => {
      // --- README snippet
      const server = http.createServer((req, res) => res.end(`hi ${req.socket.remoteAddress}\n`));
      Object.defineProperty(server, "listening", { get: () => true }); // Deno: keep-alive
      const listener = node.listen({ hostname, port: 0 }); // README: { port: 80 }
      (async () => {
        for await (const conn of listener) server.emit("connection", toNodeSocket(conn));
      })();
      const port = listener.addr.port; // README: 80
      seen = watch(server);
      cleanup.push(() => listener.close());

      http.request({
        host: hostname, // the Host header; ZeroTier has no DNS
        createConnection: () => dialNodeSocket(node, { hostname, port }),
      }, (res) => {
        res.setEncoding("utf8");
        res.on("data", (text: string) => (output += text)); // README: res.pipe(process.stdout)
        res.on("end", resolve);
      }).on("error", reject).end();
      // --- end of snippet
    });
    return { output, connections: seen.connections };
  });

  // README: undici's Client dialling through `connect`, against the Fastify app above.
  await step("undici", async () => {
    const { Client } = await load("undici", "^7");
    if (!origin) throw new Error("the Fastify step did not serve");
    const before = fastifySeen.connections;
    let dialled = 0;
    // --- README snippet (typed here)
    const client = new Client(origin, { // README: "http://10.44.238.229:5000"
      connect: (
        opts: { hostname: string; port: string },
        callback: (err: Error | null, socket: ZeroTierSocket | null) => void,
      ) => {
        dialled++; // (not in the README)
        const socket = dialNodeSocket(node, {
          hostname: opts.hostname,
          port: Number(opts.port) || 80,
        });
        const failed = (err: Error) => callback(err, null);
        socket.once("error", failed);
        socket.once("connect", () => {
          socket.off("error", failed);
          callback(null, socket);
        });
      },
    });
    const res = await client.request({ method: "GET", path: "/" });
    const json = { status: res.statusCode, body: await res.body.json() };
    const up = await client.request({
      method: "POST",
      path: "/upload",
      headers: { "content-type": "application/octet-stream" },
      body: upload, // README: new Uint8Array(1024 * 1024)
    });
    const posted = { status: up.statusCode, body: await up.body.json() };
    // --- end of snippet (the README closes the client here)
    const down = await client.request({ method: "GET", path: "/download" });
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of down.body) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    const downloaded = { status: down.statusCode, bytes, sha256: hash.digest("hex") };
    await client.close();
    return {
      json,
      posted,
      downloaded,
      downloadSha256,
      requests: 3,
      dialled,
      serverConnections: fastifySeen.connections - before,
    };
  });

  // undici: a refused connection rejects the request; nothing unhandled.
  await step("undiciRefused", async () => {
    const { Client } = await load("undici", "^7");
    const gone = node.listen({ hostname, port: 0 });
    const port = gone.addr.port;
    gone.close();
    const client = new Client(`http://${hostname}:${port}`, {
      connect: (
        opts: { hostname: string; port: string },
        callback: (err: Error | null, socket: ZeroTierSocket | null) => void,
      ) => {
        const socket = dialNodeSocket(node, { hostname: opts.hostname, port: Number(opts.port) });
        const failed = (err: Error) => callback(err, null);
        socket.once("error", failed);
        socket.once("connect", () => {
          socket.off("error", failed);
          callback(null, socket);
        });
      },
    });
    try {
      await client.request({ method: "GET", path: "/" });
      return { rejected: false };
    } catch (e) {
      return { rejected: true, code: (e as { code?: string }).code };
    } finally {
      await client.close();
    }
  });

  for (const close of cleanup) await close();
  await stopAndCount(out, node, ctl);
} catch (err) {
  recordUnexpected(out, err);
}
printFacts(out, unhandled);
