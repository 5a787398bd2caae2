/**
 * Tier 1: `waitFor` (`src/node/wait.ts`): how it settles, and that it
 * always lets go of the source, its timer and the abort listener.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Observable, type Subscriber } from "rxjs";
import { NodeStateError, TimeoutError, ZeroTierError } from "../../src/errors.ts";
import { waitFor, type WaitVerdict } from "../../src/node/wait.ts";
import { tick } from "./_helpers.ts";

/** A hot source driven by the test, counting subscriptions and teardowns. */
function source<T>() {
  const stats = { subscribed: 0, tornDown: 0 };
  const subscribers: Subscriber<T>[] = [];
  const source$ = new Observable<T>((s) => {
    stats.subscribed++;
    subscribers.push(s);
    return () => {
      stats.tornDown++;
    };
  });
  return {
    source$,
    stats,
    next: (v: T) => subscribers.forEach((s) => s.next(v)),
    error: (e: unknown) => subscribers.forEach((s) => s.error(e)),
    complete: () => subscribers.forEach((s) => s.complete()),
  };
}

/** A source that emits `values` synchronously on subscribe and never completes. */
function syncSource<T>(values: T[]) {
  const stats = { subscribed: 0, tornDown: 0 };
  const source$ = new Observable<T>((s) => {
    stats.subscribed++;
    for (const v of values) s.next(v);
    return () => {
      stats.tornDown++;
    };
  });
  return { source$, stats };
}

const atLeast =
  (n: number) => (v: number): WaitVerdict<number> => (v >= n ? { done: v } : undefined);

/** Asserts the wait released its subscription exactly once (after deferred work ran). */
async function released(stats: { subscribed: number; tornDown: number }): Promise<void> {
  await tick();
  assert.equal(stats.subscribed, 1, "subscribed once");
  assert.equal(stats.tornDown, 1, "torn down once");
}

/** Records setTimeout/clearTimeout calls made while `fn` runs synchronously. */
function spyTimers<T>(fn: () => T): { result: T; set: unknown[]; cleared: unknown[] } {
  const g = globalThis as unknown as {
    setTimeout: typeof setTimeout;
    clearTimeout: typeof clearTimeout;
  };
  const origSet = g.setTimeout;
  const origClear = g.clearTimeout;
  const set: unknown[] = [];
  const cleared: unknown[] = [];
  g.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    const id = origSet(...args);
    set.push(id);
    return id;
  }) as typeof setTimeout;
  g.clearTimeout = ((id: Parameters<typeof clearTimeout>[0]) => {
    cleared.push(id);
    return origClear(id);
  }) as typeof clearTimeout;
  try {
    return { result: fn(), set, cleared };
  } finally {
    g.setTimeout = origSet;
    g.clearTimeout = origClear;
  }
}

