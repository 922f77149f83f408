// The request scope: an AsyncLocalStorage entry that carries the request id (and, once
// known, the user) so every log line written while serving a request can name them; with
// tracing on, the request's trace too, so any step can add its span (observability/tracing.ts).
import { AsyncLocalStorage } from "node:async_hooks";
import type { RequestTrace } from "./tracing.ts";

export interface RequestScope {
  requestId: string;
  userId?: string;
  trace?: RequestTrace;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

export function currentScope(): RequestScope | undefined {
  return requestScope.getStore();
}
