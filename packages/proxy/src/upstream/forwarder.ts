// Forwarding to the MCP server over a keep-alive undici Pool (one per upstream endpoint). Bodies stream both ways with
// backpressure, nothing is buffered or compressed, a client that goes away aborts the
// upstream request, and failures become the proxy's JSON errors. Nothing is retried: an MCP
// POST is not idempotent and its body is already on its way. This file prepares each request
// (stream limit, body, headers); its answer is relayed by its Exchange (exchange.ts).
// The pool has no connection cap: an open event stream holds its connection for its whole
// life, so any cap is a number of streams after which every request waits (see
// docs/decisions/015-upstream-connections.md). What bounds streams is a per-user limit, which
// WebSocket upgrades (relayed past the pool, websocket.ts) take their slots of here as well,
// and are kept here while open, as event streams are, to be ended at shutdown or when their
// credential ends (stream-recheck.ts).
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { SessionUser } from "../auth/session-user.ts";
import type { Config } from "../config/schema.ts";
import { ProxyError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import type { RequestTrace, UpstreamTrace } from "../observability/tracing.ts";
import { readBody } from "../request-body.ts";
import type { Endpoint } from "./endpoints.ts";
import { StreamPinger } from "./event-stream.ts";
import { Exchange, type ExchangeContext } from "./exchange.ts";
import { MemoryPressure } from "./memory-pressure.ts";
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
  return readBody(req, SMALL_BODY);
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
   * Called once the MCP server answered, before anything is sent to the client (the MCP
   * session binding records a new session id here); a promise it returns is awaited first,
   * and its rejection cancels the answer. Undefined: nothing to wait for.
   */
  afterUpstream?: (status: number, headers: IncomingHttpHeaders) => Promise<void> | undefined;
  /** Told the MCP server's status as it answers (the audit trail keeps it apart from the client's). */
  upstreamAnswered?: (status: number) => void;
  /**
   * Awaited with each chunk of an event stream before it is relayed, until it resolves true:
   * its first event was read (HTTP+SSE session binding). A rejection cuts the stream.
   */
  beforeFirstEvent?: (chunk: Buffer) => Promise<boolean>;
  /** The request's trace, when tracing is on: the upstream call gets its span. */
  trace?: RequestTrace;
  /** The request body once read whole (by the MCP policy, or for a first attempt): sent as it came. */
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

/**
 * What a relayed upgrade holds while it lasts (Forwarder.upgradeSlot): one of its owner's
 * stream slots and a place in its endpoint's load, as an event stream does.
 */
export interface UpgradeSlot {
  /**
   * The MCP server switched protocols over `upstream`: an open stream from now on
   * (mcp_proxy_active_streams, Forwarder.openUpgrades).
   */
  switched(upstream: Socket): void;
  /** Gives all of it back; only the first call does anything (either side may close first). */
  release(): void;
}

/** A relayed upgrade that switched protocols, until either side closes it. */
export interface OpenUpgrade {
  /** The upgrade request as it was admitted (its credential is checked again: stream-recheck.ts). */
  readonly req: IncomingMessage;
  /** Whether a socket of it is gone (it is over; release follows at the close). */
  readonly over: boolean;
  /**
   * Destroys both sockets: the bytes relayed are another protocol's frames (WebSocket), so no
   * clean end can be written into them, and an ended client socket alone would leave the
   * upstream one open (http-proxy pipes an end on, not a destroy).
   */
  end(): void;
}

export interface AnswerRewrite {
  limit: number;
  rewrite: (body: Buffer, contentType: string) => Buffer;
}

/** The open upgrade of `req`, whose client socket is the request's own (Node's "upgrade" event). */
function openUpgrade(req: IncomingMessage, upstream: Socket): OpenUpgrade {
  const client = req.socket;
  return {
    req,
    get over() {
      return client.destroyed || upstream.destroyed;
    },
    end() {
      client.destroy();
      upstream.destroy();
    },
  };
}

export class Forwarder {
  /** Event streams being relayed, ended cleanly at shutdown. */
  readonly openStreams = new Set<ServerResponse>();
  /** Upgraded connections being relayed (from their 101 to their close), ended at shutdown too. */
  readonly openUpgrades = new Set<OpenUpgrade>();
  readonly #config: Config["target"];
  readonly #metrics: ProxyMetrics;
  readonly #logger: Logger;

  readonly #headerParts: UpstreamHeaderParts;
  readonly #memory: MemoryPressure;
  /** What every exchange shares: one object instead of closures per request. */
  readonly #exchanges: ExchangeContext;

  constructor(options: {
    config: Config;
    metrics: ProxyMetrics;
    logger: Logger;
    headerParts: UpstreamHeaderParts;
    /** Tests give readings of their own. */
    memory?: MemoryPressure;
  }) {
    this.#headerParts = options.headerParts;
    this.#memory = options.memory ?? new MemoryPressure();
    this.#config = options.config.target;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    const { metrics } = options;
    const interval = this.#config.sse_keepalive_interval;
    this.#exchanges = {
      streams: new StreamLimit(this.#config.max_streams_per_user),
      openStreams: this.openStreams,
      pinger: interval > 0 ? new StreamPinger(interval) : undefined,
      logger: options.logger,
      streamOpened: () => metrics.activeStreams.inc(),
      streamClosed: () => metrics.activeStreams.dec(),
      failure: (error, endpoint, span, bodyCut) => this.#failure(error, endpoint, span, bodyCut),
      refused: () => this.#refused(),
    };
  }

  /**
   * Forwards req to `endpoint`, answering res. Resolves once the answer has begun (its body is
   * relayed after that) or the client left; throws ProxyError before any byte was sent.
   */
  async forward(req: IncomingMessage, res: ServerResponse, who: Who, endpoint: Endpoint): Promise<void> {
    const slotKey = streamOwner(req, who);
    const holdsSlot = this.#streamSlot(req, slotKey);
    const exchange = new Exchange(res, who, endpoint, this.#exchanges, slotKey, holdsSlot, req.method === "GET");
    // The client waits for this before sending its body (Node leaves it to us, see lifecycle.ts).
    // (A body the MCP policy read was asked for there already.)
    if (who.body === undefined && expectsContinue(req)) res.writeContinue();
    let body: Awaited<ReturnType<typeof requestBody>>;
    try {
      body = who.body ?? (await requestBody(req));
    } catch {
      return; // the client went away while sending its body
    }
    // Kept for a second attempt elsewhere if this endpoint refuses the connection (app.ts).
    if (Buffer.isBuffer(body)) who.body = body;
    if (exchange.clientGone) return;
    const path = `${endpoint.basePath}${req.url ?? "/"}`;
    const method = req.method ?? "GET";
    const span: UpstreamTrace | undefined = who.trace?.upstream(method, endpoint.url, path);
    const headerList = upstreamHeaders(req, who, this.#headerParts, span?.headers);
    // An address found for a DNS name is still that name's server (virtual hosts, DNS rebinding checks).
    if (endpoint.host) headerList.push("host", endpoint.host);
    return exchange.dispatch(
      {
        path,
        method: method as "GET",
        // An answer to rewrite or events to filter must come uncompressed.
        headers: who.rewriteAnswer || who.filterEvents ? withoutAcceptEncoding(headerList) : headerList,
        body,
      },
      span,
    );
  }

  /**
   * Whether the request holds an event stream slot of its owner from now on. Refused only
   * before anything is sent upstream: a request that may open one more stream (it accepts
   * one) while its owner holds the maximum. A GET stream takes its slot now, so a burst
   * cannot pass the limit; a POST answered with a stream takes one when it is answered
   * (exchange.ts; never refused then: the MCP server has already acted on it), a GET that
   * asked for no stream but got one too (refused then past the maximum).
   */
  #streamSlot(req: IncomingMessage, owner: string): boolean {
    if (!acceptsStream(req)) return false;
    const holdsSlot = req.method === "GET";
    // A new stream near the memory limit would end every open one with the process.
    if (holdsSlot && this.#memory.high()) throw this.#shed();
    const streams = this.#exchanges.streams;
    if (!(holdsSlot ? streams.acquire(owner) : streams.hasRoom(owner))) throw this.#refused();
    return holdsSlot;
  }

  /**
   * A slot for a WebSocket (or other) upgrade to `endpoint`: the upgraded connection holds an
   * upstream socket for as long as an event stream holds its connection, so it counts against
   * the same per-user limit and memory guard, and is refused alike (429, 503) before anything
   * is sent upstream.
   */
  upgradeSlot(req: IncomingMessage, who: Who, endpoint: Endpoint): UpgradeSlot {
    if (this.#memory.high()) throw this.#shed();
    const owner = streamOwner(req, who);
    const { streams, streamOpened, streamClosed } = this.#exchanges;
    if (!streams.acquire(owner)) throw this.#refused();
    endpoint.inFlight++;
    const openUpgrades = this.openUpgrades;
    let state: "held" | "open" | "released" = "held";
    let open: OpenUpgrade | undefined;
    return {
      switched(upstream) {
        if (state !== "held") return;
        state = "open";
        streamOpened();
        open = openUpgrade(req, upstream);
        openUpgrades.add(open);
      },
      release() {
        if (state === "released") return;
        if (state === "open") streamClosed();
        state = "released";
        if (open) openUpgrades.delete(open);
        streams.release(owner);
        endpoint.inFlight--;
      },
    };
  }

  #shed(): ProxyError {
    this.#metrics.streamsShed.inc();
    return new ProxyError(
      "PROXY_ERROR",
      503,
      "The proxy is short of memory for another event stream; try again shortly",
    );
  }

  #refused(): ProxyError {
    this.#metrics.streamsRefused.inc();
    return tooManyStreams(this.#config.max_streams_per_user);
  }

  #failure(
    error: NodeJS.ErrnoException,
    endpoint: Endpoint,
    span: UpstreamTrace | undefined,
    bodyCut: boolean,
  ): ProxyError {
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
      // Closed while the body was on its way: most likely an early answer (413) that the
      // connection's reset overtook; it cannot be relayed (docs/decisions/030).
      failure = bodyCut
        ? new ProxyError(
            "PROXY_ERROR",
            502,
            "The MCP server closed the connection before it read the whole request body (it may refuse bodies this large)",
            { details: { reason: "closed_during_request_body" }, cause: error },
          )
        : new ProxyError("PROXY_ERROR", 502, "The MCP server closed the connection", { cause: error });
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
