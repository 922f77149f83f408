// Counts and logs each request when its response headers go out (streams would otherwise be
// timed to their end). The logged path has no query string: /callback's carries codes.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import { currentScope } from "../observability/request-scope.ts";

export function createAccessLog(logger: Logger, metrics: ProxyMetrics) {
  // Label children cached by method and status: prom-client would hash the labels per call.
  const counters = new Map<string, { inc(): void }>();
  const histograms = new Map<string, { observe(value: number): void }>();
  const counterFor = (method: string, status: string) => {
    const key = `${method} ${status}`;
    let child = counters.get(key);
    if (!child) {
      child = metrics.requestsTotal.labels(method, status);
      counters.set(key, child);
    }
    return child;
  };
  const histogramFor = (method: string) => {
    let child = histograms.get(method);
    if (!child) {
      child = metrics.requestDuration.labels(method);
      histograms.set(method, child);
    }
    return child;
  };
  return (req: IncomingMessage, res: ServerResponse, path: string): void => {
    const started = process.hrtime.bigint();
    const method = req.method ?? "";
    let recorded = false;
    const record = (status: number) => {
      if (recorded) return;
      recorded = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      counterFor(method, String(status)).inc();
      histogramFor(method).observe(seconds);
      if (status >= 400 || logger.isDebugEnabled()) {
        logger.log(status >= 500 ? "warn" : status >= 400 ? "info" : "debug", "request", {
          method,
          path,
          status,
          duration_ms: Math.round(seconds * 100_000) / 100,
          user_id: currentScope()?.userId,
        });
      }
    };
    // writeHead is where every response, proxied or not, commits its status.
    const writeHead = res.writeHead;
    res.writeHead = function recordedWriteHead(this: ServerResponse, ...args: Parameters<typeof writeHead>) {
      record(args[0]);
      return writeHead.apply(this, args);
    } as typeof writeHead;
    res.once("close", () => record(res.headersSent ? res.statusCode : 499));
  };
}