describe("waitFor", () => {
  test("resolves with the first done verdict and unsubscribes", async () => {
    const s = source<number>();
    const seen: number[] = [];
    const p = waitFor(s.source$, (v) => {
      seen.push(v);
      return v >= 3 ? { done: v * 10 } : undefined;
    }, { what: "n >= 3" });
    s.next(1);
    s.next(2);
    s.next(3);
    assert.equal(await p, 30);
    assert.deepEqual(seen, [1, 2, 3]);
    await released(s.stats);
    s.next(4);
    assert.deepEqual(seen, [1, 2, 3], "nothing is decided after unsubscribing");
  });

  test("resolves when the source emits synchronously on subscribe, and unsubscribes", async () => {
    const s = syncSource([1, 5, 9]);
    assert.equal(await waitFor(s.source$, atLeast(5), { what: "sync", timeout: 1000 }), 5);
    await released(s.stats);
  });

  test("rejects with the fail verdict's error and unsubscribes", async () => {
    const s = source<string>();
    const failure = new Error("denied");
    const p = waitFor(s.source$, (v) => (v === "bad" ? { fail: failure } : undefined), {
      what: "x",
    });
    s.next("fine");
    s.next("bad");
    await assert.rejects(p, (err) => err === failure);
    await released(s.stats);
  });

  test("rejects with what decide throws and unsubscribes", async () => {
    const s = source<number>();
    const boom = new RangeError("boom");
    const p = waitFor(s.source$, () => {
      throw boom;
    }, { what: "x" });
    s.next(1);
    await assert.rejects(p, (err) => err === boom);
    await released(s.stats);
  });

  test("rejects with the source's error", async () => {
    const s = source<number>();
    const e = new Error("source broke");
    const p = waitFor(s.source$, atLeast(1), { what: "x" });
    s.error(e);
    await assert.rejects(p, (err) => err === e);
    await released(s.stats);
  });

  test("rejects with a NodeStateError when the source completes first", async () => {
    const s = source<number>();
    const p = waitFor(s.source$, atLeast(10), { what: "waiting for ten" });
    s.next(1);
    s.complete();
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof NodeStateError);
      assert.ok(err instanceof ZeroTierError);
      assert.equal(err.code, "NODE_STOPPED");
      assert.ok(err.message.includes("waiting for ten"));
      return true;
    });
    await released(s.stats);
  });

  test("rejects with TimeoutError (ETIMEDOUT) after the timeout and unsubscribes", async () => {
    const s = source<number>();
    const started = performance.now();
    const p = waitFor(s.source$, atLeast(1), { what: "never", timeout: 15 });
    s.next(0);
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof TimeoutError);
      assert.ok(err instanceof ZeroTierError);
      assert.equal(err.code, "ETIMEDOUT");
      assert.equal(err.timeoutMs, 15);
      assert.ok(err.message.includes("never"));
      return true;
    });
    assert.ok(performance.now() - started >= 10, "did not give up early");
    await released(s.stats);
  });

  test("a settled wait clears its timer", async () => {
    const s = source<number>();
    const { result: p, set, cleared } = spyTimers(() => {
      const p = waitFor(s.source$, atLeast(1), { what: "x", timeout: 60_000 });
      s.next(1); // settles synchronously inside the spy
      return p;
    });
    assert.equal(await p, 1);
    assert.equal(set.length, 1, "one timer was set");
    assert.deepEqual(cleared, set, "and it was cleared");
    await released(s.stats);
  });

  test("rejects with signal.reason when aborted, and unsubscribes", async () => {
    const s = source<number>();
    const ac = new AbortController();
    const reason = new Error("user cancelled");
    const p = waitFor(s.source$, atLeast(1), { what: "x", signal: ac.signal, timeout: 60_000 });
    s.next(0);
    ac.abort(reason);
    await assert.rejects(p, (err) => err === reason);
    await released(s.stats);
  });

  test("an already aborted signal rejects at once without leaving a subscription", async () => {
    const s = source<number>();
    const reason = { custom: "reason" };
    const p = waitFor(s.source$, atLeast(1), { what: "x", signal: AbortSignal.abort(reason) });
    await assert.rejects(p, (err) => err === reason);
    await tick();
    assert.equal(s.stats.subscribed, s.stats.tornDown, "no subscription is left open");
  });

  test("the abort listener is removed once settled; a later abort changes nothing", async () => {
    const s = source<number>();
    const ac = new AbortController();
    const added: unknown[] = [];
    const removed: unknown[] = [];
    const signal = ac.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((type: string, l: EventListener, o?: AddEventListenerOptions) => {
      added.push(l);
      add(type, l, o);
    }) as typeof signal.addEventListener;
    signal.removeEventListener = ((type: string, l: EventListener, o?: EventListenerOptions) => {
      removed.push(l);
      remove(type, l, o);
    }) as typeof signal.removeEventListener;

    const p = waitFor(s.source$, atLeast(1), { what: "x", signal });
    s.next(2);
    assert.equal(await p, 2);
    assert.equal(added.length, 1);
    assert.deepEqual(removed, added);
    ac.abort(new Error("late"));
    assert.equal(await p, 2);
    await released(s.stats);
  });

  test("each wait has its own subscription", async () => {
    const s = source<number>();
    const a = waitFor(s.source$, atLeast(1), { what: "a" });
    const b = waitFor(s.source$, atLeast(2), { what: "b" });
    s.next(1);
    assert.equal(await a, 1);
    await tick();
    assert.deepEqual(s.stats, { subscribed: 2, tornDown: 1 }, "b is still waiting");
    s.next(2);
    assert.equal(await b, 2);
    await tick();
    assert.deepEqual(s.stats, { subscribed: 2, tornDown: 2 });
  });
});
