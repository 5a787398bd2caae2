/**
 * Tier 1: the I/O thread's loop (`src/streams/receive_loop.ts`) on this
 * thread, against a scripted fake of libzt's calls and a fake clock: what it
 * reads into the rings, when it wakes a reader, when it stops reading, when
 * it sleeps, and how it tells real receive errors from a clobbered errno.
 * (The same loop on a real thread, over the stand-in and real libzt, is
 * tiers 2 and 3.)
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SOCK } from "../../src/ffi/sockets.ts";
import { POLLFD } from "../../src/ffi/layout.ts";
import {
  allocateControl,
  COMMAND,
  CONTROL,
  pushCommand,
  readCounters,
  WAKE,
} from "../../src/streams/receive_control.ts";
import { type ReceiveMessage, runReceiveLoop } from "../../src/streams/receive_loop.ts";
import type { ReceiveCalls } from "../../src/ffi/receive_calls.ts";
import { RING, RingReader, type RingView, viewRing } from "../../src/streams/receive_ring.ts";

const EAGAIN = 11;
const ECONNRESET = 104;
const WAKE_FD = 99;

/** What one receive call on an fd answers: bytes, the end of stream, or a failure with an errno. */
type Answer = Uint8Array | "eof" | { fail: number };

/**
 * A fake libzt: each fd has a queue of answers, readable while the queue is
 * not empty. `steps` run one per poll (new data arrives, time passes, the
 * reader parks, ...); when they run out the loop is told to stop.
 */
class FakeLibzt implements ReceiveCalls {
  readonly queues = new Map<number, Answer[]>();
  readonly polled: number[][] = [];
  readonly sleeps: number[] = [];
  time = 1000;
  lastErrno = 0;
  closed: number[] = [];

  constructor(readonly control: Int32Array, readonly steps: (() => void)[]) {}

  clock = {
    now: () => this.time,
    sleep: (_control: Int32Array, _seq: number, timeoutMs: number) => {
      this.sleeps.push(timeoutMs);
      this.next();
    },
  };

  next(): void {
    const step = this.steps.shift();
    if (step) step();
    else Atomics.store(this.control, CONTROL.STOP, 1);
  }

  readonly timeouts: number[] = [];

  poll(pollfds: Uint8Array, count: number, timeoutMs: number): number {
    this.timeouts.push(timeoutMs);
    const view = new DataView(pollfds.buffer, pollfds.byteOffset);
    const fds: number[] = [];
    for (let i = 0; i < count; i++) fds.push(view.getInt32(i * POLLFD.size + POLLFD.fd, true));
    this.polled.push(fds);
    this.next();
    let ready = 0;
    fds.forEach((fd, i) => {
      const has = (this.queues.get(fd)?.length ?? 0) > 0;
      view.setInt16(i * POLLFD.size + POLLFD.revents, has ? SOCK.POLLIN : 0, true);
      if (has) ready++;
    });
    return ready;
  }

  recv(fd: number, into: Uint8Array): number {
    const q = this.queues.get(fd) ?? [];
    const head = q[0];
    if (head === undefined) return this.fail(EAGAIN);
    if (head === "eof") return 0;
    if (!(head instanceof Uint8Array)) {
      q.shift();
      return this.fail(head.fail);
    }
    const n = Math.min(head.byteLength, into.byteLength);
    into.set(head.subarray(0, n));
    if (n === head.byteLength) q.shift();
    else q[0] = head.subarray(n);
    return n;
  }

  fail(errno: number): number {
    this.lastErrno = errno;
    return -1;
  }

  errno = () => this.lastErrno;
  socket = () => WAKE_FD;
  close = (fd: number) => (this.closed.push(fd), 0);

  arrive(fd: number, ...answers: Answer[]): void {
    const q = this.queues.get(fd) ?? [];
    q.push(...answers);
    this.queues.set(fd, q);
  }
}

const bytes = (n: number, from = 0) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
const TUNING = { wakeAfterBytes: 1000, wakeWithinMs: 2 };

/** The loop over a fake libzt, with one connection (fd 5) attached. Steps reach its ring through `ring` and `reader`. */
/** One step of a stream into `h`: the reader takes what is there and parks, then `n` bytes come 0.1 ms later. */
function chunk2(h: Harness, n: number, seen: number[]) {
  return () => {
    seen.push(h.counters.wakes);
    h.reader!.take();
    h.park();
    h.fake.time += 0.1;
    h.fake.arrive(5, bytes(n));
  };
}

class Harness {
  constructor(readonly tuning = TUNING) {}
  readonly control = new Int32Array(allocateControl());
  readonly fake = new FakeLibzt(this.control, []);
  readonly messages: ReceiveMessage[] = [];
  ring?: RingView;
  reader?: RingReader;

