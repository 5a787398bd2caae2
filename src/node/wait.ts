/**
 * Turning "wait until this observable says so" into a Promise that honours a
 * timeout and an AbortSignal, and always unsubscribes.
 *
 * @module
 */
import type { Observable } from "rxjs";
import { NodeStateError, TimeoutError } from "../errors.ts";

/** What a step of {@link waitFor} decided. */
export type WaitVerdict<T> = { done: T } | { fail: Error } | undefined;

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this many milliseconds (rejects with `TimeoutError`). Default: no limit. */
  timeout?: number;
  /** Give up when aborted (rejects with `signal.reason`). */
  signal?: AbortSignal;
  /** Describes the wait in timeout and completion errors. */
  what: string;
}

/**
 * Subscribes to `source$` and settles with the first verdict `decide`
 * returns; rejects on timeout, abort, error or completion of the source.
 *
 * @example
 * ```ts
 * import { BehaviorSubject } from "rxjs";
 * import { waitFor } from "./wait.ts";
 * const n$ = new BehaviorSubject(1);
 * const p = waitFor(n$, (n) => (n > 2 ? { done: n } : undefined), { what: "n > 2", timeout: 1000 });
 * n$.next(3);
 * await p; // 3
 * ```
 */
export function waitFor<V, T>(
  source$: Observable<V>,
  decide: (value: V) => WaitVerdict<T>,
  options: WaitOptions,
): Promise<T> {
  const { timeout, signal, what } = options;
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    const onAbort = () => finish(() => reject(signal!.reason));
    // deno-lint-ignore prefer-const
    let subscription: { unsubscribe(): void } | undefined;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      // The source may settle us while subscribe() is still running: unsubscribe after it returns.
      queueMicrotask(() => subscription?.unsubscribe());
      settle();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeout !== undefined) {
      timer = setTimeout(() => finish(() => reject(new TimeoutError(what, timeout))), timeout);
    }
    subscription = source$.subscribe({
      next(value) {
        let verdict: WaitVerdict<T>;
        try {
          verdict = decide(value);
        } catch (err) {
          return finish(() => reject(err));
        }
        if (verdict === undefined) return;
        if ("done" in verdict) finish(() => resolve(verdict.done));
        else finish(() => reject(verdict.fail));
      },
      error: (err) => finish(() => reject(err)),
      complete: () =>
        finish(() =>
          reject(new NodeStateError("NODE_STOPPED", `${what}: the node stopped while waiting`))
        ),
    });
  });
}
