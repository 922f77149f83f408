// The few error classes of the proxy. Each has a stable code and HTTP status; the error
// handler serializes them as {"error":{code,message,details},"request_id","timestamp"}
// and shows clients only the message and details, never the cause.
import http, { type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { isPageNavigation, renderErrorPage } from "./error-page.ts";
import { PAGE_HEADERS } from "./html-page.ts";

export type ErrorCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "INVALID_SESSION"
  | "OIDC_ERROR"
  | "PROXY_ERROR"
  | "RATE_LIMITED"
  | "INTERNAL_ERROR";

export class ProxyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  /** Seconds a client should wait before trying again (sent as Retry-After with a 503). */
  readonly retryAfter: number | undefined;

  constructor(
    code: ErrorCode,
    status: number,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown; retryAfter?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "ProxyError";
    this.code = code;
    this.status = status;
    this.details = options.details;
    this.retryAfter = options.retryAfter ?? (status === 503 ? DEFAULT_RETRY_AFTER_SECONDS : undefined);
  }
}

/** A dependency that is down or slow (store, provider, MCP server) is worth retrying this soon. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * The session store did not answer (down, or slower than session.store_timeout). Fail closed:
 * nothing that needs the store passes, and the client learns to retry.
 */
export const storeUnavailable = (cause: unknown) =>
  new ProxyError("INTERNAL_ERROR", 503, "The session store is unavailable; try again shortly", { cause });

/** Headers that go with an error answer besides its JSON body. */
export function errorHeaders(error: ProxyError): Record<string, string> {
  return error.retryAfter === undefined ? {} : { "retry-after": String(error.retryAfter) };
}

export const unauthorized = (message = "Authentication required") => new ProxyError("UNAUTHORIZED", 401, message);
export const forbidden = (message: string, details?: Record<string, unknown>) =>
  new ProxyError("FORBIDDEN", 403, message, details ? { details } : {});
export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new ProxyError("BAD_REQUEST", 400, message, details ? { details } : {});

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
  request_id: string;
  timestamp: string;
}

export function errorBody(error: ProxyError, requestId: string): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
    },
    request_id: requestId,
    timestamp: new Date().toISOString(),
  };
}

/** Anything thrown that is not a ProxyError becomes a 500 without its internals. */
export function toProxyError(error: unknown): ProxyError {
  if (error instanceof ProxyError) return error;
  const status =
    (error as { status?: unknown; statusCode?: unknown })?.status ?? (error as { statusCode?: unknown })?.statusCode;
  // Errors raised by Express' own parsers (malformed URL, bad headers) carry a 4xx status.
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new ProxyError("BAD_REQUEST", status, "Malformed request", { cause: error });
  }
  return new ProxyError("INTERNAL_ERROR", 500, "Internal error", { cause: error });
}

/** The response body of an error: a short HTML page for a person's page load, else JSON. */
export function renderError(
  res: ServerResponse,
  error: ProxyError,
  requestId: string,
): { headers: Record<string, string>; body: string } {
  if (res.req && isPageNavigation(res.req)) {
    return { headers: { ...errorHeaders(error), ...PAGE_HEADERS }, body: renderErrorPage(error, requestId) };
  }
  return {
    headers: { ...errorHeaders(error), "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify(errorBody(error, requestId)),
  };
}

/** Writes an error response outside Express (the proxied path, upgrades). */
export function writeError(res: ServerResponse, error: ProxyError, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { headers, body } = renderError(res, error, requestId);
  res.writeHead(error.status, {
    ...headers,
    // A body the client is still sending (refused before it was read) is not drained:
    // the connection closes after the answer instead.
    ...(res.req && !res.req.complete ? { connection: "close" } : {}),
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** An answer written on a raw socket (an upgrade has no response object); the connection closes after it. */
export function writeSocketAnswer(socket: Socket, status: number, body: string, headers: Record<string, string> = {}) {
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra.join("")}Connection: close\r\n\r\n${body}`,
  );
}

/** writeError for a raw socket. */
export function writeSocketError(socket: Socket, error: ProxyError, requestId: string): void {
  writeSocketAnswer(socket, error.status, JSON.stringify(errorBody(error, requestId)), errorHeaders(error));
}
