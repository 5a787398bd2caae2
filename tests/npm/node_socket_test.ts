/**
 * Tier 2 in both runtimes: rxzt connections as `net.Socket`-like Duplexes
 * (`toNodeSocket`, `dialNodeSocket`) and `node:http` over them, against the
 * CI stand-in. The same file runs under Deno (`deno task test`, rxzt from
 * mod.ts) and under Node (`deno task test:npm`, the installed npm package).
 * The scenario runs in a child process (one libzt node per process).
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { runtime, type ScenarioRun, standinPath } from "./_runtime.ts";
import { assertCleanEnd, runToEnd } from "./_scenario_end.ts";

const NO_EVENT = "no event in time";

interface Facts {
  unexpected?: { name: string; code?: string; message: string; stack?: string };
  unhandled: string[];
  roundTrip: {
    bytes: number;
    intact: boolean;
    transferMs: number;
    closeMs: number;
    writeReturnedFalse: number;
    client: { bytesRead: number; bytesWritten: number };
    server: { bytesRead: number; bytesWritten: number };
    connClosed: boolean;
    readyStateAfter: string;
  };
  properties: {
    client: {
      remoteAddress: string;
      remotePort: number;
      remoteFamily: string;
      localAddress: string;
      localPort: number;
      address: { address: string; family: string; port: number };
      connecting: boolean;
      pending: boolean;
      readyState: string;
    };
    server: { remoteAddress: string; remotePort: number; localPort: number };
    chain: boolean;
  };
  timeout: { fired: string; firedAfterMs: number; timeoutProperty: number; afterOff: string };
  destroySoon: { destroyed: boolean; readyState: string };
  backpressure: {
    stalledAt: number;
    serverReadWhileIgnored: number;
    clientTakenAtStall: number;
    clientTakenLater: number;
    drainAfterReading: boolean;
    written: number;
    received: number;
    intact: boolean;
    maxBuffered: number;
    highWaterMark: number;
  };
  reset: {
    errors: { name: string; code?: string }[];
    closeEvent: string;
    destroyed: boolean;
    writeAfter: string;
  };
  destroy: { clientErrors: string[]; serverEvents: string[]; connClosed: boolean };
  dial: {
    before: { connecting: boolean; readyState: string; remoteAddress?: string };
    connectEvent: string;
    text: string;
    refused: { name: string; code?: string };
    badOption?: string;
  };
  httpSingle: {
    status?: number;
    json?: {
      remoteAddress: string;
      remotePort: number;
      remoteFamily: string;
      length: number;
      sha256: string;
    };
    clientLocalPort?: number;
    clientRemoteAddress?: string;
    error?: string;
    sentSha256: string;
    sentLength: number;
  };
  httpKeepAlive: Record<
    "plain" | "listening",
    { first: number | string; second: number | string; reused: boolean; dialed: number }
  >;
  httpRefused: string;
  lifecycle: string;
  openSockets: number;
  standinSockets: number;
}

describe(`tier 2 under ${runtime}: rxzt connections as net.Socket-like Duplexes`, () => {
  let run: ScenarioRun<Facts>;
  let f: Facts;
  before(async () => {
    ({ run, facts: f } = await runToEnd<Facts>("_scenario_node_socket", [standinPath()], 90_000));
  });

  test("the scenario ran to its end, exited by itself, and nothing was unhandled", () => {
    assertCleanEnd(run, f);
  });

  test("8 MB echoed through a Duplex on each end arrives intact (SHA-256), both ends count every byte", () => {
    const r = f.roundTrip;
    assert.equal(r.bytes, 8 * 1024 * 1024);
    assert.equal(r.intact, true);
    for (const side of [r.client, r.server]) {
      assert.deepEqual(side, { bytesRead: 8 * 1024 * 1024, bytesWritten: 8 * 1024 * 1024 });
    }
    assert.equal(r.connClosed, true, "both connections released after end + finish");
    assert.equal(r.readyStateAfter, "closed");
    console.log(`  transfer ${r.transferMs} ms, close ${r.closeMs} ms`);
  });

  test("addresses, ports and families as net.Socket has them; setters chain", () => {
    const { client, server, chain } = f.properties;
    assert.equal(client.remoteAddress, "127.0.0.1");
    assert.equal(client.remoteFamily, "IPv4");
    assert.equal(client.localAddress, "127.0.0.1");
    assert.equal(client.remotePort, server.localPort);
    assert.equal(client.localPort, server.remotePort);
    assert.equal(server.remoteAddress, "127.0.0.1");
    assert.deepEqual(client.address, {
      address: "127.0.0.1",
      family: "IPv4",
      port: client.localPort,
    });
    assert.equal(client.connecting, false);
    assert.equal(client.pending, false);
    assert.equal(client.readyState, "open");
    assert.equal(chain, true, "setNoDelay, setKeepAlive, ref and unref return the socket");
  });

  test("setTimeout: 'timeout' after the idle time, postponed by traffic, off with 0", () => {
    const t = f.timeout;
    assert.equal(t.fired, "timeout");
    // Writes at 80, 160, 240 and 320 ms postpone a 150 ms timeout to about 470 ms.
    assert.ok(t.firedAfterMs >= 440 && t.firedAfterMs < 2000, `fired after ${t.firedAfterMs} ms`);
    assert.equal(t.timeoutProperty, 150);
    assert.equal(t.afterOff, NO_EVENT);
  });

  test("destroySoon ends the writable side and then destroys the socket", () => {
    assert.deepEqual(f.destroySoon, { destroyed: true, readyState: "closed" });
  });

  test("backpressure: a reader that does not read stalls the writer; reading again brings 'drain'", () => {
    const b = f.backpressure;
    assert.ok(b.stalledAt > 0, "write() returned false and no 'drain' came while nobody read");
    assert.equal(b.serverReadWhileIgnored, 0, "the Duplex pulls from the connection only on _read");
    assert.equal(b.clientTakenLater, b.clientTakenAtStall, "nothing more was sent while stalled");
    assert.equal(b.drainAfterReading, true);
    assert.equal(b.received, b.written);
    assert.equal(b.intact, true);
    // At most one read (up to 256 KiB from the I/O thread) past the high-water mark.
    assert.ok(
      b.maxBuffered <= b.highWaterMark + 256 * 1024,
      `${b.maxBuffered} bytes buffered (highWaterMark ${b.highWaterMark})`,
    );
    console.log(`  stalled after ${b.stalledAt} bytes; libzt had taken ${b.clientTakenAtStall}`);
  });

  test("a peer reset mid-stream is one typed 'error', then 'close'; later writes fail in the callback", () => {
    const r = f.reset;
    assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
    assert.equal(r.errors[0].name, "LibztCallError");
    assert.ok(
      ["ECONNRESET", "ECONNABORTED", "EPIPE", "ENOTCONN"].includes(r.errors[0].code!),
      r.errors[0].code,
    );
    console.log(`  the reset surfaced as ${r.errors[0].code}`);
    assert.equal(r.closeEvent, "close");
    assert.equal(r.destroyed, true);
    assert.equal(r.writeAfter, "ERR_STREAM_DESTROYED");
  });

  test("destroy() mid-transfer: no 'error' on the socket, the connection is released, the peer sees it", () => {
    const d = f.destroy;
    assert.deepEqual(d.clientErrors, []);
    assert.equal(d.connClosed, true);
    assert.ok(d.serverEvents.length >= 1, "the peer's socket ended or failed");
    assert.ok(
      d.serverEvents.every((e) => e === "end" || /^error (ECONNRESET|ECONNABORTED)$/.test(e)),
      JSON.stringify(d.serverEvents),
    );
  });

  test("dialNodeSocket: returned while connecting, writes wait for the connection, a refusal is an 'error'", () => {
    const d = f.dial;
    assert.deepEqual(d.before, { connecting: true, readyState: "opening" });
    assert.equal(d.connectEvent, "connect");
    assert.equal(d.text, "written while connecting\n");
    assert.deepEqual(d.refused, { name: "LibztCallError", code: "ECONNREFUSED" });
    assert.equal(d.badOption, "EINVAL", "an unknown option throws at once");
  });

  test("node:http: server.emit('connection') + createConnection serve a 1 MB POST; req.socket.remoteAddress is the peer's", () => {
    const h = f.httpSingle;
    assert.equal(h.error, undefined);
    assert.equal(h.status, 200);
    assert.equal(h.json!.remoteAddress, "127.0.0.1");
    assert.equal(h.json!.remoteFamily, "IPv4");
    assert.equal(h.json!.remotePort, h.clientLocalPort, "the server sees the client's port");
    assert.equal(h.json!.length, h.sentLength);
    assert.equal(h.json!.sha256, h.sentSha256);
    assert.equal(h.clientRemoteAddress, "127.0.0.1");
  });

  test("node:http keep-alive: an Agent reuses the rxzt socket", () => {
    const { plain, listening } = f.httpKeepAlive;
    assert.deepEqual(listening, { first: 200, second: 200, reused: true, dialed: 1 });
    assert.equal(plain.first, 200);
    assert.equal(plain.second, 200);
    if (runtime === "node") {
      assert.deepEqual(plain, listening, "Node keeps emitted connections alive");
    } else {
      // Deno 2.9's http.Server closes a kept-alive connection when it is not listening.
      console.log(`  Deno, http.Server not listening: ${plain.dialed} connections for 2 requests`);
    }
  });

  test("node:http: a request to a port nothing listens on fails with ECONNREFUSED", () => {
    assert.equal(f.httpRefused, "ECONNREFUSED");
  });
});
