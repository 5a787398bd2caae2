/**
 * The tier-2 scenario of `toNodeSocket` / `dialNodeSocket` in both runtimes
 * (run by node_socket_test.ts in a child process of the same runtime: one
 * libzt node per process). Starts a node on the stand-in, runs rxzt
 * connections as `node:stream` Duplexes and under `node:http`, prints one
 * JSON object with what it saw, stops the node and returns WITHOUT exiting:
 * the process must end by itself.
 *
 * Every unhandled rejection and uncaught exception is recorded (and then
 * not fatal, so the JSON still says what happened).
 *
 * Usage: <runtime> _scenario_node_socket.(ts|js) <standin path>
 */
import { Buffer } from "node:buffer";
import { createHash, randomFillSync } from "node:crypto";
import http from "node:http";
import process from "node:process";
import type { Duplex } from "node:stream";
import {
  adhocIPv4NetworkId,
  dialNodeSocket,
  type TcpConn,
  type TcpListener,
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

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rejects after `ms` with a message naming `what`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** What {@link next} resolves with when the event did not come in time. */
const NO_EVENT = "no event in time";

/** Resolves with the first `event` of `emitter` (its first argument, or the event's name), or NO_EVENT after `ms`. */
function next(emitter: Duplex, event: string, ms: number): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      resolve(NO_EVENT);
    }, ms);
    const on = (v: unknown) => {
      clearTimeout(timer);
      resolve(v ?? event);
    };
    emitter.once(event, on);
  });
}

/** Resolves once `s` has emitted 'close' (at once when it has already), or NO_EVENT after `ms`. */
function whenClosed(s: Duplex, ms: number): Promise<unknown> {
  return s.closed ? Promise.resolve("close") : next(s, "close", ms);
}

/** Everything a Duplex yields until its end. */
async function readAll(s: Duplex): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of s) parts.push(c as Uint8Array);
  return new Uint8Array(Buffer.concat(parts));
}

/** Writes `data` in `chunk`-sized pieces, honouring write() === false by waiting for 'drain'. */
async function writeAll(s: Duplex, data: Uint8Array, chunk = 64 * 1024): Promise<number> {
  let falses = 0;
  for (let o = 0; o < data.length; o += chunk) {
    if (!s.write(data.subarray(o, o + chunk))) {
      falses++;
      await new Promise((r) => s.once("drain", r));
    }
  }
  return falses;
}

/** Accepted connections, one at a time (the scenario's steps each take what they made). */
function acceptor(listener: TcpListener) {
  return () => within(listener.accept(), 3000, "accept");
}

