// One forwarded exchange, as the undici dispatch handler of its upstream request: the MCP
// server's answer is relayed to the client from undici's callbacks (onResponseData writes to
// the response; a full socket pauses the upstream until 'drain'), with no Readable, async
// iterator, AbortController or promise chain in between. An open event stream holds only this
// object, its keep-alive and the sockets on either side (issue 14 asks for 10,000 of them in a
// 256 MiB container: docs/decisions/024-streams-relayed-from-callbacks.md). The forwarder prepares the
// request (forwarder.ts); this file owns what happens once it is dispatched: the answer's
// hooks, its rewrite or event filter, backpressure both ways, and aborting the upstream
// request when the client leaves first.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import { ProxyError } from "../errors.ts";
import { UnfilterableEvent } from "../mcp/stream-filter.ts";
import type { Logger } from "../observability/logger.ts";
import { currentScope, enterScope, type RequestScope } from "../observability/request-scope.ts";
import type { UpstreamTrace } from "../observability/tracing.ts";
import { answerConnectionNominated, HOP_BY_HOP } from "../proxy-headers.ts";
import type { Endpoint } from "./endpoints.ts";
import { isEventStream, KeepAlive, markUnbuffered, type StreamPinger } from "./event-stream.ts";
import type { AnswerRewrite, EventRelayFilter, Who } from "./forwarder.ts";
import type { StreamLimit } from "./stream-limit.ts";

/** What every exchange of one forwarder shares (one object, not one closure per request). */
export interface ExchangeContext {
  streams: StreamLimit;
  /** Event streams being relayed, ended cleanly at shutdown. */
  openStreams: Set<ServerResponse>;
  /** Pings idle streams; undefined when target.sse_keepalive_interval is 0. */
  pinger: StreamPinger | undefined;
  logger: Logger;
  streamOpened(): void;
  streamClosed(): void;
  /**
   * The proxy's error for a request that failed before it was answered (logged and counted);
   * `bodyCut`: the client was still sending its body.
   */
  failure(error: Error, endpoint: Endpoint, span: UpstreamTrace | undefined, bodyCut: boolean): ProxyError;
  /** The 429 of a stream past its owner's maximum (counted). */
  refused(): ProxyError;
}

/** The reason given to undici when the client left first (one object: nothing is thrown with it). */
const CLIENT_GONE = new Error("the client closed the connection");

export function responseHeaders(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const nominated = answerConnectionNominated(headers);
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name) && !nominated?.has(name)) out[name] = value;
  }
  return out;
}

/**
 * An answer that came before the client finished sending its body (an MCP server's early
 * 413): undici stops sending the body and destroys it, so the rest of it is never read and
 * the connection could carry no next request (its keep-alive would hang). The client is told
 * it closes after the answer, as the proxy's own early answers do (errors.ts writeError).
 */
