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
