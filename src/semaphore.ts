/**
 * The library's one counting semaphore: at most `limit` holders at once,
 * the others wait in order of arrival.
 *
 * @module
 */

/**
 * A counting semaphore. A released permit passes to the longest waiter.
 *
 * @example
 * ```ts
 * import { Semaphore } from "./semaphore.ts";
 * const slots = new Semaphore(2);
 * await slots.run(async () => {}); // at most 2 such calls at once
 * ```
 */
export class Semaphore {
  /** How many may hold a permit at once. */
  readonly limit: number;
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.limit = limit;
    this.#free = limit;
  }

  /** Whether an acquire now would have to wait. */
  get exhausted(): boolean {
    return this.#free === 0;
  }

  /** Takes a permit if one is free now. */
  tryAcquire(): boolean {
    if (this.#free === 0) return false;
    this.#free--;
    return true;
  }

  /** Resolves with a permit; rejects with `signal.reason` if aborted first (taking none). */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        const i = this.#waiting.indexOf(grant);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal!.reason);
      };
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.#waiting.push(grant);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Gives a permit back: the longest waiter gets it. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next(); // the permit passes on
    else this.#free++;
  }

  /** Runs `fn` holding a permit. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.tryAcquire()) await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}
