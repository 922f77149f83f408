// Each request's id: a sane incoming X-Request-ID is kept for tracing across hops, anything
// else is replaced. The id is echoed to the client and carried by the request scope.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(req: IncomingMessage, headerLowerCase: string): string {
  const incoming = req.headers[headerLowerCase];
  return typeof incoming === "string" && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
