// The request scope: an AsyncLocalStorage entry that carries the request id (and, once
// known, the user) so every log line written while serving a request can name them.
import { AsyncLocalStorage } from "node:async_hooks";

export interface RequestScope {
  requestId: string;
  userId?: string;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

export function currentScope(): RequestScope | undefined {
  return requestScope.getStore();
}
