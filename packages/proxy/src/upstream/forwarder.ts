// Forwarding to the MCP server over a keep-alive undici Pool (one per upstream endpoint). Bodies stream both ways with
// backpressure (pipeline), nothing is buffered or compressed, a client that goes away aborts
// the upstream request, and failures become the proxy's JSON errors. Nothing is retried: an
// MCP POST is not idempotent and its body is already on its way.
// The pool has no connection cap: an open event stream holds its connection for its whole
// life, so any cap is a number of streams after which every request waits (see
// docs/decisions/015-upstream-connections.md). What bounds streams is a per-user limit.
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type { Pool } from "undici";
import type { SessionUser } from "../auth/session-user.ts";
import type { Config } from "../config/schema.ts";
import { ProxyError } from "../errors.ts";
import { UnfilterableEvent } from "../mcp/stream-filter.ts";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import type { RequestTrace, UpstreamTrace } from "../observability/tracing.ts";
import { HOP_BY_HOP } from "../proxy-headers.ts";
import type { Endpoint } from "./endpoints.ts";
import { isEventStream, keepStreamAlive, markUnbuffered, type StreamKeepAlive } from "./event-stream.ts";
import { type UpstreamHeaderParts, upstreamHeaders } from "./request-headers.ts";
import { StreamLimit } from "./stream-limit.ts";

const CONNECT_FAILURES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** Whether forwarding failed because the endpoint could not be connected to (nothing reached it). */
export function isUnreachable(error: unknown): boolean {
  return error instanceof ProxyError && error.status === 502 && CONNECT_FAILURES.has(String(error.details?.reason));
}

function responseHeaders(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

/** Bodies up to this size with a declared length are read first and sent in one write. */
const SMALL_BODY = 64 * 1024;

/**
 * The body to send: none, the whole of a small one (an MCP JSON-RPC message, usually in the
 * same packet as its headers: one write upstream instead of two), or the stream itself.
 */
async function requestBody(req: IncomingMessage): Promise<Buffer | IncomingMessage | null> {
  const declared = req.headers["content-length"];
  if (declared === undefined) return req.headers["transfer-encoding"] === undefined ? null : req;
  const length = Number(declared);
  if (length === 0) return null;
  if (!(length <= SMALL_BODY)) return req;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

/** Whether the client waits for "100 Continue" before it sends the body. */
export function expectsContinue(req: IncomingMessage): boolean {
  return req.headers.expect?.toLowerCase() === "100-continue";
}

/** A request the answer to which may be an event stream (MCP clients' GETs and POSTs accept one). */
function acceptsStream(req: IncomingMessage): boolean {
  return req.headers.accept?.includes("text/event-stream") ?? false;
}

/** Whose streams a request counts against: its user, else (public paths) its client address. */
function streamOwner(req: IncomingMessage, who: Who): string {
  return who.user ? `user:${who.user.id}` : `address:${req.socket.remoteAddress ?? ""}`;
}

function tooManyStreams(max: number): ProxyError {
  return new ProxyError("RATE_LIMITED", 429, "Too many open event streams for this user; close one first", {
    details: { max_streams_per_user: max },
  });
}

function withoutAcceptEncoding(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() !== "accept-encoding")
      out.push(headers[i] as string, headers[i + 1] as string);
  }
  return out;
}

/** Who a request is for, and what the proxy says about it upstream. */
export interface Who {
  user: SessionUser | undefined;
  requestId: string;
  forwardedProto: string;
  /**
   * Awaited once the MCP server answered, before anything is sent to the client (the MCP
   * session binding records a new session id here). A rejection cancels the answer.
   */
  afterUpstream?: (status: number, headers: IncomingHttpHeaders) => Promise<void>;
  /** Awaited with an event stream's first chunk before it is relayed (HTTP+SSE session binding). */
  beforeFirstEvent?: (chunk: Buffer) => Promise<void>;
  /** The request's trace, when tracing is on: the upstream call gets its span. */
  trace?: RequestTrace;
  /** The request body, already read (and judged) by the MCP policy: sent as it came. */
  body?: Buffer;
  /** A successful answer is read whole (up to `limit` bytes) and replaced (lists filtered per caller). */
  rewriteAnswer?: AnswerRewrite;
  /** An event stream answer is relayed through this, event by event (GET streams' lists filtered per caller). */
  filterEvents?: EventRelayFilter;
}

