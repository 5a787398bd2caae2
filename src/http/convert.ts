/**
 * Bodies between `node:stream` and web streams, for HTTP over `node:http`:
 * a `Readable` (an `IncomingMessage`) as a web `ReadableStream`, and a web
 * `ReadableStream` written into a `Writable` (a `ServerResponse` or a
 * `ClientRequest`), both with backpressure: nothing is read faster than the
 * other side takes it.
 *
 * @module
 */
import { asError } from "../errors.ts";
import type { Readable, Writable } from "node:stream";

/**
 * The bytes of a `node:stream` `Readable` as a web `ReadableStream`. It reads
 * the source only when the stream's consumer pulls (the source pauses
 * meanwhile, and its transport's own backpressure takes over), so a slow
 * consumer slows the sender. The stream closes at the source's `'end'`,
 * errors with the source's error, or with an `ECONNRESET` error when the
 * source closed before its end (the peer went away). Cancelling the stream
 * destroys the source.
 *
 * @example
 * ```ts ignore
 * import http from "node:http";
 * http.createServer(async (req, res) => {
 *   const text = await new Response(readableToWeb(req)).text();
 *   res.end(`got ${text.length} characters`);
 * });
 * ```
 */
export function readableToWeb(source: Readable): ReadableStream<Uint8Array> {
  let wake: (() => void) | undefined;
  let failure: unknown;
  let ended = false;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  source.on("readable", notify);
  source.on("end", () => {
    ended = true;
    notify();
  });
  source.on("error", (err) => {
    failure ??= err;
    notify();
  });
  source.on("close", () => {
    if (!ended) failure ??= prematureClose();
    notify();
  });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const chunk = source.read() as Uint8Array | string | null;
        if (chunk !== null) {
          controller.enqueue(
            typeof chunk === "string"
              ? new TextEncoder().encode(chunk)
              : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
          );
          return;
        }
        if (ended || source.readableEnded) return controller.close();
        if (failure !== undefined) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    cancel(reason) {
      source.destroy(reason instanceof Error ? reason : undefined);
    },
  }, { highWaterMark: 0 });
}

/**
 * Writes a web `ReadableStream` of bytes into a `node:stream` `Writable`,
 * then ends it: it reads the next chunk only once the writable took the last
 * one (`write()` returned true, or `'drain'` came). Resolves once everything
 * is handed over and `end()` called. When the writable closes first (the
 * peer went away) or fails, or `signal` aborts, the web stream is cancelled
 * and this rejects; when the web stream errors, the writable is destroyed
 * with its error and this rejects. Chunks that are not byte views are a
 * `TypeError`, as in `fetch`.
 *
 * @example
 * ```ts ignore
 * import http from "node:http";
 * http.createServer(async (_req, res) => {
 *   await writeWebToNode(new Blob(["hello"]).stream(), res);
 * });
 * ```
 */
export async function writeWebToNode(
  body: ReadableStream<Uint8Array>,
  sink: Writable,
  signal?: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  let onGone: (err: unknown) => void = () => {};
  const gone = new Promise<never>((_, reject) => (onGone = reject));
  gone.catch(() => {});
  const onClose = () => {
    if (!sink.writableFinished) onGone(prematureClose());
  };
  const onError = (err: unknown) => onGone(err);
  const onAbort = () => onGone(signal!.reason);
  sink.on("close", onClose);
  sink.on("error", onError);
  signal?.addEventListener("abort", onAbort);
  try {
    if (sink.destroyed) onClose();
    if (signal?.aborted) onAbort();
    for (;;) {
      const r = await Promise.race([reader.read(), gone]);
      if (r.done) break;
      const chunk = r.value as unknown;
      if (!ArrayBuffer.isView(chunk)) {
        const err = new TypeError("A body stream must yield Uint8Array (or other byte views)");
        sink.destroy(err);
        throw err;
      }
      const bytes = chunk instanceof Uint8Array
        ? chunk
        : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (bytes.byteLength === 0) continue;
      if (!sink.write(bytes)) await Promise.race([drained(sink), gone]);
    }
    sink.end();
  } catch (err) {
    reader.cancel(err).catch(() => {});
    if (!sink.destroyed && !sink.writableFinished) sink.destroy(asError(err));
    throw err;
  } finally {
    sink.off("close", onClose);
    sink.off("error", onError);
    signal?.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
}

/** Resolves at the writable's next `'drain'`. */
function drained(sink: Writable): Promise<void> {
  return new Promise((resolve) => sink.once("drain", () => resolve()));
}

/** The error of a stream whose peer went away before its end (`ECONNRESET`, as Node names it). */
function prematureClose(): Error {
  return Object.assign(new Error("The connection closed before the message was complete"), {
    code: "ECONNRESET",
  });
}
