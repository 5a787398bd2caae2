/**
 * Going between RxJS and web streams: readable → observable, observable →
 * readable (bounded), and a connection that reconnects with backoff.
 *
 * @module
 */
import { Observable } from "rxjs";
import { delay } from "../delay.ts";
import { InvalidArgumentError, ZeroTierError } from "../errors.ts";
import {
  isInstance,
  readOptions,
  readProperty,
  toChoice,
  toFunction,
  toInteger,
  toTimeout,
} from "../validate.ts";
import type { TcpConn } from "./tcp.ts";

/** The most values {@link toReadable} buffers. */
const MAX_BUFFERED = 1 << 20;

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
  if (!isInstance(readable, ReadableStream)) {
    throw new InvalidArgumentError(
      "readable",
      "must be a ReadableStream (e.g. conn.readable)",
      readable,
    );
  }
  return new Observable<T>((subscriber) => {
    if (readable.locked) {
      subscriber.error(
        new ZeroTierError("STREAM_LOCKED", "fromReadable: the stream already has a reader."),
      );
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
  /**
   * Values buffered while nobody reads. Default: 16.
   *
   * @default {16}
   */
  highWaterMark?: number;
  /**
   * What to do when the buffer is full (an observable cannot be paused):
   * `"error"` (default: the readable errors with code `BUFFER_OVERFLOW`),
   * `"drop-oldest"` or `"drop-newest"`.
   *
   * @default {"error"}
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
export function toReadable<T>(
  source$: Observable<T>,
  options: ToReadableOptions = {},
): ReadableStream<T> {
  if (typeof readProperty(source$, "subscribe", "source$") !== "function") {
    throw new InvalidArgumentError("source$", "must be an Observable", source$);
  }
  const o = readOptions(options, "options", ["highWaterMark", "overflow"]);
  const highWaterMark = toInteger(o.highWaterMark ?? 16, "highWaterMark", 1, MAX_BUFFERED);
  const overflow = toChoice(
    o.overflow ?? "error",
    "overflow",
    ["error", "drop-oldest", "drop-newest"] as const,
  );
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
                error: new ZeroTierError(
                  "BUFFER_OVERFLOW",
                  `toReadable: more than ${highWaterMark} values waited for a reader.`,
                ),
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
      while (queue.length === 0 && !ended) {
        await new Promise<void>((resolve) => (waiting = resolve));
      }
      if (queue.length > 0) return controller.enqueue(queue.shift()!);
      if (ended?.error !== undefined) controller.error(ended.error);
      else controller.close();
    },
    cancel() {
      subscription?.unsubscribe();
    },
  }, { highWaterMark: 0 });
}

/** Options of {@link reconnecting}. */
export interface ReconnectOptions {
  /**
   * First delay after a failure or a dropped connection, ms. Default: 500.
   *
   * @default {500}
   */
  initialDelay?: number;
  /**
   * Longest delay, ms. Default: 30000.
   *
   * @default {30000}
   */
  maxDelay?: number;
  /**
   * Growth of the delay after each failure, 1 to 1000. Default: 2.
   *
   * @default {2}
   */
  factor?: number;
  /**
   * Give up (error) after this many failed attempts in a row (an integer >= 1). Default: unlimited.
   *
   * @default {Infinity}
   */
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
export function reconnecting(
  connect: () => Promise<TcpConn>,
  options: ReconnectOptions = {},
): Observable<TcpConn> {
  toFunction(connect, "connect");
  const o = readOptions(options, "options", ["initialDelay", "maxDelay", "factor", "maxAttempts"]);
  const initialDelay = toTimeout(o.initialDelay ?? 500, "initialDelay")!;
  const maxDelay = toTimeout(o.maxDelay ?? 30_000, "maxDelay")!;
  const factor = o.factor ?? 2;
  if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1 || factor > 1000) {
    throw new InvalidArgumentError("factor", "must be a number from 1 to 1000", factor);
  }
  const maxAttempts = o.maxAttempts === undefined || o.maxAttempts === Infinity
    ? Infinity
    : toInteger(o.maxAttempts, "maxAttempts", 1, Number.MAX_SAFE_INTEGER);
  return new Observable<TcpConn>((subscriber) => {
    let active = true;
    let current: TcpConn | undefined;
    const unsubscribed = new AbortController();
    // Unsubscribing ends a pause at once; the loop then sees `active` false and stops.
    const pause = (ms: number) => delay(ms, { signal: unsubscribed.signal }).catch(() => {});
    (async () => {
      let failures = 0;
      while (active) {
        try {
          const conn: unknown = await connect();
          if (typeof readProperty(conn, "close", "connect") !== "function") {
            throw new InvalidArgumentError(
              "connect",
              "must return a Promise of a TcpConn (e.g. () => node.connect(...))",
              conn,
            );
          }
          current = conn as TcpConn;
        } catch (err) {
          if (err instanceof InvalidArgumentError && err.argument === "connect") {
            return subscriber.error(err);
          }
          failures++;
          if (failures >= maxAttempts) return subscriber.error(err);
          await pause(Math.min(maxDelay, initialDelay * factor ** (failures - 1)));
          continue;
        }
        if (!active) return current.close();
        failures = 0;
        subscriber.next(current);
        await Promise.resolve(current.closed).catch(() => {});
        if (active) await pause(initialDelay);
      }
    })();
    return () => {
      active = false;
      unsubscribed.abort();
      current?.close();
    };
  });
}
