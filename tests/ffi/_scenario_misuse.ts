/**
 * Tier-2 misuse scenario (run by misuse_test.ts in a child process: one libzt
 * node per process). Records, as facts, what each misuse listed in issue 5
 * does on the stand-in, each bounded in time: concurrent start() calls, using
 * helpers before any node, joining a network twice (in turn and at once),
 * reading, writing and accepting after close, after the peer closed and
 * after stop(), stop() twice, concurrently and from inside a subscriber, and
 * every call after stop(). Prints ONE JSON object; exits by itself.
 *
 * Usage: deno run -A _scenario_misuse.ts <standinPath>
 */
import {
  adhocIPv4NetworkId,
  adhocNetworkId,
  generateIdentity,
  type TcpConn,
  ZeroTierNode,
} from "../../mod.ts";
import { inspect as nodeInspect } from "node:util";
import { type ReportedError, reportError, sleep } from "./_helpers.ts";

const [libraryPath] = Deno.args;
const out: Record<string, unknown> = {};

type Settled =
  | { state: "fulfilled"; value?: unknown }
  | { state: "rejected"; error: ReportedError }
  | { state: "pending" }
  | { state: "threw"; error: ReportedError };

async function settle(p: Promise<unknown>, ms = 2000): Promise<Settled> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const PENDING = Symbol("pending");
  const limit = new Promise<typeof PENDING>((r) => (timer = setTimeout(() => r(PENDING), ms)));
  try {
    const v = await Promise.race([p, limit]);
    return v === PENDING ? { state: "pending" } : { state: "fulfilled", value: plain(v) };
  } catch (err) {
    return { state: "rejected", error: reportError(err) };
  } finally {
    clearTimeout(timer);
  }
}

function sync(fn: () => unknown): Settled {
  try {
    return { state: "fulfilled", value: plain(fn()) };
  } catch (err) {
    return { state: "threw", error: reportError(err) };
  }
}

function plain(v: unknown): unknown {
  if (v === undefined || v === null || ["string", "number", "boolean"].includes(typeof v)) return v;
  if (typeof v === "object" && "done" in (v as object)) {
    return { done: (v as { done: boolean }).done };
  }
  return typeof v === "object" ? "object" : String(v);
}

async function read(conn: TcpConn): Promise<Settled> {
  const reader = conn.readable.getReader();
  try {
    return await settle(reader.read());
  } finally {
    reader.releaseLock();
  }
}