function closeIfBodyUnread(res: ServerResponse, headers: OutgoingHttpHeaders): void {
  if (!res.req.complete) headers.connection = "close";
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

const unfilterable = () =>
  new ProxyError("PROXY_ERROR", 502, "The MCP server's list answer could not be filtered for the caller");

/** An answer read whole to be rewritten (lists filtered per caller). */
interface HeldAnswer {
  rewrite: AnswerRewrite;
  status: number;
  headers: IncomingHttpHeaders;
  chunks: Buffer[];
  size: number;
}

/**
 * Settles `forward()`: resolved once the answer has begun (its headers are sent) or the client
 * left; rejected with a ProxyError while nothing was sent. The body is relayed after that.
 */
interface Settle {
  resolve(): void;
  reject(error: unknown): void;
}

export class Exchange implements Dispatcher.DispatchHandler {
  readonly #res: ServerResponse;
  readonly #endpoint: Endpoint;
  readonly #context: ExchangeContext;
  #span: UpstreamTrace | undefined;
  readonly #scope: RequestScope | undefined = currentScope();
  /** Whose streams this exchange counts against; holdsSlot: it is counted now. */
  readonly #slotKey: string;
  #holdsSlot: boolean;
  /** A GET: answered with a stream it holds no slot for, it can still be refused (it changed nothing). */
  readonly #refusable: boolean;
  /** Dropped once the answer has begun: its hooks and body are not kept for a stream's life. */
  #who: Who | undefined;
  #settle: Settle | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  /** The client side closed (gone, or ended at shutdown). */
  #closed = false;
  /** The whole answer went through: a close after it aborts nothing. */
  #complete = false;
  /** The answer's headers went to the client: from now on failures cut the response. */
  #relaying = false;
  #stream = false;
  #held: HeldAnswer | undefined;
  #first: ((chunk: Buffer) => Promise<boolean>) | undefined;
  #filter: EventRelayFilter | undefined;
  #keepAlive: KeepAlive | undefined;
  /** Whether 'drain' is listened to (from the first time the client's socket was full). */
  #drainListener = false;

  constructor(
    res: ServerResponse,
    who: Who,
    endpoint: Endpoint,
    context: ExchangeContext,
    slotKey: string,
    holdsSlot: boolean,
    refusable: boolean,
  ) {
    this.#res = res;
    this.#who = who;
    this.#endpoint = endpoint;
    this.#context = context;
    this.#slotKey = slotKey;
    this.#holdsSlot = holdsSlot;
    this.#refusable = refusable;
    if (res.destroyed) {
      // The client left while the request was authenticated: its 'close' has come already,
      // so nothing is sent, counted or held for it.
      this.#closed = true;
      this.#releaseSlot();
      return;
    }
    endpoint.inFlight++;
    res.on("close", () => this.#clientClosed());
  }

  /** Whether the client left before the request was sent (nothing to dispatch then). */
  get clientGone(): boolean {
    return this.#closed;
  }

  /** Sends the request; see Settle for when the promise settles. */
  dispatch(options: Dispatcher.DispatchOptions, span: UpstreamTrace | undefined): Promise<void> {
    this.#span = span;
    return new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
      this.#endpoint.pool.dispatch(options, this);
    });
  }

  /** A request that cannot count one more stream for its owner releases what it held. */
  #releaseSlot(): void {
    if (this.#holdsSlot) this.#context.streams.release(this.#slotKey);
    this.#holdsSlot = false;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#closed) controller.abort(CLIENT_GONE);
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    if (status < 200) return; // 100 Continue and other interim answers: the client was told (forwarder)
    // undici keeps the raw header Buffers here for handlers that want them (none here): views of
    // the first socket read, held for a stream's whole life otherwise (~1.5 KB each).
    controller.rawHeaders = null;
    this.#inScope(() => this.#answered(controller, status, headers));
  }

  #answered(controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    // The span is the MCP server's answer time: it ends with the headers, streams included.
    this.#span?.answered(status);
    this.#endpoint.breaker.recordSuccess();
    this.#who?.upstreamAnswered?.(status);
    // The caller's hook runs before anything is sent; a rejection drops the answer unsent.
    const pending = this.#who?.afterUpstream?.(status, headers);
    if (!pending) {
      this.#begin(status, headers);
      return;
    }
    controller.pause();
    pending.then(
      () => {
        this.#begin(status, headers);
        this.#resume();
      },
      (error: unknown) => this.#fail(error),
    );
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const held = this.#held;
    if (held) {
      held.size += chunk.length;
      if (held.size > held.rewrite.limit)
        this.#inScope(() => this.#dropHeld(`larger than mcp_policy.max_list_size (${held.rewrite.limit} bytes)`));
      else held.chunks.push(chunk);
      return;
    }
    const first = this.#first;
    if (!first) {
      this.#relay(chunk);
      return;
    }
    // Chunks wait for the caller's hook until the first event is whole (the HTTP+SSE session
    // binding reads it: an upstream may send it in parts, or after comments).
    controller.pause();
    this.#inScope(() =>
      first(chunk).then(
        (read) => {
          if (read) this.#first = undefined;
          if (this.#relay(chunk)) this.#resume();
        },
        () => this.#cut(),
      ),
    );
  }

  onResponseEnd(): void {
    const held = this.#held;
    if (held) {
      this.#inScope(() => this.#sendRewritten(held));
      return;
    }
    this.#complete = true;
    this.#keepAlive?.stop();
    this.#res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.#settle) this.#inScope(() => this.#failed(error));
    // Cut short upstream after the answer began: not to be taken for whole.
    else if (this.#relaying && !this.#closed) this.#res.destroy();
  }

  /** The request failed before it was answered: the client gets the proxy's error, unless it left. */
  #failed(error: Error): void {
    if (this.#closed) {
      this.#span?.failed("client_closed");
      this.#settled()?.resolve(); // the client left first: nobody to answer
      return;
    }
    this.#releaseSlot();
    const bodyCut = !this.#res.req.complete;
    this.#settled()?.reject(this.#context.failure(error, this.#endpoint, this.#span, bodyCut));
  }

  /**
   * Runs `step` in the request's scope (its log lines name the request, its hooks see it):
   * undici calls back from the upstream socket's events, whose async context is that of the
   * request that opened the connection, an earlier one on a reused connection. Entered for
   * the rest of undici's callback (request-scope.ts): what follows there is this exchange's.
   */
  #inScope(step: () => void): void {
    if (this.#scope) enterScope(this.#scope);
    step();
  }

  /** The answer's headers are in (and its hook done): rewrite it, or relay it as it comes. */
  #begin(status: number, upstreamHeaders: IncomingHttpHeaders): void {
    const who = this.#who;
    if (!who || !this.#settle) return; // already failed (upstream error while the hook ran)
    if (this.#closed) {
      this.#controller?.abort(CLIENT_GONE);
      this.#settled()?.resolve();
      return;
    }
    this.#who = undefined;
    const rewrite = who.rewriteAnswer;
    if (rewrite && status === 200) {
      this.#releaseSlot();
      const encoding = upstreamHeaders["content-encoding"];
      this.#held = { rewrite, status, headers: upstreamHeaders, chunks: [], size: 0 };
      if (encoding !== undefined && encoding !== "identity") this.#dropHeld("compressed");
      return;
    }
    const res = this.#res;
    const headers = responseHeaders(upstreamHeaders);
    closeIfBodyUnread(res, headers);
    this.#stream = isEventStream(upstreamHeaders);
    if (this.#stream && !this.#streamSlot()) return;
    if (this.#stream) this.#openStream(headers, who, upstreamHeaders);
    else this.#releaseSlot();
    res.writeHead(status, headers);
    if (this.#stream) {
      res.flushHeaders();
      who.trace?.streamStarted();
    }
    this.#relaying = true;
    this.#settled()?.resolve();
  }

  /**
   * Counts an event stream answer against its owner. A request that asked for none (a GET
   * without Accept: text/event-stream, which HTTP+SSE servers answer with a stream all the
   * same) is refused past the maximum (429, the stream aborted); a POST never is now: the
   * MCP server has already acted on it. Returns whether the stream is relayed.
   */
  #streamSlot(): boolean {
    if (this.#holdsSlot) return true;
    const streams = this.#context.streams;
    if (this.#refusable && !streams.acquire(this.#slotKey)) {
      this.#stream = false;
      const settle = this.#settled(); // before the abort, as in #dropHeld
      this.#controller?.abort(CLIENT_GONE);
      settle?.reject(this.#context.refused());
      return false;
    }
    if (!this.#refusable) streams.add(this.#slotKey);
    this.#holdsSlot = true;
    return true;
  }

  /** An event stream answer: unbuffered, kept alive, ended at shutdown. */
  #openStream(headers: OutgoingHttpHeaders, who: Who, upstreamHeaders: IncomingHttpHeaders): void {
    markUnbuffered(headers);
    const context = this.#context;
    if (context.pinger) this.#keepAlive = new KeepAlive(this.#res, context.pinger);
    context.openStreams.add(this.#res);
    context.streamOpened();
    this.#first = who.beforeFirstEvent;
    this.#filter = eventFilter(who, upstreamHeaders);
  }

  /**
   * Writes one chunk (through the event filter); pauses the upstream while the client is full.
   * Returns whether more may come now.
   */
  #relay(chunk: Buffer): boolean {
    const res = this.#res;
    if (res.writableEnded || res.destroyed) {
      this.#controller?.abort(CLIENT_GONE);
      return false;
    }
    let out = chunk;
    if (this.#filter) {
      try {
        out = this.#filter.push(chunk);
      } catch (error) {
        // Events that cannot be filtered: the stream is cut (fail closed).
        if (error instanceof UnfilterableEvent) {
          const message = error.message;
          this.#inScope(() => this.#context.logger.warn("an MCP event stream was cut", { error: message }));
        }
        this.#cut();
        return false;
      }
      if (out.length === 0) return true;
    }
    this.#keepAlive?.relayed(out);
    if (res.write(out)) return true;
    this.#controller?.pause();
    if (!this.#drainListener) {
      this.#drainListener = true;
      res.on("drain", () => this.#resume());
    }
    return false;
  }

  #resume(): void {
    if (!this.#closed) this.#controller?.resume();
  }

  /** Both sides closed at once: the client must not take a cut answer for a whole one. */
  #cut(): void {
    this.#controller?.abort(CLIENT_GONE);
    this.#res.destroy();
  }

  /** A list answer that cannot be read whole (too large, compressed): 502, fail closed. */
  #dropHeld(why: string): void {
    const held = this.#held as HeldAnswer;
    this.#held = undefined;
    // Taken before the abort: undici reports it at once (onResponseError), which would
    // otherwise answer the MCP server's "closed connection" in place of this 502.
    const settle = this.#settled();
    this.#controller?.abort(CLIENT_GONE);
    this.#context.logger.warn("an MCP list answer could not be filtered", {
      reason: why,
      encoding: held.headers["content-encoding"],
      content_type: String(held.headers["content-type"] ?? ""),
    });
    settle?.reject(unfilterable());
  }

  /** Rewrites a whole answer and sends it in one write; fails closed (502) when it cannot. */
  #sendRewritten(held: HeldAnswer): void {
    this.#held = undefined;
    const contentType = String(held.headers["content-type"] ?? "");
    let rewritten: Buffer | undefined;
    try {
      rewritten = held.rewrite.rewrite(Buffer.concat(held.chunks, held.size), contentType);
    } catch {
      rewritten = undefined;
    }
    if (!rewritten) {
      this.#held = held;
      this.#dropHeld("unreadable");
      return;
    }
    const headers = responseHeaders(held.headers);
    delete headers["content-length"];
    delete headers["transfer-encoding"];
    headers["content-length"] = rewritten.length;
    closeIfBodyUnread(this.#res, headers);
    this.#complete = true;
    this.#res.writeHead(held.status, headers);
    this.#res.end(rewritten);
    this.#settled()?.resolve();
  }

  /** The caller's hook refused the answer: it is dropped unsent and forward() rejects. */
  #fail(error: unknown): void {
    const settle = this.#settled(); // before the abort, as in #dropHeld
    this.#controller?.abort(CLIENT_GONE);
    settle?.reject(error);
  }

  /** Takes the pending settle (once). */
  #settled(): Settle | undefined {
    const settle = this.#settle;
    this.#settle = undefined;
    return settle;
  }

  #clientClosed(): void {
    this.#endpoint.inFlight--;
    this.#releaseSlot();
    if (this.#stream) {
      this.#keepAlive?.stop();
      this.#context.openStreams.delete(this.#res);
      this.#context.streamClosed();
    }
    if (this.#complete) return;
    // Whenever the client side closes before the upstream answer is complete (client gone,
    // stream ended at shutdown), the upstream request is aborted too.
    this.#closed = true;
    this.#controller?.abort(CLIENT_GONE);
  }
}
