/**
 * Going between RxJS and web streams: readable → observable, observable →
 * readable (bounded), waiting for a direct path before connecting, and
 * reconnecting with backoff.
 *
 * @module
 */
import { filter, firstValueFrom, Observable, timeout as rxTimeout } from "rxjs";
import { InvalidArgumentError, TimeoutError, ZeroTierError } from "../errors.ts";
import type { PeerState } from "../observables/state.ts";
import type { ConnectOptions } from "./dial.ts";
import type { TcpConn } from "./tcp.ts";

/**
 * A readable stream as a cold observable. Each subscription takes a reader;
 * the next chunk is read only after the subscriber's `next` returned, so a
 * slow synchronous subscriber slows the source. Unsubscribing cancels the
 * stream. (A readable has one reader at a time: a second concurrent
 * subscription errors with code `STREAM_LOCKED`.)
 *
 * @example
 * ```ts
 * import { fromReadable } from "@rxzt/rxzt";
 * fromReadable(conn.readable).subscribe((chunk) => console.log(chunk.length));
 * ```
 */
export function fromReadable<T>(readable: ReadableStream<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    if (readable.locked) {
      subscriber.error(new ZeroTierError("STREAM_LOCKED", "fromReadable: the stream already has a reader."));
      return;
    }
    const reader = readable.getReader();
    let active = true;
    (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (!active) return;
          if (done) return subscriber.complete();
          subscriber.next(value);
        }
      } catch (err) {
        if (active) subscriber.error(err);
      }
    })();
    return () => {
      active = false;
      reader.cancel().catch(() => {});
    };
  });
}

/** Options of {@link toReadable}. */
export interface ToReadableOptions {
  /** Values buffered while nobody reads. Default: 16. */
  highWaterMark?: number;
  /**
   * What to do when the buffer is full (an observable cannot be paused):
   * `"error"` (default: the readable errors with code `BUFFER_OVERFLOW`),
   * `"drop-oldest"` or `"drop-newest"`.
   */
  overflow?: "error" | "drop-oldest" | "drop-newest";
}

/**
 * An observable as a readable stream. Subscribes when the stream starts,
 * unsubscribes when it is cancelled; buffers at most `highWaterMark` values,
 * then applies `overflow`.
 *
 * @example
 * ```ts
 * import { interval, map, take } from "rxjs";
 * import { toReadable } from "@rxzt/rxzt";
 * const lines = toReadable(interval(100).pipe(take(5), map((i) => new TextEncoder().encode(`${i}\n`))));
 * await lines.pipeTo(conn.writable);
 * ```
 */
export function toReadable<T>(source$: Observable<T>, options: ToReadableOptions = {}): ReadableStream<T> {
  const highWaterMark = options.highWaterMark ?? 16;
  const overflow = options.overflow ?? "error";
  if (!Number.isInteger(highWaterMark) || highWaterMark < 1) {
    throw new InvalidArgumentError("highWaterMark", "must be an integer >= 1", highWaterMark);
  }
  if (!["error", "drop-oldest", "drop-newest"].includes(overflow)) {
    throw new InvalidArgumentError("overflow", 'must be "error", "drop-oldest" or "drop-newest"', overflow);
  }
  let subscription: { unsubscribe(): void } | undefined;
  const queue: T[] = [];
  let waiting: (() => void) | undefined;
  let ended: { error?: unknown } | undefined;
  const wake = () => {
    waiting?.();
    waiting = undefined;
  };
  return new ReadableStream<T>({
    start() {
      subscription = source$.subscribe({
        next(value) {
          if (queue.length >= highWaterMark) {
            if (overflow === "drop-newest") return;
            if (overflow === "drop-oldest") queue.shift();
            else {
              ended = {
                error: new ZeroTierError("BUFFER_OVERFLOW", `toReadable: more than ${highWaterMark} values waited for a reader.`),
              };
              subscription?.unsubscribe();
              return wake();
            }
          }
          queue.push(value);
          wake();
        },
        error(error) {
          ended = { error };
          wake();
        },
        complete() {
          ended = {};
          wake();
        },
      });
    },
    async pull(controller) {
      while (queue.length === 0 && !ended) await new Promise<void>((resolve) => (waiting = resolve));
      if (queue.length > 0) return controller.enqueue(queue.shift()!);
      if (ended?.error !== undefined) controller.error(ended.error);
      else controller.close();
    },
    cancel() {
      subscription?.unsubscribe();
    },
  }, { highWaterMark: 0 });
}

