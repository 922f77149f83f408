// Counts and logs each request when its response headers go out (streams would otherwise be
// timed to their end). The logged path has no query string: /callback's carries codes.
// A request's entry is one small object; the writeHead and close hooks are shared functions
// that find it on the response, so an open event stream holds no closures of the access log.
// The entry keeps its request's scope: 'close' comes from the socket's events, outside it.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import { currentScope, type RequestScope, requestScope } from "../observability/request-scope.ts";

/** The counters and log of every entry. */
class AccessLog {
  readonly #logger: Logger;
  readonly #metrics: ProxyMetrics;
  // Label children cached by method and status: prom-client would hash the labels per call.
  readonly #counters = new Map<string, { inc(): void }>();
  readonly #histograms = new Map<string, { observe(value: number): void }>();

  constructor(logger: Logger, metrics: ProxyMetrics) {
    this.#logger = logger;
    this.#metrics = metrics;
  }

  record(method: string, path: string, status: number, seconds: number, scope: RequestScope | undefined): void {
    const key = `${method} ${status}`;
    let counter = this.#counters.get(key);
    if (!counter) {
      counter = this.#metrics.requestsTotal.labels(method, String(status));
      this.#counters.set(key, counter);
    }
    counter.inc();
    let histogram = this.#histograms.get(method);
    if (!histogram) {
      histogram = this.#metrics.requestDuration.labels(method);
      this.#histograms.set(method, histogram);
    }
    histogram.observe(seconds);
    if (status < 400 && !this.#logger.isDebugEnabled()) return;
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
  #recorded = false;

  constructor(log: AccessLog, method: string, path: string, writeHead: ServerResponse["writeHead"]) {
    this.#log = log;
    this.#method = method;
    this.#path = path;
    this.writeHead = writeHead;
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

// writeHead is where every response, proxied or not, commits its status.
function recordedWriteHead(this: LoggedResponse, ...args: Parameters<ServerResponse["writeHead"]>) {
  const entry = this[ENTRY];
  entry.record(args[0]);
  return entry.writeHead.apply(this, args);
}

function recordClosed(this: LoggedResponse): void {
  this[ENTRY].record(this.headersSent ? this.statusCode : 499);
}

export function createAccessLog(logger: Logger, metrics: ProxyMetrics) {
  const log = new AccessLog(logger, metrics);
  return (req: IncomingMessage, res: ServerResponse, path: string): void => {
    const logged = res as LoggedResponse;
    logged[ENTRY] = new AccessEntry(log, req.method ?? "", path, res.writeHead);
    res.writeHead = recordedWriteHead as ServerResponse["writeHead"];
    // 'close' comes once: a plain listener (once() would wrap it in three more objects).
    res.on("close", recordClosed);
  };
}
