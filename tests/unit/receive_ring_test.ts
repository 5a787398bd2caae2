/**
 * Tier 1: the receive ring (`src/streams/receive_ring.ts`) and the command
 * queue of the I/O thread's control block (`src/streams/receive_control.ts`),
 * with this thread playing the I/O thread's part.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  allocateControl,
  COMMAND,
  COMMAND_SLOTS,
  pushCommand,
  takeCommands,
} from "../../src/streams/receive_control.ts";
import { allocateRing, RING, RingReader, type RingView } from "../../src/streams/receive_ring.ts";

/** Writes `bytes` into the ring as the I/O thread does (wrapping at the end). */
function produce(ring: RingView, bytes: Uint8Array): void {
  const written = Atomics.load(ring.header, RING.WRITTEN);
  for (let i = 0; i < bytes.length; i++) {
    ring.data[((written >>> 0) + i) % ring.capacity] = bytes[i];
  }
  Atomics.store(ring.header, RING.WRITTEN, (written + bytes.length) | 0);
}

/**
 * Runs `fn` with a timer pending: a pending `Atomics.waitAsync` alone does not
 * keep Deno's event loop alive (in an app the running node does).
 */
async function keepingAlive(fn: () => Promise<void>): Promise<void> {
  const timer = setInterval(() => {}, 1000);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
}

const seq = (from: number, n: number) =>
  Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

describe("receive ring", () => {
  test("bytes come out in order across the wrap-around, one chunk per take", () => {
    const { ring } = allocateRing(1000);
    const reader = new RingReader(ring, () => {});
    let next = 0;
    const out: number[] = [];
    for (let round = 0; round < 7; round++) {
      produce(ring, seq(next, 700));
      next += 700;
      assert.equal(reader.available, 700);
      const chunk = reader.take();
      assert.equal(chunk.byteLength, 700, "a default read takes all that is there");
      out.push(...chunk);
    }
    assert.deepEqual(Uint8Array.from(out), seq(0, 4900));
    assert.equal(reader.available, 0);
    assert.equal(reader.take().byteLength, 0, "an empty ring gives an empty chunk");
  });

  test("a BYOB view takes at most its length, at its offset", () => {
    const { ring } = allocateRing(64);
    const reader = new RingReader(ring, () => {});
    produce(ring, seq(10, 50));
    const backing = new Uint8Array(40);
    const got = reader.take(backing.subarray(8, 28));
    assert.equal(got.byteLength, 20);
    assert.equal(got.buffer, backing.buffer, "written into the caller's buffer");
    assert.deepEqual(backing.subarray(8, 28), seq(10, 20));
    assert.equal(reader.available, 30);
  });

  test("positions are counts modulo 2^32: a ring that wrapped its counters still reads right", () => {
    const { ring } = allocateRing(100);
    Atomics.store(ring.header, RING.WRITTEN, 0x7ffffff0 | 0);
    Atomics.store(ring.header, RING.READ, 0x7ffffff0 | 0);
    const reader = new RingReader(ring, () => {});
    for (let i = 0; i < 5; i++) {
      produce(ring, seq(i * 60, 60));
      assert.deepEqual(reader.take(), seq(i * 60, 60));
    }
  });

  test("a full ring restarts the I/O thread once half of it is free, and only once", () => {
    const { ring } = allocateRing(1000);
    let rooms = 0;
    const reader = new RingReader(ring, () => rooms++);
    produce(ring, seq(0, 1000));
    Atomics.store(ring.header, RING.FULL, 1); // the I/O thread stopped reading
    reader.take(new Uint8Array(300));
    assert.equal(rooms, 0, "300 of 1000 free: not yet");
    reader.take(new Uint8Array(300));
    assert.equal(rooms, 1, "600 free: the thread is told");
    assert.equal(Atomics.load(ring.header, RING.FULL), 0);
    reader.take(new Uint8Array(300));
    assert.equal(rooms, 1, "told once");
  });

  test("parked() returns at once when data or an end is there, and raises WAITING only while parked", async () => {
    const { ring } = allocateRing(100);
    const reader = new RingReader(ring, () => {});
    produce(ring, seq(0, 1));
    await reader.parked();
    reader.take();
    Atomics.store(ring.header, RING.END, 1);
    await reader.parked();
    assert.equal(reader.end, 1);
    assert.equal(Atomics.load(ring.header, RING.WAITING), 0);
  });

  test("a parked reader waits for a wake-up (SEQ) and sees WAITING meanwhile; interrupt() ends the park too", () =>
    keepingAlive(async () => {
      const { ring } = allocateRing(100);
      const reader = new RingReader(ring, () => {});
      let woken = false;
      const parked = reader.parked().then(() => (woken = true));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(woken, false, "nothing came: still parked");
      assert.equal(
        Atomics.load(ring.header, RING.WAITING),
        1,
        "the I/O thread can see a parked reader",
      );
      produce(ring, seq(0, 10));
      Atomics.add(ring.header, RING.SEQ, 1);
      Atomics.notify(ring.header, RING.SEQ);
      await parked;
      assert.equal(Atomics.load(ring.header, RING.WAITING), 0);
      reader.take();
      const second = reader.parked();
      reader.interrupt(-104);
      await second;
      assert.equal(reader.end, -104, "interrupt(end) records the end for the reader to report");
    }));
});

describe("I/O thread command queue", () => {
  test("commands come out in order, and a full queue refuses more until taken", () => {
    const control = new Int32Array(allocateControl());
    for (let i = 0; i < COMMAND_SLOTS; i++) {
      assert.ok(pushCommand(control, { op: COMMAND.ATTACH, fd: i, arg: i * 2 }));
    }
    assert.equal(pushCommand(control, { op: COMMAND.DETACH, fd: 1, arg: 0 }), false, "full");
    const taken = takeCommands(control);
    assert.equal(taken.length, COMMAND_SLOTS);
    assert.deepEqual(taken[5], { op: COMMAND.ATTACH, fd: 5, arg: 10 });
    assert.ok(pushCommand(control, { op: COMMAND.DETACH, fd: 7, arg: 0 }));
    assert.deepEqual(takeCommands(control), [{ op: COMMAND.DETACH, fd: 7, arg: 0 }]);
    assert.deepEqual(takeCommands(control), []);
  });
});
