/**
 * Keeping secrets out of logs: objects that hold secret bytes (the
 * `STORE_IDENTITY_SECRET` event, a root set's signing keys) keep them
 * readable by the app, but show `[redacted]` when printed with
 * `console.log`, `Deno.inspect`, Node's `util.inspect` or `JSON.stringify`.
 *
 * @module
 */

const DENO_INSPECT = Symbol.for("Deno.customInspect");
const NODE_INSPECT = Symbol.for("nodejs.util.inspect.custom");

/**
 * Gives `target` non-enumerable inspect hooks (Deno and Node) and `toJSON`
 * that show `view()` instead of its own properties, and returns it. The
 * properties stay readable as usual; copies made with `{ ...target }` lose
 * the hooks, so keep the object whole.
 *
 * @example
 * ```ts
 * import { redactInspection } from "./redact.ts";
 * const key = redactInspection({ bytes: new Uint8Array(64) }, () => ({ bytes: "[redacted 64 bytes]" }));
 * console.log(key); // { bytes: "[redacted 64 bytes]" }
 * ```
 */
export function redactInspection<T extends object>(target: T, view: () => unknown): T {
  const hook = {
    value(
      this: unknown,
      ...args: unknown[]
    ): unknown {
      const shown = view();
      // Deno: (inspect, options); Node: (depth, options, inspect).
      const inspect = typeof args[0] === "function" ? args[0] : args[2];
      const options = args[1];
      return typeof inspect === "function"
        ? (inspect as (v: unknown, o: unknown) => string)(shown, options)
        : shown;
    },
    enumerable: false,
    configurable: true,
    writable: true,
  };
  Object.defineProperty(target, DENO_INSPECT, hook);
  Object.defineProperty(target, NODE_INSPECT, hook);
  Object.defineProperty(target, "toJSON", {
    value: view,
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return target;
}

/**
 * How a redacted byte string is shown.
 *
 * @example
 * ```ts
 * redactedBytes(new Uint8Array(64)); // "[redacted: 64 secret bytes]"
 * ```
 */
export function redactedBytes(bytes: Uint8Array): string {
  return `[redacted: ${bytes.length} secret bytes]`;
}
