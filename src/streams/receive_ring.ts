/**
 * The receive ring of one TCP connection: a `SharedArrayBuffer` that the
 * node's I/O thread fills straight from libzt and the JS thread empties into
 * the connection's `readable`.
 *
 * One writer (the I/O thread) and one reader (the JS thread); positions are
 * running byte counts modulo 2³², so "how much is in the ring" is
 * `(written - read) >>> 0` and neither side ever waits on a lock. The JS
 * thread parks on an empty ring with `Atomics.waitAsync` after raising
 * `WAITING`; the I/O thread only wakes a parked reader, and then in batches
 * (see `receive_loop.ts`), which is what keeps the JS thread's wake-ups rare.
 *
 * @module
 */

/** Int32 slots of a ring's header. */
export const RING = {
  /** Bytes written by the I/O thread, mod 2³². */
  WRITTEN: 0,
  /** Bytes taken by the JS thread, mod 2³². */
  READ: 1,
  /** 0 while open; 1 at end of stream; a negative value is `-errno` of a failed receive, or {@link RING_SERVICE_GONE}. */
  END: 2,
  /** Bumped by the I/O thread each time it wakes the reader. */
  SEQ: 3,
  /** 1 while the JS thread is parked on an empty ring. */
  WAITING: 4,
  /** 1 while the I/O thread has stopped reading because the ring is full. */
  FULL: 5,
} as const;

/** Bytes of the header before the data. */
export const RING_HEADER_BYTES = 64;
/** `END` value when libzt's service is gone (the node stopped under the reader). */
export const RING_SERVICE_GONE = -0x10000;
/** `END` value when the I/O thread died. */
export const RING_THREAD_FAILED = -0x10001;

/**
 * Default bytes the node's I/O thread may read ahead of the app on one TCP
 * connection (2 MiB): more than libzt's 1 MB receive window, so a full ring
 * means the app, not the ring, is what the sender waits for. Allocated when
 * the app starts reading, freed when it is done. Set per connection with
 * `readBufferSize` in `connect()` / `listen()` options.
 *
 * @example
 * ```ts ignore
 * const conn = await node.connect({ hostname: "10.1.2.3", port: 7000, readBufferSize: 8 * DEFAULT_READ_BUFFER_SIZE });
 * ```
 */
export const DEFAULT_READ_BUFFER_SIZE = 2 * 1024 * 1024;
/** Smallest ring: two of the largest chunks a reader takes at once. */
export const MIN_READ_BUFFER_SIZE = 64 * 1024;
/** Largest ring. */
export const MAX_READ_BUFFER_SIZE = 256 * 1024 * 1024;

/** Most bytes one default-reader chunk carries (a BYOB reader's view sets its own). */
const MAX_CHUNK = 256 * 1024;

/** A ring as either side sees it. */
export interface RingView {
  readonly header: Int32Array;
  readonly data: Uint8Array;
  readonly capacity: number;
}

/** Allocates a ring of `capacity` data bytes (done by the I/O thread). */
export function allocateRing(capacity: number): { buffer: SharedArrayBuffer; ring: RingView } {
  const buffer = new SharedArrayBuffer(RING_HEADER_BYTES + capacity);
  return { buffer, ring: viewRing(buffer) };
}

/** The views over a ring's buffer. */
export function viewRing(buffer: SharedArrayBuffer): RingView {
  const capacity = buffer.byteLength - RING_HEADER_BYTES;
  return {
    header: new Int32Array(buffer, 0, RING_HEADER_BYTES / 4),
    data: new Uint8Array(buffer, RING_HEADER_BYTES, capacity),
    capacity,
  };
}

/** Bytes in the ring, not yet taken by the reader. */
export function ringFill(ring: RingView): number {
  return (Atomics.load(ring.header, RING.WRITTEN) - Atomics.load(ring.header, RING.READ)) >>> 0;
}

/**
 * What the JS thread reads a ring with. `take` copies out what is there;
 * `parked` waits (without blocking the thread) until the I/O thread says more
 * came or the stream ended. `onRoom` is called when the reader freed enough
 * room in a ring the I/O thread had stopped filling.
 */
export class RingReader {
  readonly #ring: RingView;
  readonly #onRoom: () => void;

  constructor(ring: RingView, onRoom: () => void) {
    this.#ring = ring;
    this.#onRoom = onRoom;
  }

  /** Bytes waiting to be taken. */
  get available(): number {
    return ringFill(this.#ring);
  }

  /**
   * The end of the stream: 0 open, 1 ended, negative a failure (see
   * {@link RING}). Read it before {@link available}: the I/O thread records
   * the end after the last bytes, so only in that order does a reader that
   * sees the end also see every byte before it.
   */
  get end(): number {
    return Atomics.load(this.#ring.header, RING.END);
  }

  /**
   * Copies up to `into.byteLength` bytes into `into` (or, without `into`, up to
   * {@link MAX_CHUNK} bytes into a new array) and frees their room. Returns
   * the bytes copied (an empty array when the ring is empty).
   */
  take(): Uint8Array<ArrayBuffer>;
  take(into: Uint8Array): Uint8Array;
  take(into?: Uint8Array): Uint8Array {
    const { header, data, capacity } = this.#ring;
    const read = Atomics.load(header, RING.READ);
    const fill = (Atomics.load(header, RING.WRITTEN) - read) >>> 0;
    const n = Math.min(fill, into ? into.byteLength : MAX_CHUNK);
    const out = into ? into.subarray(0, n) : new Uint8Array(n);
    if (n === 0) return out;
    const at = (read >>> 0) % capacity;
    const first = Math.min(n, capacity - at);
    out.set(data.subarray(at, at + first));
    if (first < n) out.set(data.subarray(0, n - first), first);
    Atomics.store(header, RING.READ, (read + n) | 0);
    // The I/O thread stopped reading at a full ring: restart it once half is free,
    // not at every chunk, so a slow reader costs one wake per half ring.
    if (Atomics.load(header, RING.FULL) === 1 && capacity - (fill - n) >= capacity / 2) {
      if (Atomics.compareExchange(header, RING.FULL, 1, 0) === 1) this.#onRoom();
    }
    return out;
  }

  /**
   * Resolves once the I/O thread wakes the reader (data came, or the stream
   * ended), or {@link interrupt} is called; at once if the ring has data or
   * an end already. Raises `WAITING` first and looks again, so that a write
   * racing the park is never missed (both sides use sequentially consistent
   * atomics).
   */
  async parked(): Promise<void> {
    const { header } = this.#ring;
    const seq = Atomics.load(header, RING.SEQ);
    Atomics.store(header, RING.WAITING, 1);
    try {
      if (ringFill(this.#ring) > 0 || Atomics.load(header, RING.END) !== 0) return;
      const wait = Atomics.waitAsync(header, RING.SEQ, seq);
      if (wait.async) await wait.value;
    } finally {
      Atomics.store(header, RING.WAITING, 0);
    }
  }

  /** The ring's header as text (for diagnostics). */
  toString(): string {
    const h = this.#ring.header;
    return Object.entries(RING).map(([k, i]) => `${k}=${Atomics.load(h, i)}`).join(" ") +
      ` capacity=${this.#ring.capacity}`;
  }

  /** Wakes a parked reader now: its socket is closing, or the I/O thread is gone. */
  interrupt(end?: number): void {
    const { header } = this.#ring;
    if (end !== undefined) Atomics.compareExchange(header, RING.END, 0, end);
    Atomics.add(header, RING.SEQ, 1);
    Atomics.notify(header, RING.SEQ);
  }
}
