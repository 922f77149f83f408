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

/**
 * Makes `scope` the current one for the rest of the running callback and what it schedules:
 * for code that Node calls back from an event (the request handler, undici's socket
 * callbacks), whose context Node sets before each callback and restores after it, so the
 * scope ends with that callback as it would with run(). Cheaper than run(), which copies the
 * async context twice per call (once in, once back out: docs/decisions/029); what is left of
 * such a callback is the same request's work.
 */
export function enterScope(scope: RequestScope): void {
  if (requestScope.getStore() !== scope) requestScope.enterWith(scope);
}