/** What {@link whenDirect} and {@link connectWhenDirect} need of a node. */
export interface PeerSource {
  peer$(peerId: string): Observable<PeerState>;
}

/**
 * Resolves once `peerId` is reachable over a direct path.
 *
 * @example
 * ```ts
 * import { whenDirect } from "@rxzt/rxzt";
 * await whenDirect(node, "89e92ceee5", { timeout: 60_000 });
 * ```
 */
export async function whenDirect(
  node: PeerSource,
  peerId: string,
  options: { timeout?: number; signal?: AbortSignal } = {},
): Promise<PeerState> {
  let source$ = node.peer$(peerId).pipe(filter((p) => p.link === "DIRECT"));
  if (options.timeout !== undefined) source$ = source$.pipe(rxTimeout(options.timeout));
  const pending = firstValueFrom(source$).catch((err) => {
    if (err?.name === "TimeoutError" && options.timeout !== undefined) {
      throw new TimeoutError(`waiting for a direct path to ${peerId}`, options.timeout);
    }
    throw err;
  });
  if (!options.signal) return await pending;
  const signal = options.signal;
  signal.throwIfAborted();
  return await Promise.race([
    pending,
    new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true })),
  ]);
}

/** What {@link reconnecting} and {@link connectWhenDirect} need of a node. */
export interface Dialer extends PeerSource {
  connect(options: ConnectOptions): Promise<TcpConn>;
}

/**
 * Waits until `peerId` is direct, then connects.
 *
 * @example
 * ```ts
 * import { connectWhenDirect } from "@rxzt/rxzt";
 * const conn = await connectWhenDirect(node, "89e92ceee5", { hostname: "10.44.238.229", port: 7000 });
 * ```
 */
export async function connectWhenDirect(node: Dialer, peerId: string, options: ConnectOptions): Promise<TcpConn> {
  await whenDirect(node, peerId, { timeout: options.timeout, signal: options.signal });
  return await node.connect(options);
}

/** Options of {@link reconnecting}. */
export interface ReconnectOptions {
  /** First delay after a failure or a dropped connection, ms. Default: 500. */
  initialDelay?: number;
  /** Longest delay, ms. Default: 30000. */
  maxDelay?: number;
  /** Growth of the delay after each failure. Default: 2. */
  factor?: number;
  /** Give up (error) after this many failed attempts in a row. Default: unlimited. */
  maxAttempts?: number;
}

/**
 * A connection that comes back: emits a connection, and when it closes (for
 * any reason) connects again, waiting `initialDelay` × `factor`ⁿ (capped) after
 * failures. Unsubscribing closes the current connection and stops.
 *
 * @example
 * ```ts
 * import { reconnecting } from "@rxzt/rxzt";
 * reconnecting(() => node.connect({ hostname: "10.44.238.229", port: 7000 }))
 *   .subscribe((conn) => conn.readable.pipeTo(Deno.stdout.writable, { preventClose: true }));
 * ```
 */
export function reconnecting(connect: () => Promise<TcpConn>, options: ReconnectOptions = {}): Observable<TcpConn> {
  const { initialDelay = 500, maxDelay = 30_000, factor = 2, maxAttempts = Infinity } = options;
  for (const [name, v] of Object.entries({ initialDelay, maxDelay, factor })) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(name, "must be a finite number >= 0", v);
  }
  return new Observable<TcpConn>((subscriber) => {
    let active = true;
    let current: TcpConn | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const sleep = (ms: number) => new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    (async () => {
      let failures = 0;
      while (active) {
        try {
          current = await connect();
        } catch (err) {
          failures++;
          if (failures >= maxAttempts) return subscriber.error(err);
          await sleep(Math.min(maxDelay, initialDelay * factor ** (failures - 1)));
          continue;
        }
        if (!active) return current.close();
        failures = 0;
        subscriber.next(current);
        await current.closed;
        if (active) await sleep(initialDelay);
      }
    })();
    return () => {
      active = false;
      if (timer !== undefined) clearTimeout(timer);
      current?.close();
    };
  });
}
