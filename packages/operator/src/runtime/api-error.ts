// What a log line or a status message says about a failed API request: the HTTP status and
// the API server's own message. client-node's ApiException carries the whole response
// (body and every header, about 1 KB) in its message, which buries the reason in the logs.

export interface ApiErrorSummary {
  status?: number;
  message: string;
}

function messageOfBody(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.slice(0, 300) || undefined;
    }
  }
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === "string" ? message : undefined;
}

export function summarizeApiError(error: unknown): ApiErrorSummary {
  const { code, body } = (error ?? {}) as { code?: unknown; body?: unknown };
  const status = typeof code === "number" ? code : undefined;
  const fromBody = status !== undefined ? messageOfBody(body) : undefined;
  const message = (fromBody ?? (error instanceof Error ? error.message : String(error))).slice(0, 500);
  return status !== undefined ? { status, message } : { message };
}

/**
 * Whether the API server refused an object as invalid, which only a change of the object
 * can fix: 422 (reason Invalid, e.g. CPU requests above the limits), or the 500 server-side
 * apply answers when the object cannot even be converted to its type (a quantity such as
 * "1e99999999999999999999": "failed to convert new object ... unable to convert
 * unstructured object"). That 500 carries no reason and no causes (kube-apiserver 1.36),
 * so its message is what tells it from a 500 worth retrying.
 */
export function isInvalidObject(error: unknown): boolean {
  const { code, body } = (error ?? {}) as { code?: unknown; body?: unknown };
  if (code === 422) return true;
  if (code !== 500) return false;
  const { reason, message } = (body ?? {}) as { reason?: unknown; message?: unknown };
  return (
    (reason === undefined || reason === "InternalError") && typeof message === "string" && UNCONVERTIBLE.test(message)
  );
}

const UNCONVERTIBLE = /unable to convert unstructured object to /;
