/** Tier 1: the library's one timed wait (`src/delay.ts`). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { delay } from "../../src/delay.ts";

describe("delay", () => {
  test("resolves after the time", async () => {
    const t0 = performance.now();
    await delay(20);
    assert.ok(performance.now() - t0 >= 15);
  });

  test("rejects with the signal's reason when aborted, at once if aborted already", async () => {
    const controller = new AbortController();
    const waiting = delay(10_000, { signal: controller.signal });
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(waiting, (err) => err === reason);
    await assert.rejects(delay(10, { signal: controller.signal }), (err) => err === reason);
  });

  test("a finished delay leaves no abort listener behind", async () => {
    const controller = new AbortController();
    await delay(1, { signal: controller.signal });
    controller.abort(); // nothing may throw or reject now
  });
});
