// Counts and logs each request when its response headers go out (streams would otherwise
// be timed to their end). The logged path has no query string: /callback's carries codes.
import type { RequestHandler } from "express";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";

export function accessLog(logger: Logger, metrics: ProxyMetrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const method = req.method;
    const path = req.path;
    const originalWriteHead = res.writeHead;
    let recorded = false;
    const record = (status: number) => {
      if (recorded) return;
      recorded = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.requestsTotal.inc({ method, status: String(status) });
      metrics.requestDuration.observe({ method }, seconds);
      if (logger.isDebugEnabled() || status >= 400) {
        logger.log(status >= 500 ? "warn" : status >= 400 ? "info" : "debug", "request", {
          method,
          path,
          status,
          duration_ms: Math.round(seconds * 1000 * 100) / 100,
          user_id: res.locals.user?.id,
        });
      }
    };
    // writeHead is where every response, proxied or not, commits its status.
    res.writeHead = function writeHead(this: typeof res, ...args: Parameters<typeof originalWriteHead>) {
      record(args[0] as number);
      return originalWriteHead.apply(this, args);
    } as typeof originalWriteHead;
    res.once("close", () => record(res.headersSent ? res.statusCode : 499));
    next();
  };
}
