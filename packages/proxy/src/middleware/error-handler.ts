// Where the proxy's own routes' errors become responses: the JSON error shape of errors.ts
// (a short HTML page for a browser's page load), the status of the error, the cause logged
// (never sent). Proxied requests' errors are written by app.ts and upstream/forwarder.ts.
import type { ErrorRequestHandler, RequestHandler } from "express";
import { ProxyError, renderError, toProxyError } from "../errors.ts";
import { failureLogOf } from "../observability/failure-log.ts";
import type { Logger } from "../observability/logger.ts";

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    const error = toProxyError(err);
    if (error.status >= 500) failureLogOf(logger)(error);
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