  /** The reader parks (as RingReader.parked() does before it waits). */
  park(): void {
    Atomics.store(this.ring!.header, RING.WAITING, 1);
  }

  run(steps: (() => void)[], capacity = 4096): this {
    this.fake.steps.push(...steps);
    pushCommand(this.control, { op: COMMAND.ATTACH, fd: 5, arg: capacity });
    runReceiveLoop(
      this.control,
      this.fake,
      (m) => {
        this.messages.push(m);
        if (m.kind === "ring") {
          this.ring = viewRing(m.buffer);
          this.reader = new RingReader(this.ring, () => {});
        }
      },
      this.tuning,
      this.fake.clock,
    );
    return this;
  }

  get counters() {
    return readCounters(this.control);
  }
}

describe("the I/O thread's receive loop (fake libzt, fake clock)", () => {
  test("bytes go into the ring in order, across its end, and the reader sees them all", () => {
    const h = new Harness();
    const got: number[] = [];
    h.run([
      () => h.fake.arrive(5, bytes(3000, 0)),
      () => got.push(...h.reader!.take()),
      () => h.fake.arrive(5, bytes(3000, 3000)),
      () => got.push(...h.reader!.take()),
      () => h.fake.arrive(5, "eof"),
    ]);
    got.push(...h.reader!.take());
    assert.deepEqual(Uint8Array.from(got), bytes(6000));
    assert.equal(h.reader!.end, 1, "end of stream recorded");
    assert.deepEqual(h.messages.map((m) => m.kind), ["ring", "stopped"]);
    assert.ok(
      h.fake.polled.every((fds) => fds.includes(WAKE_FD)),
      "every poll includes the wake socket",
    );
    assert.deepEqual(h.fake.closed, [WAKE_FD], "the wake socket is closed when the loop ends");
  });

  test("a trickle (request/response, chat) wakes a parked reader at once, every time", () => {
    const h = new Harness();
    const arrivals = 20;
    h.run(
      Array.from({ length: arrivals }, () => () => {
        h.reader!.take();
        h.park();
        h.fake.time += 1; // 100 bytes a millisecond: far below streaming
        h.fake.arrive(5, bytes(100));
      }),
      1 << 16,
    );
    assert.equal(h.counters.wakes, arrivals);
  });

  test("a stream's wake-ups are batched: at most one per wakeWithinMs, however often data comes", () => {
    const h = new Harness({ wakeAfterBytes: 1 << 20, wakeWithinMs: 2 });
    const steps = 40; // 20 KB every 0.5 ms: 40 MB/s, for 20 ms
    h.run(
      Array.from({ length: steps }, () => () => {
        h.reader!.take();
        h.park();
        h.fake.time += 0.5;
        h.fake.arrive(5, bytes(20_000));
      }),
      1 << 20,
    );
    const wakes = h.counters.wakes;
    assert.ok(
      wakes >= 8 && wakes <= 13,
      `${wakes} wake-ups over 20 ms (about one per 2 ms expected)`,
    );
  });

  test("a stream wakes its reader at once when wakeAfterBytes (or half the ring) arrived", () => {
    const h = new Harness({ wakeAfterBytes: 50_000, wakeWithinMs: 1000 });
    const seen: number[] = [];
    const chunk = (n: number) => () => {
      seen.push(h.counters.wakes);
      h.reader!.take();
      h.park();
      h.fake.time += 0.1;
      h.fake.arrive(5, bytes(n));
    };
    // Two quick chunks make it a stream; then 30 KB (held), 30 KB more (60 KB >= 50 KB: woken).
    h.run([
      chunk(20_000),
      chunk(20_000),
      chunk(30_000),
      () => (seen.push(h.counters.wakes), h.fake.time += 0.1, h.fake.arrive(5, bytes(30_000))),
      () => seen.push(h.counters.wakes),
    ], 1 << 20);
    assert.deepEqual(seen, [0, 1, 2, 2, 3]);
    // Half a 64 KiB ring is enough, whatever wakeAfterBytes says.
    const small = new Harness({ wakeAfterBytes: 1 << 20, wakeWithinMs: 1000 });
    const got: number[] = [];
    small.run([
      chunk2(small, 20_000, got),
      chunk2(small, 20_000, got),
      chunk2(small, 20_000, got),
      chunk2(small, 20_000, got),
      () => got.push(small.counters.wakes),
    ], 65_536);
    assert.ok(got.at(-1)! >= 3, `woken ${got.at(-1)} times`);
  });

  test("while a stream's wake-up is held back, the poll waits no longer than until it is due", () => {
    const h = new Harness({ wakeAfterBytes: 1 << 20, wakeWithinMs: 2 });
    const step = () => {
      h.reader!.take();
      h.park();
      h.fake.time += 0.1;
      h.fake.arrive(5, bytes(20_000));
    };
    h.run([step, step, step, () => {}], 1 << 20);
    assert.equal(h.fake.timeouts[0], 1000, "nothing due: the idle timeout");
    assert.equal(
      h.fake.timeouts[3],
      2,
      "a held-back wake-up of a stream: until it is due (1.9 ms, rounded up)",
    );
  });

  test("a reader that is not parked is never woken, however much arrives", () => {
    const h = new Harness();
    h.run(
      Array.from({ length: 20 }, () => () => (h.fake.time += 5, h.fake.arrive(5, bytes(2000)))),
      1 << 20,
    );
    assert.equal(h.counters.wakes, 0);
    assert.ok(h.counters.receives >= 20);
  });

  test("a full ring is left out of the polls (FULL raised) until the reader frees room; then reading goes on", () => {
    const h = new Harness();
    h.fake.arrive(5, bytes(5000));
    let fullSeen = -1;
    h.run([
      () => {}, // the first poll: 4096 bytes read, the ring is full
      () => {
        fullSeen = Atomics.load(h.ring!.header, RING.FULL);
        h.reader!.take(new Uint8Array(3000)); // frees room
      },
    ]);
    assert.equal(fullSeen, 1, "the loop raised FULL");
    assert.equal(
      h.fake.sleeps.length,
      1,
      "with its only connection full, the loop slept instead of polling",
    );
    assert.equal(h.fake.polled.length, 2, "and polled again once there was room");
    assert.deepEqual(h.reader!.take(), bytes(2000, 3000));
  });

  test("with nothing to read the loop sleeps (no poll, no receive) until told otherwise", () => {
    const control = new Int32Array(allocateControl());
    const fake = new FakeLibzt(control, [() => {}]);
    runReceiveLoop(control, fake, () => {}, TUNING, fake.clock);
    assert.deepEqual(fake.sleeps, [Infinity, Infinity]);
    assert.equal(fake.polled.length, 0);
    assert.equal(readCounters(control).receives, 0);
  });

  test("a failure is believed only when a second receive confirms it: a clobbered errno costs nothing", () => {
    const h = new Harness();
    let endAfterOne = NaN;
    h.run([
      // errno read as ECONNRESET although the call only found no data (another thread's call
      // set the global): the second receive finds data, so the stream goes on.
      () => h.fake.arrive(5, { fail: ECONNRESET }, bytes(10)),
      () => (endAfterOne = h.reader!.end,
        h.fake.arrive(5, { fail: ECONNRESET }, { fail: ECONNRESET })),
    ]);
    assert.equal(endAfterOne, 0, "not ended by one failure");
    assert.deepEqual(h.reader!.take(), bytes(10));
    assert.equal(h.reader!.end, -ECONNRESET, "two failures in a row: the connection failed");
  });

  test("an error reported once and then end of stream (a host stack's way) is still the error", () => {
    const h = new Harness();
    h.run([() => h.fake.arrive(5, { fail: ECONNRESET }, "eof")]);
    assert.equal(h.reader!.end, -ECONNRESET);
  });

  test("the wake socket is never closed while the JS thread holds it (lwIP would free it under the JS thread's shutdown)", () => {
    const h = new Harness();
    const closedAt: number[][] = [];
    h.run([
      () => Atomics.store(h.control, CONTROL.WAKE_ARMED, WAKE.SHUTTING), // the JS thread took it
      () => closedAt.push([...h.fake.closed]),
      () => (closedAt.push([...h.fake.closed]),
        Atomics.store(h.control, CONTROL.WAKE_ARMED, WAKE.SHUT)), // handed back
      () => closedAt.push([...h.fake.closed]),
    ]);
    assert.deepEqual(closedAt[0], [], "held: kept (and polled again)");
    assert.deepEqual(closedAt[1], [], "still held: kept");
    assert.deepEqual(closedAt[2], [WAKE_FD], "handed back: retired");
    assert.equal(
      Atomics.load(h.control, CONTROL.WAKE_ARMED),
      WAKE.RETIRED,
      "the last one retired at the end",
    );
  });

  test("DETACH forgets the connection and says so; later polls leave it out", () => {
    const h = new Harness();
    h.run([() => void pushCommand(h.control, { op: COMMAND.DETACH, fd: 5, arg: 0 })]);
    assert.deepEqual(h.messages.map((m) => `${m.kind}${"fd" in m ? m.fd : ""}`), [
      "ring5",
      "detached5",
      "stopped",
    ]);
    assert.deepEqual(h.fake.polled, [[5, WAKE_FD]], "polled while attached, then slept");
  });
});
