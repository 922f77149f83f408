// Counts and logs each request when its response headers go out (streams would otherwise be
// timed to their end), and puts its request id on them. The logged path has no query string:
// /callback's carries codes. A request's entry is one small object; the writeHead and close
// hooks are shared functions that find it on the response, so an open event stream holds no
// closures of the access log. The entry keeps its request's scope: 'close' comes from the
// socket's events, outside it.
// The request id joins the headers writeHead is given instead of being set on the response
// beforehand: once any header is set on a response, Node's writeHead copies every header of
// the object it is given through setHeader (its "progressive" path), which every proxied
// answer would pay (docs/decisions/029).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import { currentScope, type RequestScope, requestScope } from "../observability/request-scope.ts";

/** The counters and log of every entry. */
class AccessLog {
  readonly #logger: Logger;
  readonly #metrics: ProxyMetrics;
  // Label children cached by method, then status (no key string built per request):
  // prom-client would look up and validate the labels on every call.
  readonly #counters = new Map<string, Map<number, { inc(): void }>>();
  readonly #histograms = new Map<string, { observe(value: number): void }>();

  /** The request id header's name as configured, and in lower case. */
  readonly requestIdName: string;
  readonly requestIdKey: string;

  /** logger.level when #debug was last asked (winston's answer builds arrays and a closure per call). */
  #level: string | undefined;
  #debug = false;

  constructor(logger: Logger, metrics: ProxyMetrics, requestId: { name: string; key: string }) {
    this.#logger = logger;
    this.#metrics = metrics;
    this.requestIdName = requestId.name;
    this.requestIdKey = requestId.key;
  }

  /**
   * Whether debug lines are written, asked again when the level changed (a reload sets
   * logger.level; the logger's transports, fixed at its creation, have no level of their own).
   */
  #debugEnabled(): boolean {
    const level = this.#logger.level;
    if (level !== this.#level) {
      this.#level = level;
      this.#debug = this.#logger.isDebugEnabled();
    }
    return this.#debug;
  }

  record(method: string, path: string, status: number, seconds: number, scope: RequestScope | undefined): void {
    let byStatus = this.#counters.get(method);
    if (!byStatus) {
      byStatus = new Map();
      this.#counters.set(method, byStatus);
    }
    let counter = byStatus.get(status);
    if (!counter) {
      counter = this.#metrics.requestsTotal.labels(method, String(status));
      byStatus.set(status, counter);
    }
    counter.inc();
    let histogram = this.#histograms.get(method);
    if (!histogram) {
      histogram = this.#metrics.requestDuration.labels(method);
      this.#histograms.set(method, histogram);
    }
    histogram.observe(seconds);
    if (status < 400 && !this.#debugEnabled()) return;
    const line = { method, path, status, duration_ms: Math.round(seconds * 100_000) / 100, user_id: scope?.userId };
    const level = status >= 500 ? "warn" : status >= 400 ? "info" : "debug";
    // The line names its request (request id, trace) even when written from the socket's events.
    if (scope && currentScope() !== scope) requestScope.run(scope, () => this.#logger.log(level, "request", line));
    else this.#logger.log(level, "request", line);
  }
}

/** One request, recorded once: when its headers go out, or when it closes without them (499). */
class AccessEntry {
  readonly #log: AccessLog;
  readonly #started = process.hrtime.bigint();
  readonly #scope = currentScope();
  readonly #method: string;
  readonly #path: string;
  /** The response's own writeHead, called by the shared hook after recording. */
  readonly writeHead: ServerResponse["writeHead"];
  /** The request's id, for its response's headers. */
  readonly requestId: string;
  #recorded = false;

  constructor(log: AccessLog, method: string, path: string, writeHead: ServerResponse["writeHead"], requestId: string) {
    this.#log = log;
    this.#method = method;
    this.#path = path;
    this.writeHead = writeHead;
    this.requestId = requestId;
  }

  get log(): AccessLog {
    return this.#log;
  }

  record(status: number): void {
    if (this.#recorded) return;
    this.#recorded = true;
    const seconds = Number(process.hrtime.bigint() - this.#started) / 1e9;
    this.#log.record(this.#method, this.#path, status, seconds, this.#scope);
  }
}

const ENTRY = Symbol("access log entry");
type LoggedResponse = ServerResponse & { [ENTRY]: AccessEntry };

/** Whether a headers object names `key` (lower case) in any case. */
function names(headers: OutgoingHttpHeaders, key: string): boolean {
  for (const name in headers) if (name.length === key.length && name.toLowerCase() === key) return true;
  return false;
}

/**
 * The request id into the headers given to writeHead (a value given there wins, as it did
 * over one set before); set on the response when none are given (the progressive path is
 * taken then anyway).
 */
function stampRequestId(res: ServerResponse, entry: AccessEntry, args: unknown[]): void {
  const headers = typeof args[1] === "string" ? args[2] : args[1];
  const { requestIdName, requestIdKey } = entry.log;
  if (headers && typeof headers === "object" && !Array.isArray(headers)) {
    const object = headers as OutgoingHttpHeaders;
    if (!names(object, requestIdKey)) object[requestIdName] = entry.requestId;
  } else if (!res.hasHeader(requestIdName)) res.setHeader(requestIdName, entry.requestId);
}

// writeHead is where every response, proxied or not, commits its status (Node's end() and
// flushHeaders() call it too).
function recordedWriteHead(this: LoggedResponse, ...args: Parameters<ServerResponse["writeHead"]>) {
  const entry = this[ENTRY];
  entry.record(args[0]);
  stampRequestId(this, entry, args);
  return entry.writeHead.apply(this, args);
}

function recordClosed(this: LoggedResponse): void {
  this[ENTRY].record(this.headersSent ? this.statusCode : 499);
}

/** `requestId`: the header's name as configured and its lower case (the value is the request's). */
export function createAccessLog(logger: Logger, metrics: ProxyMetrics, requestId: { name: string; key: string }) {
  const log = new AccessLog(logger, metrics, requestId);
  return (req: IncomingMessage, res: ServerResponse, path: string, id: string): void => {
    const logged = res as LoggedResponse;
    logged[ENTRY] = new AccessEntry(log, req.method ?? "", path, res.writeHead, id);
    res.writeHead = recordedWriteHead as ServerResponse["writeHead"];
    // 'close' comes once: a plain listener (once() would wrap it in three more objects).
    res.on("close", recordClosed);
  };
}
