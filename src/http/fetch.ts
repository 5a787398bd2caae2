/**
 * `node.fetch()`: the global `fetch`'s signature and semantics over
 * ZeroTier, on `node:http`'s client with a keep-alive `http.Agent` whose
 * connections are rxzt's ({@link dialNodeSocket}).
 *
 * @module
 */
import http from "node:http";
import { asError, UnsupportedProtocolError } from "../errors.ts";
import { dialNodeSocket, type NodeSocketDialer } from "../streams/node_socket_wrap.ts";
import { readableToWeb, writeWebToNode } from "./convert.ts";

/** At most this many redirects are followed, as `fetch` does. */
export const MAX_REDIRECTS = 20;

/** Statuses whose response has no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Methods that may be retried on a fresh connection when a pooled one was closed under the request. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
/** Headers that describe a body, dropped when a redirect turns the request into a GET. */
/** Marks a request the app aborted: the agent must not send it again. */
const ENDED = Symbol("rxzt.http.aborted");
const BODY_HEADERS = ["content-encoding", "content-language", "content-location", "content-type"];

/** One request's parts, as sent (the body is bytes when it can be sent again, else a stream). */
interface Outgoing {
  url: URL;
  method: string;
  headers: Headers;
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  signal: AbortSignal;
}

/**
 * `fetch` over one node's ZeroTier connections, with keep-alive connections
 * pooled per origin (one `http.Agent`, `keepAlive: true`). `close()` ends
 * every pooled connection; `node.stop()` calls it.
 *
 * @example
 * ```ts ignore
 * const client = new HttpClient(node);
 * const res = await client.fetch("http://10.1.2.3:8000/");
 * console.log(await res.text());
 * client.close();
 * ```
 */
export class HttpClient {
  readonly #agent: http.Agent;
  /** Connections dialed so far (new ones; reused ones do not count). */
  #dialed = 0;

