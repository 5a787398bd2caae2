/**
 * Tier 1: the bound on connection attempts in flight per node
 * (`src/streams/connect_slots.ts`).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  giveConnectSlot,
  MAX_CONNECTS_IN_FLIGHT,
  takeConnectSlot,
} from "../../src/streams/connect_slots.ts";

/** Whether `p` has settled after pending microtasks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

describe("connect slots: at most MAX_CONNECTS_IN_FLIGHT attempts per node", () => {
  test("the first MAX are granted at once; the next waits until one is given back", async () => {
    const host = {};
    const signal = new AbortController().signal;
    const first = Array.from(
      { length: MAX_CONNECTS_IN_FLIGHT },
      () => takeConnectSlot(host, signal),
    );
    for (const p of first) assert.equal(await settled(p), true);
    const next = takeConnectSlot(host, signal);
    assert.equal(await settled(next), false, "a slot beyond the bound was granted");
    giveConnectSlot(host);
    assert.equal(await settled(next), true, "a returned slot was not passed on");
  });

  test("waiters get slots first come, first served; nodes do not share slots", async () => {
    const host = {};
    const other = {};
    const signal = new AbortController().signal;
    for (let i = 0; i < MAX_CONNECTS_IN_FLIGHT; i++) await takeConnectSlot(host, signal);
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => takeConnectSlot(host, signal).then(() => order.push(n)));
    assert.equal(
      await settled(takeConnectSlot(other, signal)),
      true,
      "another node's slots are its own",
    );
    giveConnectSlot(host);
    giveConnectSlot(host);
    giveConnectSlot(host);
    await Promise.all(waits);
    assert.deepEqual(order, [1, 2, 3]);
  });

  test("an aborted waiter rejects with the reason and gives up its place", async () => {
    const host = {};
    const never = new AbortController().signal;
    for (let i = 0; i < MAX_CONNECTS_IN_FLIGHT; i++) await takeConnectSlot(host, never);
    const ac = new AbortController();
    const aborted = takeConnectSlot(host, ac.signal);
    const later = takeConnectSlot(host, never);
    const reason = new Error("gave up");
    ac.abort(reason);
    await assert.rejects(aborted, (e) => e === reason);
    giveConnectSlot(host);
    assert.equal(await settled(later), true, "the slot went to the aborted waiter");
    const pre = new AbortController();
    pre.abort(reason);
    await assert.rejects(takeConnectSlot(host, pre.signal), (e) => e === reason);
  });
});