let node: ZeroTierNode | undefined;
try {
  // Before any node: helpers that only need libzt work.
  out.identityBeforeStart = sync(() => generateIdentity({ libraryPath }).length > 0);

  // Two start() calls at once: one node, the other NODE_ALREADY_RUNNING.
  const storageRoot = Deno.makeTempDirSync({ prefix: "rxzt_misuse_" });
  const storagePath = `${storageRoot}/a/b/storage`; // does not exist yet
  const stores: unknown[] = [];
  const starts = await Promise.allSettled([
    ZeroTierNode.start({ libraryPath, storagePath, timeout: 5000 }),
    ZeroTierNode.start({ libraryPath, storagePath, timeout: 5000 }),
  ]);
  for (const s of starts) {
    if (s.status === "fulfilled") s.value.store$.subscribe((e) => stores.push(e));
  }
  out.concurrentStarts = starts.map((s) =>
    s.status === "fulfilled"
      ? { state: "fulfilled" }
      : { state: "rejected", error: reportError(s.reason) }
  );
  node = starts.find((s) => s.status === "fulfilled")?.status === "fulfilled"
    ? (starts.find((s) => s.status === "fulfilled") as PromiseFulfilledResult<ZeroTierNode>).value
    : undefined;
  if (!node) throw new Error("no start succeeded");
  const n = node;
  await n.waitUntilOnline({ timeout: 3000 });

  // Secrets: what rxzt creates is owner-only; nothing prints the secret.
  const mode = (p: string) => Deno.statSync(p).mode! & 0o777;
  out.storage = {
    dir: mode(storagePath),
    parents: [mode(`${storageRoot}/a`), mode(`${storageRoot}/a/b`)],
  };
  const secret = n.secretIdentity();
  const secretHalf = secret.split(":")[3];
  const standinEmit = Deno.dlopen(
    libraryPath,
    { standin_emit: { parameters: ["i32", "u64"], result: "void" } } as const,
  );
  standinEmit.symbols.standin_emit(270, 0n); // STORE_IDENTITY_SECRET with 16 bytes of 0x42
  const t0s = performance.now();
  while (
    stores.filter((e) => (e as { type: string }).type === "STORE_IDENTITY_SECRET").length < 2 &&
    performance.now() - t0s < 2000
  ) {
    await sleep(5);
  }
  const secretEvents = stores.filter((e) =>
    (e as { type: string }).type === "STORE_IDENTITY_SECRET"
  ) as {
    data: Uint8Array;
  }[];
  const shows = (
    v: unknown,
  ) => [
    Deno.inspect(v, { depth: 10 }),
    nodeInspect(v, { depth: 10 }),
    JSON.stringify(v),
    String(v),
  ];
  const leaks = (texts: string[], needles: string[]) =>
    texts.some((t) => needles.some((x) => t.includes(x)));
  // How bytes look in each format: Deno/Node inspect ("66, 66, 66") and JSON ({"0":66,"1":66}).
  const bytesNeedles = (b: Uint8Array) => [
    [...b.subarray(0, 6)].join(","),
    `"0":${b[0]},"1":${b[1]},"2":${b[2]}`,
    new TextDecoder().decode(b.subarray(0, 24)),
  ];
  const exposesBytes = (texts: string[], b: Uint8Array) =>
    texts.map((t) =>
      bytesNeedles(b).some((x) => t.replace(/\s+/g, "").includes(x.replace(/\s+/g, "")))
    );
  const errorsAbout: unknown[] = [];
  for (
    const attempt of [
      () => n.join(secret),
      () => ZeroTierNode.start({ identity: secret + "0" }),
      () => n.connect({ hostname: secret, port: 1 }),
      () => n.peer$(secret),
    ]
  ) {
    try {
      await attempt();
    } catch (err) {
      errorsAbout.push(err);
    }
  }
  out.secrets = {
    nodeShown: leaks(shows(n), [secretHalf.slice(0, 32)]),
    nodeJson: JSON.stringify(n),
    storeEvents: secretEvents.length,
    storeDataReadable: secretEvents.every((e) => e.data instanceof Uint8Array && e.data.length > 0),
    // the detector finds the bytes in every format when they are not redacted (a plain copy)
    detectorWorks: secretEvents.every((e) =>
      exposesBytes(shows({ data: e.data }).slice(0, 3), e.data).every(Boolean)
    ),
    storeShown: secretEvents.some((e) =>
      exposesBytes(shows(e), e.data).some(Boolean) || leaks(shows(e), [secretHalf.slice(0, 32)])
    ),
    storeRedacted: secretEvents.every((e) =>
      shows(e).slice(0, 3).every((t) => t.includes("redacted"))
    ),
    storeInArrayShown: secretEvents.some((e) =>
      exposesBytes(shows(secretEvents), e.data).some(Boolean)
    ),
    errors: errorsAbout.length,
    errorsShown: leaks(
      errorsAbout.flatMap((e) => [...shows(e), (e as Error).message, (e as Error).stack ?? ""]),
      [secretHalf.slice(0, 32)],
    ),
  };

  // Joining the same network twice, in turn and at once.
  const net = adhocIPv4NetworkId(10);
  const first = await n.join(net, { timeout: 3000 });
  const again = await n.join(net, { timeout: 3000 });
  const both = await Promise.all([
    n.join(adhocNetworkId(7000, 7001), { timeout: 3000 }),
    n.join(adhocNetworkId(7000, 7001), { timeout: 3000 }),
  ]);
  out.joinTwice = {
    sameState: first.networkId === again.networkId && again.readyIPv4 === first.readyIPv4,
    concurrentBothReady: both.every((s) => s.readyIPv6),
    networks: await new Promise<number>((resolve) =>
      n.networks$.subscribe((m) => resolve(m.size)).unsubscribe()
    ),
  };

  // Streams after close.
  const listener = n.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: TcpConn[] = [];
  const serving = (async () => {
    for await (const c of listener) accepted.push(c);
  })();
  const port = listener.addr.port;

  // (a) this side closed
  const a = await n.connect({ hostname: "127.0.0.1", port, timeout: 2000 });
  while (accepted.length === 0) await sleep(5);
  accepted.shift()!.close(); // a's server side
  a.close();
  out.afterClose = {
    read: await read(a),
    write: await settle(a.writable.getWriter().write(new Uint8Array(1))),
    setNoDelay: sync(() => a.setNoDelay(true)),
    closeAgain: sync(() => a.close()),
    closed: await settle(a.closed),
  };

  // (b) the peer closed: reading gives end of stream, again and again
  const b = await n.connect({ hostname: "127.0.0.1", port, timeout: 2000 });
  while (accepted.length === 0) await sleep(5);
  accepted.shift()!.close();
  out.afterPeerClosed = { first: await read(b), second: await read(b) };
  // reading to the end released nothing yet: the write side is still open
  const bWriter = b.writable.getWriter();
  await bWriter.close().catch(() => {});
  out.afterPeerClosed = {
    ...out.afterPeerClosed as object,
    closedAfterBothEnds: await settle(b.closed),
  };

  // (c) listener closed
  listener.close();
  await serving;
  out.acceptAfterClose = await settle(listener.accept());
  out.listenerCloseAgain = sync(() => listener.close());

  // (d) UDP closed
  const udp = n.listenDatagram({ port: 0, hostname: "127.0.0.1" });
  udp.close();
  out.udpAfterClose = {
    read: await settle(udp.readable.getReader().read()),
    write: await settle(
      udp.writable.getWriter().write({ data: new Uint8Array(1), hostname: "127.0.0.1", port: 9 }),
    ),
  };

  // Sockets open when the node stops: they fail with NODE_STOPPED.
  const L2 = n.listen({ hostname: "127.0.0.1", port: 0 });
  const c = await n.connect({ hostname: "127.0.0.1", port: L2.addr.port, timeout: 2000 });
  const pendingRead = c.readable.getReader().read();
  pendingRead.catch(() => {});
  const idle = n.listen({ hostname: "127.0.0.1", port: 0 }); // nobody connects to it
  const pendingAccept = idle.accept();
  pendingAccept.catch(() => {});
  const pendingJoin = n.join(adhocNetworkId(7000, 7001), { family: "IPv4", timeout: 10_000 });
  pendingJoin.catch(() => {});

  // stop() from inside a subscriber, a second concurrent stop(), and one after.
  let fromSubscriber: Promise<void> | undefined;
  const sub = n.events$.subscribe((e) => {
    if (e.type === "NETWORK_UPDATE" && !fromSubscriber) fromSubscriber = n.stop();
  });
  const standin = Deno.dlopen(
    libraryPath,
    { standin_emit: { parameters: ["i32", "u64"], result: "void" } } as const,
  );
  standin.symbols.standin_emit(219, 0x7e57n);
  const t0 = performance.now();
  while (!fromSubscriber && performance.now() - t0 < 2000) await sleep(5);
  const concurrent = n.stop();
  out.stop = {
    calledFromSubscriber: fromSubscriber !== undefined,
    sharedPromise: fromSubscriber === concurrent,
    first: await settle(fromSubscriber ?? Promise.reject(new Error("no stop")), 5000),
    second: await settle(concurrent, 5000),
    third: await settle(n.stop(), 2000),
    lifecycle: n.lifecycle,
  };
  sub.unsubscribe();
  out.openAtStop = {
    read: await settle(pendingRead),
    accept: await settle(pendingAccept),
    join: await settle(pendingJoin),
    connClosed: await settle(c.closed),
    write: await settle(c.writable.getWriter().write(new Uint8Array(1))),
  };

  // Every call after stop().
  const id = adhocIPv4NetworkId(10);
  out.afterStop = {
    join: await settle(n.join(id, { timeout: 500 })),
    leave: await settle(n.leave(id, { timeout: 500 })),
    waitUntilOnline: await settle(n.waitUntilOnline({ timeout: 500 })),
    connect: await settle(n.connect({ hostname: "127.0.0.1", port: 1, timeout: 500 })),
    listen: sync(() => n.listen({ port: 0 })),
    listenDatagram: sync(() => n.listenDatagram({ port: 0 })),
    addresses: sync(() => n.addresses(id)),
    secretIdentity: sync(() => n.secretIdentity()),
    stats: sync(() => n.stats()),
    port: sync(() => n.port),
    nodeId: sync(() => n.nodeId),
    badArgument: await settle(n.join("nope")),
    startAgain: await settle(ZeroTierNode.start({ libraryPath, timeout: 1000 })),
    events$Completes: await settle(
      new Promise<void>((resolve) => n.events$.subscribe({ complete: resolve })),
    ),
    network$Completes: await settle(
      new Promise<void>((resolve) => n.network$(id).subscribe({ complete: resolve })),
    ),
    asyncDispose: await settle(n[Symbol.asyncDispose]()),
    openSockets: n.openSockets,
  };
} catch (err) {
  out.unexpected = reportError(err);
  out.unexpectedStack = (err as Error)?.stack;
  Deno.exitCode = 1;
}
await node?.stop();
console.log(JSON.stringify(out));