try {
  const ctl = await standinControl(libraryPath);
  const node = await ZeroTierNode.start({ libraryPath, timeout: 5000 });
  await node.waitUntilOnline({ timeout: 3000 });
  await node.join(adhocIPv4NetworkId(10), { timeout: 3000 });
  const hostname = "127.0.0.1";
  const listener = node.listen({ port: 0, hostname });
  const port = listener.addr.port;
  const accept = acceptor(listener);
  const pair = async (): Promise<[TcpConn, TcpConn]> => {
    const [c, s] = await Promise.all([node.connect({ hostname, port, timeout: 3000 }), accept()]);
    return [c, s];
  };

  // 1. Round trip: 8 MB through a Duplex on each end, echoed by the server's Duplex with pipe().
  {
    const [c, s] = await pair();
    const server = toNodeSocket(s);
    server.pipe(server); // echo: pipe() honours backpressure both ways
    const client = toNodeSocket(c);
    const payload = randomFillSync(new Uint8Array(8 * 1024 * 1024));
    const t0 = performance.now();
    const [falses, echoed] = await within(
      Promise.all([writeAll(client, payload).then((f) => (client.end(), f)), readAll(client)]),
      20_000,
      "8 MB echo",
    );
    const transferMs = Math.round(performance.now() - t0);
    await within(Promise.all([whenClosed(client, 3000), whenClosed(server, 3000)]), 4000, "close");
    out.roundTrip = {
      bytes: echoed.length,
      intact: sha(echoed) === sha(payload),
      transferMs,
      closeMs: Math.round(performance.now() - t0) - transferMs,
      writeReturnedFalse: falses,
      client: { bytesRead: client.bytesRead, bytesWritten: client.bytesWritten },
      server: { bytesRead: server.bytesRead, bytesWritten: server.bytesWritten },
      connClosed: await within(Promise.all([c.closed, s.closed]), 2000, "conn.closed").then(() =>
        true
      ),
      readyStateAfter: client.readyState,
    };
  }

  // 2. Properties as net.Socket has them.
  {
    const [c, s] = await pair();
    const client = toNodeSocket(c);
    const server = toNodeSocket(s);
    out.properties = {
      client: {
        remoteAddress: client.remoteAddress,
        remotePort: client.remotePort,
        remoteFamily: client.remoteFamily,
        localAddress: client.localAddress,
        localPort: client.localPort,
        address: client.address(),
        connecting: client.connecting,
        pending: client.pending,
        readyState: client.readyState,
      },
      server: {
        remoteAddress: server.remoteAddress,
        remotePort: server.remotePort,
        localPort: server.localPort,
      },
      chain: client.setNoDelay(true) === client && client.setKeepAlive(true, 5000) === client &&
        client.ref() === client && client.unref() === client,
    };
    // setTimeout: 'timeout' after ~150 ms idle, postponed by traffic, off with 0.
    const t0 = performance.now();
    client.setTimeout(150);
    server.on("data", () => {});
    for (let i = 0; i < 4; i++) {
      await sleep(80);
      client.write("x"); // activity within the timeout
    }
    const fired = await next(client, "timeout", 1000);
    const firedAfterMs = Math.round(performance.now() - t0);
    const timeoutProperty = client.timeout;
    client.setTimeout(0);
    const afterOff = await next(client, "timeout", 300);
    out.timeout = { fired, firedAfterMs, timeoutProperty, afterOff };
    client.destroySoon();
    await within(
      Promise.all([whenClosed(client, 2000), next(server, "end", 2000)]),
      3000,
      "destroySoon",
    );
    server.destroy();
    out.destroySoon = { destroyed: client.destroyed, readyState: client.readyState };
  }

  // 3. Backpressure: a reader that does not read stalls the writer (write() false, no 'drain'),
  //    and its Duplex takes nothing from the connection; reading again brings 'drain'.
  {
    const [c, s] = await pair();
    const client = toNodeSocket(c);
    const server = toNodeSocket(s);
    const chunk = randomFillSync(new Uint8Array(64 * 1024));
    const sent = createHash("sha256");
    let written = 0;
    let stalledAt = -1;
    while (written < 256 * 1024 * 1024) {
      sent.update(chunk);
      written += chunk.length;
      if (!client.write(chunk) && (await next(client, "drain", 400)) === NO_EVENT) {
        stalledAt = written;
        break;
      }
    }
    const serverReadWhileIgnored = server.bytesRead;
    const clientTakenAtStall = client.bytesWritten;
    await sleep(200);
    const clientTakenLater = client.bytesWritten;
    // Now read, slowly at first: the Duplex's buffer stays near its high-water mark.
    const got = createHash("sha256");
    let received = 0;
    let maxBuffered = 0;
    const drained = next(client, "drain", 5000);
    const reading = new Promise<void>((resolve) => {
      server.on("readable", () => {
        let b: Uint8Array | null;
        maxBuffered = Math.max(maxBuffered, server.readableLength);
        while ((b = server.read()) !== null) {
          got.update(b);
          received += b.length;
        }
      });
      server.on("end", resolve);
    });
    const drainArrived = await drained;
    // The rest: a few MB more, then end.
    const rest = randomFillSync(new Uint8Array(2 * 1024 * 1024));
    sent.update(rest);
    written += rest.length;
    await writeAll(client, rest);
    client.end();
    await within(reading, 20_000, "backpressure: the reader gets everything");
    out.backpressure = {
      stalledAt,
      serverReadWhileIgnored,
      clientTakenAtStall,
      clientTakenLater,
      drainAfterReading: drainArrived !== NO_EVENT,
      written,
      received,
      intact: sent.digest("hex") === got.digest("hex"),
      maxBuffered,
      highWaterMark: server.readableHighWaterMark,
    };
    server.destroy();
    await whenClosed(client, 2000);
  }

  // 4. Peer reset while the Duplex is writing: one 'error' (typed), then 'close'; nothing unhandled.
  {
    const [c, s] = await pair();
    const client = toNodeSocket(c);
    const errors: { name: string; code?: string }[] = [];
    client.on(
      "error",
      (e: Error & { code?: string }) => errors.push({ name: e.name, code: e.code }),
    );
    client.on("data", () => {});
    const closed = whenClosed(client, 5000);
    const reader = s.readable.getReader();
    const chunk = new Uint8Array(64 * 1024);
    let stop = false;
    const writing = (async () => {
      while (!stop && !client.destroyed) {
        if (!client.write(chunk)) await next(client, "drain", 500);
      }
    })();
    let peerRead = 0;
    while (peerRead < 1024 * 1024) {
      const r = await reader.read();
      if (r.done) break;
      peerRead += r.value.length;
    }
    s.setLinger(0);
    s.close(); // RST
    const closeEvent = await closed;
    stop = true;
    await writing;
    await sleep(50); // any late rejection would show by now
    out.reset = {
      errors,
      closeEvent: closeEvent === NO_EVENT ? NO_EVENT : "close",
      destroyed: client.destroyed,
      writeAfter: await new Promise((resolve) =>
        client.write("late", (err) => resolve(err ? (err as { code?: string }).code : "ok"))
      ),
    };
  }

  // 5. The app destroys a socket mid-transfer: no 'error', the connection closes, the peer sees it.
  {
    const [c, s] = await pair();
    const client = toNodeSocket(c);
    const server = toNodeSocket(s);
    const clientErrors: string[] = [];
    const serverEvents: string[] = [];
    client.on("error", (e) => clientErrors.push(describe(e)));
    server.on("error", (e: Error & { code?: string }) => serverEvents.push(`error ${e.code}`));
    server.on("end", () => serverEvents.push("end"));
    server.on("data", () => {});
    client.on("data", () => {});
    client.write(new Uint8Array(1024 * 1024));
    server.write(new Uint8Array(1024 * 1024)); // a read pending on the client when it goes
    await sleep(30);
    client.destroy();
    await whenClosed(server, 3000);
    await sleep(30);
    out.destroy = {
      clientErrors,
      serverEvents,
      connClosed: await within(c.closed, 1000, "c.closed").then(() => true),
    };
  }

  // 6. dialNodeSocket: returned before it connects; a refused connect is an 'error'.
  {
    const early = dialNodeSocket(node, { hostname, port });
    const before = {
      connecting: early.connecting,
      readyState: early.readyState,
      remoteAddress: early.remoteAddress,
    };
    const connected = next(early, "connect", 3000);
    early.write("written while connecting\n");
    early.end();
    const accepted = toNodeSocket(await accept());
    const connectEvent = await connected;
    const text = new TextDecoder().decode(await within(readAll(accepted), 3000, "early bytes"));
    accepted.end();
    await whenClosed(early, 3000);
    const gone = node.listen({ hostname, port: 0 });
    const freePort = gone.addr.port;
    gone.close();
    const refused = dialNodeSocket(node, { hostname, port: freePort, timeout: 3000 });
    const refusedError = await next(refused, "error", 5000) as Error & { code?: string };
    let badOption: string | undefined;
    try {
      dialNodeSocket(node, { hostname, port, prot: 1 } as never);
    } catch (e) {
      badOption = (e as { code?: string }).code;
    }
    const destroyedWhileConnecting = dialNodeSocket(node, { hostname, port });
    destroyedWhileConnecting.destroy();
    await whenClosed(destroyedWhileConnecting, 2000);
    await listener.accept({ signal: AbortSignal.timeout(300) }).then(
      (conn) => conn.close(),
      () => {},
    );
    out.dial = {
      before,
      connectEvent: connectEvent === NO_EVENT ? NO_EVENT : "connect",
      text,
      refused: { name: refusedError?.name, code: refusedError?.code },
      badOption,
    };
  }

  // 7. node:http over rxzt: a server fed with server.emit("connection", socket), clients through
  //    createConnection (one per request, and a keep-alive Agent).
  {
    const serverSockets: ZeroTierSocket[] = [];
    const handler = async (req: http.IncomingMessage, res: http.ServerResponse) => {
      const body = await readAll(req as unknown as Duplex);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({
        remoteAddress: req.socket.remoteAddress,
        remotePort: req.socket.remotePort,
        remoteFamily: (req.socket as unknown as ZeroTierSocket).remoteFamily,
        length: body.length,
        sha256: sha(body),
      }));
    };
    const plainServer = http.createServer(handler);
    // Deno 2.9's http.Server closes connections after each response unless it is listening.
    const liveServer = http.createServer(handler);
    Object.defineProperty(liveServer, "listening", { get: () => true });
    const httpListener = node.listen({ hostname, port: 0 });
    let target: http.Server = plainServer;
    const serving = (async () => {
      for await (const conn of httpListener) {
        const sock = toNodeSocket(conn);
        serverSockets.push(sock);
        target.emit("connection", sock);
      }
    })();
    const httpPort = httpListener.addr.port;
    type Reply = {
      status?: number;
      json?: Record<string, unknown>;
      clientLocalPort?: number;
      clientRemoteAddress?: string;
      reused?: boolean;
      error?: string;
    };
    const request = (body: Uint8Array, agent?: http.Agent) =>
      within(
        new Promise<Reply>((resolve) => {
          const req = http.request({
            host: hostname,
            port: httpPort,
            method: "POST",
            path: "/echo",
            agent,
            ...(agent ? {} : {
              createConnection: () => dialNodeSocket(node, { hostname, port: httpPort }),
            }),
          }, async (res) => {
            const text = new TextDecoder().decode(await readAll(res as unknown as Duplex));
            resolve({
              status: res.statusCode,
              json: JSON.parse(text),
              clientLocalPort: (req.socket as unknown as ZeroTierSocket)?.localPort,
              clientRemoteAddress: req.socket?.remoteAddress,
              reused: req.reusedSocket,
            });
          });
          req.on("error", (e: Error & { code?: string }) =>
            resolve({ error: `${e.name} ${e.code}` }));
          req.end(body);
        }),
        10_000,
        "http request",
      );
    const body = randomFillSync(new Uint8Array(1024 * 1024));
    const single = await request(body);
    out.httpSingle = { ...single, sentSha256: sha(body), sentLength: body.length };

    const keepAlive = async (server: http.Server) => {
      target = server;
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let dialed = 0;
      // deno-lint-ignore no-explicit-any
      (agent as any).createConnection = () => {
        dialed++;
        return dialNodeSocket(node, { hostname, port: httpPort });
      };
      const first = await request(new TextEncoder().encode("one"), agent);
      await sleep(100); // a server that closes after the response has done so by now
      const second = await request(new TextEncoder().encode("two"), agent);
      agent.destroy();
      return {
        first: first.status ?? first.error,
        second: second.status ?? second.error,
        reused: second.reused,
        dialed,
      };
    };
    out.httpKeepAlive = {
      plain: await keepAlive(plainServer),
      listening: await keepAlive(liveServer),
    };

    // A request to a port nothing listens on: the request's 'error', nothing unhandled.
    const gone = node.listen({ hostname, port: 0 });
    const freePort = gone.addr.port;
    gone.close();
    out.httpRefused = await within(
      new Promise((resolve) => {
        const req = http.request({
          host: hostname,
          path: "/",
          createConnection: () => dialNodeSocket(node, { hostname, port: freePort, timeout: 3000 }),
        }, () => resolve("response?!"));
        req.on("error", (e: Error & { code?: string }) => resolve(e.code));
        req.end();
      }),
      5000,
      "refused http request",
    );
    for (const s of serverSockets) s.destroy();
    httpListener.close();
    await serving;
  }

  await sleep(50);
  listener.close();
  await stopAndCount(out, node, ctl);
} catch (err) {
  recordUnexpected(out, err);
}
printFacts(out, unhandled);
