/**
 * Tier 1: the send pacing account (`src/streams/pacing.ts`), driven by a
 * simulated sender: a send buffer drained by a fast link, and the coarse
 * timers of Deno (≥ 2.1 ms) and Node (≥ 1.1 ms).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PACING_BURST_MS, SendPacer } from "../../src/streams/pacing.ts";

const RATE = 84_000_000; // bytes/s
const SEND_BUFFER = 176_640; // libzt's TCP_SND_BUF (64 segments of 2760 bytes)
const LINK = 130_000; // bytes per ms the link drains from the send buffer
const WINDOW_MS = 20;

/**
 * Sends `total` bytes the way TcpConn's write loop does: fill the send
 * buffer, and when it is full either sleep for the pacer's delay (rounded up
 * to what the runtime's timer gives) or wait for room. Returns the average
 * rate in bytes/s and the most bytes sent in any window of `WINDOW_MS`.
 */
function simulate(pacer: SendPacer | undefined, timerFloorMs: number, total = 50_000_000) {
  let now = 0;
  let buffered = 0;
  let sent = 0;
  const sends: Array<[number, number]> = [];
  while (sent < total) {
    const n = Math.min(SEND_BUFFER - buffered, total - sent);
    if (n > 0) {
      buffered += n;
      sent += n;
      sends.push([now, n]);
      pacer?.sent(n, now);
      continue;
    }
    const delay = pacer?.delay(now) ?? 0;
    // Sleeping: the timer fires no sooner than its floor. Waiting for room: about one segment.
    const step = delay > 0 ? Math.max(delay, timerFloorMs) : 0.02;
    now += step;
    buffered = Math.max(0, buffered - LINK * step);
  }
  let peak = 0;
  let from = 0;
  let inWindow = 0;
  for (const [t, n] of sends) {
    inWindow += n;
    while (sends[from][0] <= t - WINDOW_MS) inWindow -= sends[from++][1];
    peak = Math.max(peak, inWindow);
  }
  return { rate: (sent / now) * 1000, peak };
}

describe("SendPacer", () => {
  test("an idle sender may send one burst at once; more must wait in proportion to the bytes", () => {
    const pacer = new SendPacer(RATE);
    const burst = (RATE / 1000) * PACING_BURST_MS;
    pacer.sent(burst, 100);
    assert.equal(pacer.delay(100), 0, "the burst was covered by the idle credit");
    pacer.sent(RATE / 1000, 100); // one more millisecond's worth
    assert.ok(Math.abs(pacer.delay(100) - 1) < 1e-9, `delay ${pacer.delay(100)} ms`);
    assert.ok(Math.abs(pacer.delay(100.4) - 0.6) < 1e-9, "the delay shrinks as time passes");
    assert.equal(pacer.delay(105), 0, "never negative");
  });

  test("idle time earns no more than one burst of credit", () => {
    const pacer = new SendPacer(RATE);
    pacer.sent(1000, 0);
    const burst = (RATE / 1000) * PACING_BURST_MS;
    pacer.sent(burst + RATE / 1000, 60_000); // a minute later: one burst and 1 ms more
    assert.ok(Math.abs(pacer.delay(60_000) - 1) < 1e-9, `delay ${pacer.delay(60_000)} ms`);
  });

  for (const [runtime, floor] of [["Deno", 2.1], ["Node", 1.08]] as const) {
    test(`with ${runtime}'s timer (≥ ${floor} ms) a bulk sender averages the rate, where unpaced it runs at link speed`, () => {
      const paced = simulate(new SendPacer(RATE), floor);
      assert.ok(
        Math.abs(paced.rate - RATE) / RATE < 0.05,
        `paced: ${(paced.rate / 1e6).toFixed(1)} MB/s`,
      );
      // In any window: the rate's worth, the idle credit and at most one send buffer ahead.
      const bound = (RATE / 1000) * (WINDOW_MS + PACING_BURST_MS) + SEND_BUFFER;
      assert.ok(paced.peak <= bound, `paced: ${paced.peak} bytes in ${WINDOW_MS} ms`);
      const unpaced = simulate(undefined, floor);
      assert.ok(unpaced.rate > 1.4 * RATE, `unpaced: ${(unpaced.rate / 1e6).toFixed(1)} MB/s`);
      assert.ok(unpaced.peak > bound, `unpaced: ${unpaced.peak} bytes in ${WINDOW_MS} ms`);
    });
  }

  test("a lower rate paces lower", () => {
    const slow = simulate(new SendPacer(20_000_000), 2.1, 10_000_000);
    assert.ok(
      Math.abs(slow.rate - 20_000_000) / 20_000_000 < 0.05,
      `${(slow.rate / 1e6).toFixed(1)} MB/s`,
    );
  });
});
