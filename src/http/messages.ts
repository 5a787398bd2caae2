/**
 * A `node:http` server's messages as web ones: an `IncomingMessage` as a web
 * `Request`, and a web `Response` written into a `ServerResponse`.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { readableToWeb, writeWebToNode } from "./convert.ts";

/**
 * An `IncomingMessage` as a web `Request` whose body streams from the
 * connection (none for GET and HEAD, or without `Content-Length` and
 * `Transfer-Encoding`), for `base` (`http://<host>`, used when the request
 * names no `Host`) and with `signal` as its `signal`. Throws a `TypeError`
 * when the request cannot be a web `Request` (a method such as `CONNECT`, or
 * a URL that does not parse).
 *
 * @example
 * ```ts ignore
 * import http from "node:http";
 * http.createServer((req, res) => {
 *   const request = toWebRequest(req, "http://10.1.2.3", new AbortController().signal);
 *   res.end(request.url);
 * });
 * ```
 */
export function toWebRequest(req: IncomingMessage, base: string, signal: AbortSignal): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  const method = req.method ?? "GET";
  const host = req.headers.host;
  let url: URL;
  try {
    url = new URL(req.url ?? "/", host ? `http://${host}` : base);
  } catch {
    url = new URL(req.url ?? "/", base);
  }
  const length = req.headers["content-length"];
  const hasBody = method !== "GET" && method !== "HEAD" &&
    (req.headers["transfer-encoding"] !== undefined ||
      (length !== undefined && length !== "0"));
  const init: RequestInit & { duplex?: "half" } = { method, headers, signal };
  if (hasBody) {
    init.body = readableToWeb(req);
    init.duplex = "half"; // a streamed body (required by Node's Request)
  }
  return new Request(url, init);
}

/**
 * Writes a web `Response` into a `ServerResponse`: status, status text,
 * headers (each `Set-Cookie` on its own), then the body as it streams, with
 * backpressure (see {@link writeWebToNode}). A body that is ready at once goes
 * out with the head; a body that is not yet ready sends the head first (a
 * stream of events reaches the client as it is produced). For a HEAD request
 * (`head`) the body is not sent. Resolves once the response is handed over;
 * rejects when the client went away first (the body stream is cancelled).
 *
 * @example
 * ```ts ignore
 * import http from "node:http";
 * http.createServer(async (req, res) => {
 *   await writeWebResponse(Response.json({ ok: true }), res, req.method === "HEAD");
 * });
 * ```
 */
export async function writeWebResponse(
  response: Response,
  res: ServerResponse,
  head: boolean,
): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) {
    if (name === "set-cookie") {
      const list = headers[name];
      headers[name] = Array.isArray(list) ? [...list, value] : [value];
    } else headers[name] = value;
  }
  if (response.statusText) res.writeHead(response.status, response.statusText, headers);
  else res.writeHead(response.status, headers);
  const body = response.body;
  if (body === null || head) {
    if (body) await body.cancel().catch(() => {});
    await endOf(res);
    return;
  }
  await writeWebToNode(headFirstWhenLate(body, res), res);
}

/**
 * The body as it is, after sending the head on its own when the body's first
 * chunk is not there within a few microtasks (a streamed response).
 */
function headFirstWhenLate(
  body: ReadableStream<Uint8Array>,
  res: ServerResponse,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let first: Promise<ReadableStreamReadResult<Uint8Array>> | undefined = reader.read();
  let settled = false;
  first.then(() => (settled = true), () => (settled = true));
  (async () => {
    for (let i = 0; i < 4; i++) await null;
    if (!settled && !res.headersSent && !res.destroyed) res.flushHeaders();
  })();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await (first ?? reader.read());
      first = undefined;
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** Ends the response and resolves once it is handed over (or the client went away). */
function endOf(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    res.once("close", () => resolve());
    res.end(() => resolve());
  });
}
