// Gives each request an id (a sane incoming X-Request-ID is kept for tracing across hops)
// and runs the rest of the chain inside the request scope, so logs carry that id.
import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";
import { requestScope } from "../observability/request-scope.ts";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

declare global {
  namespace Express {
    interface Locals {
      requestId: string;
    }
  }
}

export function requestScopeMiddleware(requestIdHeader: string): RequestHandler {
  const header = requestIdHeader.toLowerCase();
  return (req, res, next) => {
    const incoming = req.headers[header];
    const requestId = typeof incoming === "string" && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader(requestIdHeader, requestId);
    requestScope.run({ requestId }, next);
  };
}
