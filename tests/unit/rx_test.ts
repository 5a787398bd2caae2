import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BehaviorSubject, Observable, Subject } from "rxjs";
import { TimeoutError, ZeroTierError } from "../../src/errors.ts";
import type { PeerState } from "../../src/node/state.ts";
import { fromReadable, reconnecting, toReadable } from "../../src/streams/rx.ts";
import { whenDirect } from "../../src/node/when_direct.ts";
import type { TcpConn } from "../../src/streams/tcp.ts";
import { peerState } from "./_helpers.ts";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe("fromReadable", () => {
  test("emits every chunk in order, then completes", async () => {
    const seen: number[] = [];
    await new Promise<void>((resolve, reject) =>
      fromReadable(ReadableStream.from([1, 2, 3])).subscribe({
        next: (v) => seen.push(v),
        error: reject,
        complete: resolve,
      })
    );
    assert.deepEqual(seen, [1, 2, 3]);
  });

  test("reads only as fast as the subscriber takes values", async () => {
    let pulls = 0;
    // Like a socket, each pull waits for I/O (a macrotask) before it delivers.
    const stream = new ReadableStream<number>({
      pull: async (c) => {
        await tick();
        c.enqueue(++pulls);
      },
    }, { highWaterMark: 0 });
    const sub = fromReadable(stream).subscribe(() => {});
    await tick(5);
    sub.unsubscribe();
    const atUnsubscribe = pulls;
    await tick(5);
    assert.ok(
      pulls <= atUnsubscribe + 1,
      "at most the pull already in flight completes after unsubscribe",
    );
  });

  test("unsubscribing cancels the stream", async () => {
    let cancelled = false;
    const stream = new ReadableStream({ cancel: () => void (cancelled = true) });
    fromReadable(stream).subscribe().unsubscribe();
    await tick();
    assert.equal(cancelled, true);
  });

  test("a stream with a reader already: STREAM_LOCKED", () => {
    const stream = new ReadableStream();
    stream.getReader();
    let error: unknown;
    fromReadable(stream).subscribe({ error: (e) => (error = e) });
    assert.ok(error instanceof ZeroTierError && error.code === "STREAM_LOCKED");
  });

  test("a stream error reaches the subscriber", async () => {
    const boom = new Error("boom");
    const stream = new ReadableStream({ start: (c) => c.error(boom) });
    const error = await new Promise((resolve) =>
      fromReadable(stream).subscribe({ error: resolve })
    );
    assert.equal(error, boom);
  });
});

describe("toReadable", () => {
  test("delivers values and completion", async () => {
    const source = new Subject<number>();
    const reader = toReadable(source).getReader();
    source.next(1);
    source.next(2);
    source.complete();
    assert.deepEqual(await reader.read(), { value: 1, done: false });
    assert.deepEqual(await reader.read(), { value: 2, done: false });
    assert.equal((await reader.read()).done, true);
  });

  test("overflow: error (default) once highWaterMark values wait", async () => {
    const source = new Subject<number>();
    const reader = toReadable(source, { highWaterMark: 2 }).getReader();
    for (let i = 0; i < 3; i++) source.next(i);
    assert.equal(source.observed, false, "unsubscribed on overflow");
    await reader.read();
    await reader.read();
    await assert.rejects(reader.read(), (e: ZeroTierError) => e.code === "BUFFER_OVERFLOW");
  });

  test("overflow: drop-oldest keeps the newest values", async () => {
    const source = new Subject<number>();
    const reader = toReadable(source, { highWaterMark: 2, overflow: "drop-oldest" }).getReader();
    for (let i = 0; i < 5; i++) source.next(i);
    source.complete();
    assert.deepEqual([(await reader.read()).value, (await reader.read()).value], [3, 4]);
  });

  test("overflow: drop-newest keeps the first values", async () => {
    const source = new Subject<number>();
    const reader = toReadable(source, { highWaterMark: 2, overflow: "drop-newest" }).getReader();
    for (let i = 0; i < 5; i++) source.next(i);
    source.complete();
    assert.deepEqual([(await reader.read()).value, (await reader.read()).value], [0, 1]);
  });

  test("cancel unsubscribes from the source", async () => {
    const source = new Subject<number>();
    const reader = toReadable(source).getReader();
    assert.equal(source.observed, true);
    await reader.cancel();
    assert.equal(source.observed, false);
  });

  test("a source error errors the stream", async () => {
    const boom = new Error("boom");
    const reader = toReadable(new Observable<number>((s) => s.error(boom))).getReader();
    await assert.rejects(reader.read(), (e) => e === boom);
  });
});

const peer = (link: PeerState["link"]) => peerState(link);

describe("whenDirect", () => {
  test("resolves when the peer turns DIRECT", async () => {
    const state = new BehaviorSubject(peer("RELAY"));
    const pending = whenDirect({ peer$: () => state }, "aaaaaaaaaa");
    state.next(peer("DIRECT"));
    assert.equal((await pending).link, "DIRECT");
  });

  test("rejects with TimeoutError after timeout", async () => {
    const state = new BehaviorSubject(peer("RELAY"));
    await assert.rejects(
      whenDirect({ peer$: () => state }, "aaaaaaaaaa", { timeout: 20 }),
      (e) => e instanceof TimeoutError,
    );
  });

  test("rejects with the abort reason", async () => {
    const controller = new AbortController();
    const pending = whenDirect({ peer$: () => new BehaviorSubject(peer("RELAY")) }, "aaaaaaaaaa", {
      signal: controller.signal,
    });
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
  });
});

function fakeConn() {
  let close!: () => void;
  const closed = new Promise<void>((r) => (close = r));
  let closes = 0;
  return {
    conn: { closed, close: () => (closes++, close()) } as unknown as TcpConn,
    drop: close,
    closes: () => closes,
  };
}

describe("reconnecting", () => {
  test("connects again after the connection closes", async () => {
    const made: ReturnType<typeof fakeConn>[] = [];
    const got: TcpConn[] = [];
    const sub = reconnecting(() => {
      const f = fakeConn();
      made.push(f);
      return Promise.resolve(f.conn);
    }, { initialDelay: 1 }).subscribe((c) => got.push(c));
    await tick(5);
    assert.equal(got.length, 1);
    made[0].drop();
    await tick(20);
    assert.equal(got.length, 2);
    sub.unsubscribe();
    assert.equal(made[1].closes(), 1, "unsubscribe closes the current connection");
  });

  test("backs off between failures and errors after maxAttempts", async () => {
    const times: number[] = [];
    const error = await new Promise((resolve) =>
      reconnecting(() => {
        times.push(performance.now());
        return Promise.reject(new Error("refused"));
      }, { initialDelay: 10, factor: 2, maxAttempts: 4 }).subscribe({ error: resolve })
    );
    assert.equal((error as Error).message, "refused");
    assert.equal(times.length, 4);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    assert.ok(gaps[1] > gaps[0] && gaps[2] > gaps[1], `growing delays: ${gaps.map(Math.round)}`);
  });
});
