/**
 * The tier-2 scenario of `node.serve()` / `node.fetch()` in both runtimes
 * (run by http_test.ts in a child process of the same runtime: one libzt
 * node per process). Starts a node on the stand-in, serves HTTP and fetches
 * over it, prints one JSON object with what it saw, stops the node and
 * returns WITHOUT exiting: the process must end by itself.
 *
 * Every unhandled rejection and uncaught exception is recorded (and then
 * not fatal, so the JSON still says what happened).
 *
 * Usage: <runtime> _scenario_http.(ts|js) <standin path> [MB per bulk transfer]
 */
import { createHash } from "node:crypto";
import process from "node:process";
import {
  adhocIPv4NetworkId,
  type HttpServeInfo,
  toNodeSocket,
  UnsupportedProtocolError,
  ZeroTierNode,
} from "rxzt";
import { runtime, standinControl } from "./_runtime.ts";
import {
  describeError,
  printFacts,
  recordUnexpected,
  stopAndCount,
  watchUnhandled,
} from "./_scenario_end.ts";

const [libraryPath, mbArg] = process.argv.slice(2);
const MB = Number(mbArg ?? 50);
const out: Record<string, unknown> = { runtime, mb: MB };
const unhandled = watchUnhandled();

const describe = describeError;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rejects after `ms` with a message naming `what`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** A deferred promise. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const CHUNK = 256 * 1024;
/** `bytes` of pseudo-random data as a stream (chunks of 256 KiB), hashed into `hash` as it goes. */
function generated(bytes: number, hash: ReturnType<typeof createHash>): ReadableStream<Uint8Array> {
  let sent = 0;
  let seed = 0x9e3779b9;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const n = Math.min(CHUNK, bytes - sent);
      const chunk = new Uint8Array(n);
      const words = new Uint32Array(chunk.buffer, 0, n >> 2);
      for (let i = 0; i < words.length; i++) {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        words[i] = seed;
      }
      hash.update(chunk);
      sent += n;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

/** SHA-256 and length of a stream. */
async function digestOf(
  stream: ReadableStream<Uint8Array>,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { sha256: hash.digest("hex"), bytes };
}

function errorInfo(e: unknown) {
  const err = e as {
    name?: string;
    code?: string;
    message?: string;
    cause?: { code?: string; name?: string };
  };
  return {
    name: err?.name,
    code: err?.code,
    causeCode: err?.cause?.code,
    causeName: err?.cause?.name,
    message: err?.message,
  };
}

try {
  const ctl = await standinControl(libraryPath);
  const node = await ZeroTierNode.start({ libraryPath, timeout: 5000 });
  await node.waitUntilOnline({ timeout: 3000 });
  await node.join(adhocIPv4NetworkId(10), { timeout: 3000 });
  const hostname = "127.0.0.1";

  // One server for most steps: routes by path.
  const remotePorts = new Map<string, Set<number>>(); // per test tag: client ports seen
  const seen = (tag: string | null, info: HttpServeInfo) => {
    if (!tag) return;
    const set = remotePorts.get(tag) ?? new Set<number>();
    set.add(info.remoteAddr.port);
    remotePorts.set(tag, set);
  };
  let listened: unknown;
  const abortSeen = deferred<{ aborted: boolean; reason: string; afterMs: number }>();
  const abortEntered = deferred();
  let slowAbortArrivals = 0;
  let throwCount = 0;
  const server = node.serve({
    port: 0,
    hostname,
    onListen: (addr) => (listened = addr),
  }, async (request, info) => {
    const url = new URL(request.url);
    seen(url.searchParams.get("tag"), info);
    switch (url.pathname) {
      case "/json": {
        const body = await request.json();
        return Response.json({
          echo: body,
          method: request.method,
          contentType: request.headers.get("content-type"),
          url: request.url,
          remoteAddr: info.remoteAddr,
          peerId: info.peerId ?? null,
        });
      }
      case "/upload":
        return Response.json(await digestOf(request.body!));
      case "/download": {
        const hash = createHash("sha256");
        const bytes = Number(url.searchParams.get("bytes"));
        const body = generated(bytes, hash);
        return new Response(body, { headers: { "x-bytes": String(bytes) } });
      }
      case "/small":
        return new Response("x".repeat(Number(url.searchParams.get("bytes") ?? 1024)));
      case "/slow-abort": {
        slowAbortArrivals++;
        const t0 = performance.now();
        abortEntered.resolve();
        const reason = await new Promise<string>((resolve) => {
          request.signal.addEventListener("abort", () => resolve(describe(request.signal.reason)));
          setTimeout(() => resolve("not aborted within 5 s"), 5000);
        });
        abortSeen.resolve({
          aborted: request.signal.aborted,
          reason,
          afterMs: Math.round(performance.now() - t0),
        });
        return new Response("late");
      }
      case "/throw":
        throwCount++;
        throw new Error("handler failure (expected by the test)");
      case "/not-a-response":
        return "oops" as unknown as Response;
      case "/redirect": {
        const n = Number(url.searchParams.get("n"));
        const status = Number(url.searchParams.get("status") ?? 302);
        const target = n > 0 ? `/redirect?n=${n - 1}&status=${status}` : "/json-echo";
        return new Response(null, { status, headers: { location: target } });
      }
      case "/json-echo":
        return Response.json({
          method: request.method,
          body: request.body ? await request.text() : null,
        });
      case "/gzip": {
        const text = "compressible ".repeat(1000);
        const body = new Blob([text]).stream().pipeThrough(
          new CompressionStream("gzip") as ReadableWritablePair<Uint8Array, Uint8Array>,
        );
        return new Response(body, { headers: { "content-encoding": "gzip" } });
      }
      case "/cookies": {
        const h = new Headers();
        h.append("set-cookie", "a=1");
        h.append("set-cookie", "b=2");
        return new Response("ok", { status: 201, statusText: "Made", headers: h });
      }
      default:
        return new Response("not found", { status: 404 });
    }
  });
  const base = `http://${hostname}:${server.addr.port}`;
  out.listen = { onListen: listened, addr: server.addr };

  // 1. JSON round trip; status text, cookies, gzip; https refused; argument errors.
  {
    const res = await within(
      node.fetch(`${base}/json?tag=json`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ hello: "zerotier", n: [1, 2, 3] }),
      }),
      5000,
      "json",
    );
    const cookies = await node.fetch(`${base}/cookies`);
    const gz = await node.fetch(`${base}/gzip`);
    const gzText = await gz.text();
    let https: unknown;
    try {
      await node.fetch("https://127.0.0.1:443/");
    } catch (e) {
      https = {
        ...errorInfo(e),
        isTyped: e instanceof UnsupportedProtocolError,
        protocol: (e as UnsupportedProtocolError).protocol,
      };
    }
    const head = await node.fetch(`${base}/small?bytes=10`, { method: "HEAD" });
    const notFound = await node.fetch(`${base}/nope`);
    out.json = {
      status: res.status,
      contentType: res.headers.get("content-type"),
      url: res.url,
      body: await res.json(),
      cookies: {
        status: cookies.status,
        statusText: cookies.statusText,
        setCookie: cookies.headers.getSetCookie(),
        text: await cookies.text(),
      },
      gzip: {
        encoding: gz.headers.get("content-encoding"),
        length: gzText.length,
        ok: gzText === "compressible ".repeat(1000),
      },
      https,
      head: { status: head.status, body: await head.text() },
      notFound: { status: notFound.status, text: await notFound.text() },
    };
  }

  // 2. 50 MB up (streamed request body) and 50 MB down (streamed response), SHA-256 checked.
  {
    const bytes = MB * 1024 * 1024;
    const upHash = createHash("sha256");
    let t0 = performance.now();
    const up = await within(
      node.fetch(`${base}/upload`, {
        method: "POST",
        body: generated(bytes, upHash),
        duplex: "half",
      } as RequestInit),
      120_000,
      "upload",
    );
    const upResult = await up.json() as { sha256: string; bytes: number };
    const upMs = performance.now() - t0;
    t0 = performance.now();
    const down = await within(node.fetch(`${base}/download?bytes=${bytes}`), 10_000, "download");
    const downResult = await within(digestOf(down.body!), 120_000, "download body");
    const downMs = performance.now() - t0;
    const expectDown = createHash("sha256");
    await digestOf(generated(bytes, expectDown));
    out.bulk = {
      bytes,
      up: { status: up.status, ...upResult, expected: upHash.digest("hex"), ms: Math.round(upMs) },
      down: {
        status: down.status,
        ...downResult,
        expected: expectDown.digest("hex"),
        chunked: down.headers.get("transfer-encoding"),
        ms: Math.round(downMs),
      },
    };
  }

  // 3. 200 concurrent requests, then keep-alive reuse: 20 sequential requests, one connection.
  {
    const t0 = performance.now();
    const results = await within(
      Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const res = await node.fetch(`${base}/json?tag=concurrent`, {
            method: "POST",
            body: JSON.stringify({ i }),
          });
          const j = await res.json() as { echo: { i: number } };
          return res.status === 200 && j.echo.i === i;
        }),
      ),
      60_000,
      "200 concurrent",
    );
    const concurrentMs = performance.now() - t0;
    await sleep(50);
    let sequentialOk = 0;
    for (let i = 0; i < 20; i++) {
      const res = await node.fetch(`${base}/small?tag=sequential&bytes=1024`);
      if (res.status === 200 && (await res.text()).length === 1024) sequentialOk++;
    }
    out.concurrency = {
      ok: results.filter(Boolean).length,
      ms: Math.round(concurrentMs),
      connections: remotePorts.get("concurrent")?.size,
      sequentialOk,
      sequentialConnections: remotePorts.get("sequential")?.size,
    };
  }

  // 4. A handler that throws: 500, and the server keeps serving; onError; not a Response.
  {
    const failed = await node.fetch(`${base}/throw`);
    const failedText = await failed.text();
    const notResponse = await node.fetch(`${base}/not-a-response`);
    await notResponse.text();
    const after = await node.fetch(`${base}/small?bytes=3`);
    const custom = node.serve({
      port: 0,
      hostname,
      onError: (e) => new Response(`custom: ${(e as Error).message}`, { status: 503 }),
    }, () => {
      throw new Error("boom");
    });
    const c = await node.fetch(`http://${hostname}:${custom.addr.port}/`);
    const customText = await c.text();
    await custom.shutdown();
    out.throwing = {
      status: failed.status,
      text: failedText,
      throwCount,
      notResponseStatus: notResponse.status,
      after: { status: after.status, text: await after.text() },
      custom: { status: c.status, text: customText },
    };
  }

  // 5. The client aborts: fetch rejects with the abort reason, the server's request.signal aborts.
  {
    const controller = new AbortController();
    const pending = node.fetch(`${base}/slow-abort`, { signal: controller.signal });
    await within(abortEntered.promise, 5000, "handler entered");
    controller.abort();
    let clientError: unknown;
    try {
      await pending;
    } catch (e) {
      clientError = errorInfo(e);
    }
    const server = await within(abortSeen.promise, 6000, "server saw the abort");
    // An aborted request is never sent again (Deno's node:http client did, on a new connection).
    await sleep(300);
    const arrivals = slowAbortArrivals;
    // A body being read when the signal aborts errors with the reason.
    const c2 = new AbortController();
    const down = await node.fetch(`${base}/download?bytes=${64 * 1024 * 1024}`, {
      signal: c2.signal,
    });
    const reader = down.body!.getReader();
    await reader.read();
    c2.abort();
    let bodyError: unknown;
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch (e) {
      bodyError = errorInfo(e);
    }
    out.abort = { clientError, server, bodyError, arrivals };
  }

  // 6. Redirects: follow (up to 20), manual, error, 303 turns POST into GET, too many.
  {
    const follow = await node.fetch(`${base}/redirect?n=3`);
    const followBody = await follow.json();
    const manual = await node.fetch(`${base}/redirect?n=1`, { redirect: "manual" });
    let error: unknown;
    try {
      await node.fetch(`${base}/redirect?n=1`, { redirect: "error" });
    } catch (e) {
      error = errorInfo(e);
    }
    const post303 = await node.fetch(`${base}/redirect?n=0&status=303`, {
      method: "POST",
      body: "x",
    });
    const post307 = await node.fetch(`${base}/redirect?n=0&status=307`, {
      method: "POST",
      body: "keep",
    });
    let tooMany: unknown;
    try {
      await node.fetch(`${base}/redirect?n=21`);
    } catch (e) {
      tooMany = errorInfo(e);
    }
    let streamed307: unknown;
    try {
      await node.fetch(`${base}/redirect?n=0&status=307`, {
        method: "POST",
        body: new Blob(["s"]).stream(),
        duplex: "half",
      } as RequestInit);
    } catch (e) {
      streamed307 = errorInfo(e);
    }
    out.redirects = {
      follow: {
        status: follow.status,
        redirected: follow.redirected,
        url: follow.url,
        body: followBody,
      },
      manual: {
        status: manual.status,
        location: manual.headers.get("location"),
        redirected: manual.redirected,
      },
      error,
      post303: await post303.json(),
      post307: await post307.json(),
      tooMany,
      streamed307,
    };
  }

  // 7. A Hono app's fetch, served unchanged.
  {
    try {
      const spec = runtime === "deno" ? "npm:hono@^4" : "hono";
      const { Hono } = await import(spec);
      const app = new Hono();
      app.get(
        "/hello/:name",
        (c: { req: { param(n: string): string }; json(v: unknown): Response }) =>
          c.json({ hello: c.req.param("name") }),
      );
      const hono = node.serve({ port: 0, hostname }, app.fetch);
      const res = await node.fetch(`http://${hostname}:${hono.addr.port}/hello/zt`);
      const missing = await node.fetch(`http://${hostname}:${hono.addr.port}/none`);
      await missing.text();
      out.hono = { status: res.status, body: await res.json(), missing: missing.status };
      await hono.shutdown();
    } catch (e) {
      out.hono = { unavailable: describe(e) };
    }
  }

  // 8. Express over toNodeSocket; a peer resetting mid-response leaves the process running.
  {
    try {
      const spec = runtime === "deno" ? "npm:express@^5" : "express";
      const express = (await import(spec)).default;
      const app = express();
      const big = new Uint8Array(256 * 1024);
      app.get(
        "/big",
        (
          _req: unknown,
          res: {
            write(b: Uint8Array): boolean;
            end(): void;
            once(e: string, f: () => void): void;
            destroyed: boolean;
          },
        ) => {
          let sent = 0;
          const pump = () => {
            while (sent < 64 * 1024 * 1024 && !res.destroyed) {
              sent += big.length;
              if (!res.write(big)) return res.once("drain", pump);
            }
            res.end();
          };
          pump();
        },
      );
      app.get(
        "/ok",
        (_req: unknown, res: { json(v: unknown): void }) => res.json({ express: true }),
      );
      const { createServer } = await import("node:http");
      const httpServer = createServer(app);
      Object.defineProperty(httpServer, "listening", { get: () => true });
      const listener = node.listen({ hostname, port: 0 });
      const sockets: { destroy(): void }[] = [];
      (async () => {
        for await (const conn of listener) {
          const s = toNodeSocket(conn);
          sockets.push(s);
          httpServer.emit("connection", s);
        }
      })();
      const port = listener.addr.port;
      // A raw client: request the big body, read a little, then reset.
      const conn = await node.connect({ hostname, port, timeout: 3000 });
      const w = conn.writable.getWriter();
      await w.write(new TextEncoder().encode(`GET /big HTTP/1.1\r\nhost: x\r\n\r\n`));
      const reader = conn.readable.getReader();
      let got = 0;
      while (got < 1024 * 1024) {
        const r = await reader.read();
        if (r.done) break;
        got += r.value.byteLength;
      }
      conn.setLinger(0);
      conn.close();
      await sleep(300);
      const ok = await node.fetch(`http://${hostname}:${port}/ok`);
      out.express = { readBeforeReset: got, after: { status: ok.status, body: await ok.json() } };
      listener.close();
      for (const s of sockets) s.destroy();
    } catch (e) {
      out.express = { unavailable: describe(e) };
    }
  }

  // 9. shutdown() during a request: the request completes, then finished resolves; idle
  //    keep-alive connections close at once; new connections are refused.
  {
    const release = deferred();
    const entered = deferred();
    const order: string[] = [];
    const s = node.serve({ port: 0, hostname }, async (request) => {
      if (new URL(request.url).pathname === "/idle") return new Response("idle");
      entered.resolve();
      await release.promise;
      order.push("handler returns");
      return new Response("finished after shutdown");
    });
    const url = `http://${hostname}:${s.addr.port}`;
    // An idle keep-alive connection first (a separate client: its socket stays pooled).
    await (await node.fetch(`${url}/idle`)).text();
    const pending = node.fetch(`${url}/slow`).then(async (res) => {
      const text = await res.text();
      order.push("response read");
      return { status: res.status, text, connection: res.headers.get("connection") };
    });
    await within(entered.promise, 5000, "slow handler entered");
    const shutdown = s.shutdown().then(() => order.push("shutdown resolved"));
    s.finished.then(() => order.push("finished resolved"));
    await sleep(100);
    order.push("released");
    release.resolve();
    const response = await within(pending, 5000, "request in flight");
    await within(shutdown, 5000, "shutdown");
    let refused: unknown;
    try {
      await node.fetch(`${url}/idle`);
    } catch (e) {
      refused = errorInfo(e);
    }
    out.shutdown = { response, order, refused };
  }

  await server.shutdown();
  await stopAndCount(out, node, ctl);
} catch (err) {
  recordUnexpected(out, err);
}
printFacts(out, unhandled);