  /** A client whose connections `dialer.connect()` makes. */
  constructor(dialer: NodeSocketDialer) {
    this.#agent = new http.Agent({ keepAlive: true });
    // Deno's node:http client sends a request destroyed on a reused keep-alive connection
    // again on a new one (Node does not): an aborted request must never reach the agent again.
    type AddRequest = (req: http.ClientRequest, options: unknown) => void;
    const agent = this.#agent as unknown as { addRequest: AddRequest };
    const addRequest = agent.addRequest.bind(agent);
    agent.addRequest = (req, options) => {
      const ended = (req as { [ENDED]?: Error })[ENDED];
      if (ended) return void req.destroy(ended);
      addRequest(req, options);
    };
    // http.Agent calls createConnection(options) for each new pooled connection.
    (this.#agent as unknown as {
      createConnection: (
        o: { host?: string; hostname?: string; port?: number | string },
      ) => unknown;
    }).createConnection = (o) => {
      this.#dialed++;
      return dialNodeSocket(dialer, {
        hostname: String(o.host ?? o.hostname).replace(/^\[|\]$/g, ""),
        port: Number(o.port ?? 80),
      });
    };
  }

  /** Connections dialed so far (a reused keep-alive connection is not dialed again). */
  get connectionsDialed(): number {
    return this.#dialed;
  }

  /**
   * `fetch(input, init)` over ZeroTier; see `ZeroTierNode.fetch`.
   *
   * @example
   * ```ts ignore
   * const res = await client.fetch("http://10.1.2.3:8000/", { method: "POST", body: "hi" });
   * ```
   */
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init);
    const signal = request.signal;
    signal.throwIfAborted();
    const url = new URL(request.url);
    if (url.protocol !== "http:") throw new UnsupportedProtocolError(url.protocol, url.href);
    // A body given as a stream is sent as it streams; any other is sent with its length and
    // can be sent again (a 307/308 redirect, a retry on a fresh connection).
    const streamed = request.body !== null &&
      (init?.body instanceof ReadableStream ||
        (init?.body === undefined && input instanceof Request));
    const out: Outgoing = {
      url,
      method: request.method,
      headers: new Headers(request.headers),
      body: request.body === null
        ? null
        : streamed
        ? request.body
        : new Uint8Array(await request.arrayBuffer()),
      signal,
    };
    if (!out.headers.has("accept")) out.headers.set("accept", "*/*");
    if (!out.headers.has("accept-encoding")) out.headers.set("accept-encoding", "gzip, deflate");
    for (let redirects = 0;; redirects++) {
      const response = await this.#sendRetrying(out);
      const location = response.headers.get("location");
      if (!REDIRECTS.has(response.status) || location === null || request.redirect === "manual") {
        return finish(response, out.url, redirects > 0);
      }
      await response.body?.cancel().catch(() => {});
      if (request.redirect === "error") {
        throw new TypeError(
          `fetch ${out.url.href}: redirected (status ${response.status}) ` +
            `with redirect: "error"`,
        );
      }
      if (redirects >= MAX_REDIRECTS) {
        throw new TypeError(`fetch ${request.url}: more than ${MAX_REDIRECTS} redirects`);
      }
      let next: URL;
      try {
        next = new URL(location, out.url);
      } catch (cause) {
        throw new TypeError(`fetch ${out.url.href}: invalid Location ${location}`, { cause });
      }
      if (next.protocol !== "http:") throw new UnsupportedProtocolError(next.protocol, next.href);
      if (
        (response.status === 303 && out.method !== "GET" && out.method !== "HEAD") ||
        ((response.status === 301 || response.status === 302) && out.method === "POST")
      ) {
        out.method = "GET";
        out.body = null;
        for (const h of BODY_HEADERS) out.headers.delete(h);
      } else if (out.body instanceof ReadableStream) {
        throw new TypeError(
          `fetch ${out.url.href}: cannot follow a ${response.status} redirect with a streamed ` +
            "request body (it cannot be sent twice); send the body as bytes or a string, or " +
            'use redirect: "manual"',
        );
      }
      if (next.origin !== out.url.origin) out.headers.delete("authorization");
      out.url = next;
    }
  }

  /** Ends every pooled connection (requests in flight fail). */
  close(): void {
    this.#agent.destroy();
  }

  /** Sends once; again on a fresh connection when a reused one turned out closed. */
  async #sendRetrying(out: Outgoing): Promise<Response> {
    try {
      return await this.#send(out);
    } catch (err) {
      const e = err as { reusedSocket?: boolean };
      if (
        e.reusedSocket && IDEMPOTENT.has(out.method) && !(out.body instanceof ReadableStream) &&
        !out.signal.aborted
      ) {
        return await this.#send(out);
      }
      throw err;
    }
  }

  #send(out: Outgoing): Promise<Response> {
    const { url, method, signal } = out;
    return new Promise<Response>((resolve, reject) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of out.headers) headers[name] = value;
      headers.host = url.host;
      const body = out.body;
      if (body instanceof Uint8Array) headers["content-length"] = String(body.byteLength);
      else if (body === null && method !== "GET" && method !== "HEAD") {
        headers["content-length"] = "0";
      }
      const req = http.request({
        agent: this.#agent,
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(url.port || 80),
        method,
        path: `${url.pathname}${url.search}`,
        headers,
      });
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) return reject(signal.reason);
        const cause = err as Error;
        reject(Object.assign(
          new TypeError(`fetch ${url.href} failed: ${cause?.message ?? cause}`, { cause }),
          { reusedSocket: req.reusedSocket },
        ));
      };
      const onAbort = () => {
        const reason = asError(signal.reason);
        (req as { [ENDED]?: Error })[ENDED] = reason;
        req.destroy(reason);
        fail(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      req.on("error", fail);
      req.on("response", (res) => {
        if (settled) return void res.destroy();
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 599) {
          res.destroy();
          return fail(new Error(`unsupported status ${status}`));
        }
        settled = true;
        const headers = new Headers();
        const raw = res.rawHeaders;
        for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
        let stream: ReadableStream<Uint8Array> | null = null;
        if (NULL_BODY.has(status) || method === "HEAD") res.resume();
        else stream = decoded(readableToWeb(res), headers.get("content-encoding"));
        // An abort after the response errors its body (the connection is dropped).
        signal.removeEventListener("abort", onAbort);
        const onBodyAbort = () => res.destroy(asError(signal.reason));
        if (stream) {
          signal.addEventListener("abort", onBodyAbort, { once: true });
          res.once("close", () => signal.removeEventListener("abort", onBodyAbort));
        }
        resolve(
          new Response(stream, { status, statusText: res.statusMessage ?? "", headers }),
        );
      });
      if (body === null) req.end();
      else if (body instanceof Uint8Array) req.end(body);
      else writeWebToNode(body, req, signal).catch(fail);
    });
  }
}

/** The response as fetch gives it: `url` and `redirected` set. */
function finish(response: Response, url: URL, redirected: boolean): Response {
  Object.defineProperty(response, "url", { value: url.href, enumerable: true });
  if (redirected) Object.defineProperty(response, "redirected", { value: true, enumerable: true });
  return response;
}

/** The body decoded as fetch decodes it (`gzip`, `deflate`); other encodings pass unchanged. */
function decoded(
  body: ReadableStream<Uint8Array>,
  encoding: string | null,
): ReadableStream<Uint8Array> {
  const e = encoding?.trim().toLowerCase();
  if (e === "gzip" || e === "x-gzip") {
    return body.pipeThrough(
      new DecompressionStream("gzip") as ReadableWritablePair<Uint8Array, Uint8Array>,
    );
  }
  if (e === "deflate") {
    return body.pipeThrough(
      new DecompressionStream("deflate") as ReadableWritablePair<Uint8Array, Uint8Array>,
    );
  }
  return body;
}
