/** Tier 1: the library's one counting semaphore (`src/semaphore.ts`). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Semaphore } from "../../src/semaphore.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("Semaphore", () => {
  test("runs at most `limit` at once; a released permit goes to the longest waiter", async () => {
    const s = new Semaphore(2);
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const runs = [1, 2, 3, 4].map((i) =>
      s.run(async () => {
        order.push(i);
        await new Promise<void>((r) => gates.push(r));
      })
    );
    await tick();
    assert.deepEqual(order, [1, 2]);
    assert.equal(s.exhausted, true);
    gates.shift()!();
    await tick();
    assert.deepEqual(order, [1, 2, 3]);
    while (gates.length > 0) {
      gates.shift()!();
      await tick();
    }
    await Promise.all(runs);
    assert.deepEqual(order, [1, 2, 3, 4]);
    assert.equal(s.exhausted, false);
  });

  test("an aborted waiter takes no permit", async () => {
    const s = new Semaphore(1);
    assert.equal(s.tryAcquire(), true);
    const controller = new AbortController();
    const waiting = s.acquire(controller.signal);
    controller.abort(new Error("gone"));
    await assert.rejects(waiting, /gone/);
    s.release();
    assert.equal(s.tryAcquire(), true);
  });
});
