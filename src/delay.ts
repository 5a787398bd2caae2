/**
 * The library's one timed wait.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds, or rejects with `signal.reason` once
 * `signal` aborts (at once if it is aborted already); the timer and the
 * abort listener are removed either way.
 *
 * @example
 * ```ts
 * import { delay } from "./delay.ts";
 * await delay(25);
 * const controller = new AbortController();
 * const waiting = delay(1000, { signal: controller.signal });
 * controller.abort(); // waiting rejects with the abort reason
 * await waiting.catch(() => {});
 * ```
 */
export function delay(ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