export interface EventRelayFilter {
  /** The bytes to relay for `chunk` (none while an event is incomplete); throws to cut the stream. */
  push(chunk: Buffer): Buffer;
}

export interface AnswerRewrite {
  limit: number;
  rewrite: (body: Buffer, contentType: string) => Buffer;
}

/** The caller's event filter; on a compressed stream (asked uncompressed) one that cuts it. */
function eventFilter(who: Who, headers: IncomingHttpHeaders): EventRelayFilter | undefined {
  const encoding = headers["content-encoding"];
  if (!who.filterEvents || encoding === undefined || encoding === "identity") return who.filterEvents;
  return {
    push() {
      throw new UnfilterableEvent(`a ${String(encoding)} event stream cannot be filtered`);
    },
  };
}

/** The whole upstream body, or undefined once it passes `limit` bytes. */
async function readAnswer(body: Readable, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/** Runs the caller's hook on the upstream answer; when it fails, the answer is dropped unsent. */
async function afterUpstream(
  hook: NonNullable<Who["afterUpstream"]>,
  upstream: { statusCode: number; headers: IncomingHttpHeaders; body: Readable },
  detach: () => void,
): Promise<void> {
  try {
    await hook(upstream.statusCode, upstream.headers);
  } catch (error) {
    detach();
    upstream.body.destroy();
    throw error;
  }
}

/** Resolves on 'drain', or on 'close' when the client went away meanwhile. */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/**
 * Copies the upstream body to the client, waiting whenever the client is slower (backpressure).
 * Returns whether the whole body went through.
 * A plain loop: stream.pipeline costs a third of the throughput here (see docs/performance.md).
 */
async function relayBody(
  body: Readable,
  res: ServerResponse,
  keepAlive: StreamKeepAlive | undefined,
  beforeFirst: ((chunk: Buffer) => Promise<void>) | undefined,
  filter?: EventRelayFilter,
): Promise<boolean> {
  let first = beforeFirst;
  for await (const chunk of body) {
    if (res.writableEnded || res.destroyed) return false;
    if (first) {
      const run = first;
      first = undefined;
      await run(chunk as Buffer);
    }
    const out = filter ? filter.push(chunk as Buffer) : (chunk as Buffer);
    if (out.length === 0) continue;
    keepAlive?.relayed(out);
    if (!res.write(out)) await writable(res);
  }
  keepAlive?.stop();
  res.end();
  return true;
}

export class Forwarder {
  /** Event streams being relayed, ended cleanly at shutdown. */
  readonly openStreams = new Set<ServerResponse>();
  readonly #config: Config["target"];
  readonly #metrics: ProxyMetrics;
  readonly #logger: Logger;

  readonly #headerParts: UpstreamHeaderParts;
  readonly #streams: StreamLimit;

  constructor(options: {
    config: Config;
    metrics: ProxyMetrics;
    logger: Logger;
    headerParts: UpstreamHeaderParts;
  }) {
    this.#headerParts = options.headerParts;
    this.#config = options.config.target;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#streams = new StreamLimit(this.#config.max_streams_per_user);
  }

  /**
   * Forwards req to `endpoint`, answering res; resolves when the exchange is over. Throws
   * ProxyError before any byte was sent.
   */
  async forward(req: IncomingMessage, res: ServerResponse, who: Who, endpoint: Endpoint): Promise<void> {
    endpoint.inFlight++;
    res.once("close", () => endpoint.inFlight--);
    return this.#forward(req, res, who, endpoint);
  }

  async #forward(req: IncomingMessage, res: ServerResponse, who: Who, endpoint: Endpoint): Promise<void> {
    // Whenever the client side closes before the upstream answer is complete (client gone,
    // stream ended at shutdown), the upstream request is aborted too.
    const slot = this.#streamSlot(req, who);
    const abort = new AbortController();
    let complete = false;
    const onClose = () => {
      if (!complete) abort.abort();
    };
    res.once("close", onClose);
    const releaseSlot = slot.release;
    res.once("close", releaseSlot);
    const basePath = endpoint.url.pathname === "/" ? "" : endpoint.url.pathname.replace(/\/$/, "");
    // The client waits for this before sending its body (Node leaves it to us, see lifecycle.ts).
    // (A body the MCP policy read was asked for there already.)
    if (who.body === undefined && expectsContinue(req)) res.writeContinue();
    let body: Awaited<ReturnType<typeof requestBody>>;
    try {
      body = who.body ?? (await requestBody(req));
    } catch {
      res.off("close", onClose);
      return; // the client went away while sending its body
    }
    const rewrite = who.rewriteAnswer;
    const path = `${basePath}${req.url ?? "/"}`;
    const method = req.method ?? "GET";
    const span: UpstreamTrace | undefined = who.trace?.upstream(method, endpoint.url, path);
    const headerList = upstreamHeaders(req, who, this.#headerParts, span?.headers);
    // An address found for a DNS name is still that name's server (virtual hosts, DNS rebinding checks).
    if (endpoint.host) headerList.push("host", endpoint.host);
    let upstream: Awaited<ReturnType<Pool["request"]>>;
    try {
      upstream = await endpoint.pool.request({
        path,
        method: method as "GET",
        // An answer to rewrite or events to filter must come uncompressed.
        headers: rewrite || who.filterEvents ? withoutAcceptEncoding(headerList) : headerList,
        body,
        signal: abort.signal,
      });
    } catch (error) {
      res.off("close", onClose);
      releaseSlot();
      if (abort.signal.aborted) {
        span?.failed("client_closed");
        return; // the client left first: nobody to answer
      }
      throw this.#failure(error as NodeJS.ErrnoException, endpoint, span);
    }
    // The span is the MCP server's answer time: it ends with the headers, streams included.
    span?.answered(upstream.statusCode);
    endpoint.breaker.recordSuccess();
    if (who.afterUpstream) await afterUpstream(who.afterUpstream, upstream, () => res.off("close", onClose));
    if (rewrite && upstream.statusCode === 200) {
      releaseSlot();
      await this.#relayRewritten(upstream, res, rewrite);
      complete = true;
      return;
    }
    const headers = responseHeaders(upstream.headers);
    const stream = isEventStream(upstream.headers);
    if (!stream) releaseSlot();
    else slot.claim();
    const keepAlive = stream ? this.#startStream(res, headers) : undefined;
    res.writeHead(upstream.statusCode, headers);
    if (stream) {
      res.flushHeaders();
      who.trace?.streamStarted();
    }
    try {
      const [first, filter] = stream ? [who.beforeFirstEvent, eventFilter(who, upstream.headers)] : [];
      complete = await relayBody(upstream.body, res, keepAlive, first, filter);
    } catch (error) {
      // Cut short upstream, or events that cannot be filtered: not to be taken for whole.
      if (error instanceof UnfilterableEvent)
        this.#logger.warn("an MCP event stream was cut", { error: error.message });
      upstream.body.destroy();
      res.destroy();
    }
  }

  /**
   * The user's claim on an event stream slot for one exchange. Refused only before anything
   * is sent upstream: a request that may open one more stream (it accepts one) while its user
   * holds the maximum. A GET stream takes its slot now, so a burst cannot pass the limit; a
   * POST answered with a stream takes one when it is answered (claim; never refused then: the
   * MCP server has already acted on it).
   */
  #streamSlot(req: IncomingMessage, who: Who): { claim(): void; release(): void } {
    const owner = streamOwner(req, who);
    let holdsSlot = false;
    if (acceptsStream(req)) {
      holdsSlot = req.method === "GET";
      if (!(holdsSlot ? this.#streams.acquire(owner) : this.#streams.hasRoom(owner))) {
        this.#metrics.streamsRefused.inc();
        throw tooManyStreams(this.#config.max_streams_per_user);
      }
    }
    return {
      claim: () => {
        if (!holdsSlot) this.#streams.add(owner);
        holdsSlot = true;
      },
      release: () => {
        if (holdsSlot) this.#streams.release(owner);
        holdsSlot = false;
      },
    };
  }

  /** An event stream answer: unbuffered, kept alive, counted, ended at shutdown. */
  #startStream(res: ServerResponse, headers: OutgoingHttpHeaders): StreamKeepAlive | undefined {
    markUnbuffered(headers);
    const keepAlive = keepStreamAlive(res, this.#config.sse_keepalive_interval);
    this.openStreams.add(res);
    this.#metrics.activeStreams.inc();
    res.once("close", () => {
      this.openStreams.delete(res);
      this.#metrics.activeStreams.dec();
    });
    return keepAlive;
  }

  /** Reads a whole answer, rewrites it and sends it; fails closed (502) when it cannot. */
  async #relayRewritten(
    upstream: Awaited<ReturnType<Pool["request"]>>,
    res: ServerResponse,
    rewrite: AnswerRewrite,
  ): Promise<void> {
    const encoding = upstream.headers["content-encoding"];
    const answer =
      encoding === undefined || encoding === "identity" ? await readAnswer(upstream.body, rewrite.limit) : undefined;
    const contentType = String(upstream.headers["content-type"] ?? "");
    let rewritten: Buffer | undefined;
    try {
      rewritten = answer && rewrite.rewrite(answer, contentType);
    } catch {
      rewritten = undefined;
    }
    if (!rewritten) {
      upstream.body.destroy();
      this.#logger.warn("an MCP list answer could not be filtered", { encoding, content_type: contentType });
      throw new ProxyError("PROXY_ERROR", 502, "The MCP server's list answer could not be filtered for the caller");
    }
    const headers = responseHeaders(upstream.headers);
    delete headers["content-length"];
    delete headers["transfer-encoding"];
    headers["content-length"] = rewritten.length;
    res.writeHead(upstream.statusCode, headers);
    res.end(rewritten);
  }

  #failure(error: NodeJS.ErrnoException, endpoint: Endpoint, span: UpstreamTrace | undefined): ProxyError {
    const code = error.code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code ?? "";
    let reason: "connect" | "timeout" | "reset";
    let failure: ProxyError;
    if (code === "UND_ERR_HEADERS_TIMEOUT") {
      reason = "timeout";
      failure = new ProxyError("PROXY_ERROR", 504, "The MCP server did not answer in time", { cause: error });
    } else if (CONNECT_FAILURES.has(code)) {
      reason = "connect";
      failure = new ProxyError("PROXY_ERROR", 502, "The MCP server is unreachable", {
        details: { reason: code },
        cause: error,
      });
    } else {
      reason = "reset";
      failure = new ProxyError("PROXY_ERROR", 502, "The MCP server closed the connection", { cause: error });
    }
    if (reason !== "reset") endpoint.breaker.recordFailure();
    // A refused connection may be a pod that is gone: probed now, so new requests avoid it
    // without waiting for the next probe, and /health says so at once.
    if (reason === "connect") void endpoint.probe.probe();
    this.#metrics.upstreamErrors.inc({ reason });
    span?.failed(code || reason);
    this.#logger.warn("upstream request failed", { error: code || error.message, reason, endpoint: endpoint.key });
    return failure;
  }
}
