// The one place errors become responses: the brief's JSON shape (a short HTML page for a
// browser's page load), the status of the error, the cause logged (never sent). Nothing here is reached for proxied upstream errors,
// which the proxy answers itself (upstream/proxy.ts).
import type { ErrorRequestHandler, RequestHandler } from "express";
import { ProxyError, renderError, toProxyError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    const error = toProxyError(err);
    if (error.status >= 500) {
      logger.error("request failed", {
        code: error.code,
        error: (error.cause as Error | undefined)?.message ?? error.message,
      });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A person's page load gets a short HTML page, programs the JSON shape.
    const { headers, body } = renderError(res, error, res.locals.requestId ?? "");
    res.status(error.status).set(headers).send(body);
  };
}

export const notFound: RequestHandler = () => {
  throw new ProxyError("BAD_REQUEST", 404, "Not found");
};
