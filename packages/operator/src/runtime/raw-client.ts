// Every request the operator sends to the API server: plain JSON over the kubeconfig's one
// connection pool (kube-config.ts), authenticated by client-node's KubeConfig. Not through
// client-node's typed API classes: their serializer turned every object into model
// instances and back (most of the garbage a reconcile made), their module graph is ~14 MiB
// resident whether used or not, and it writes metav1.MicroTime with milliseconds, which the
// API server refuses (decision 023). Watches stream newline-delimited JSON events.

import { createInterface } from "node:readline";
import type { KubeConfig } from "@kubernetes/client-node";
import { errors, request } from "undici";
import { connect } from "./kube-config.ts";

export class ApiError extends Error {
  readonly code: number;
  readonly body: unknown;
  constructor(code: number, body: unknown) {
    super(`API server answered ${code}: ${JSON.stringify(body).slice(0, 300)}`);
    this.code = code;
    this.body = body;
  }
}

/** RFC 3339 with microseconds, as metav1.MicroTime is serialized. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** How long a request may take, answer included, before it is given up. */
const REQUEST_TIMEOUT_MS = 15_000;

function parsed(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** The methods the operator sends. */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export async function requestJson<T>(
  kubeConfig: KubeConfig,
  method: Method,
  path: string,
  body?: unknown,
  contentType = "application/json",
  signal?: AbortSignal,
  accept = "application/json",
): Promise<T> {
  const { url, headers, dispatcher } = await connect(kubeConfig, path);
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  try {
    const response = await request(url, {
      method,
      headers: { ...headers, accept, "content-type": contentType },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(dispatcher ? { dispatcher } : {}),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const answer = parsed(await response.body.text());
    if (response.statusCode >= 200 && response.statusCode < 300) return answer as T;
    throw new ApiError(response.statusCode, answer);
  } catch (error) {
    if (timeout.aborted && !signal?.aborted) throw new Error(`${method} ${path} timed out`);
    throw error;
  }
}

/** One event of a watch: the object, or a Status when the type is ERROR. */
export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

/**
 * A watch: each event handed on as it arrives, until the API server ends the stream (it
 * does after timeoutSeconds), nothing arrived for `idleMs` (a connection that died without
 * a word), or the signal aborts. Resolves when it ended quietly; rejects on an error answer.
 */
export async function watchJson<T>(
  kubeConfig: KubeConfig,
  path: string,
  onEvent: (event: WatchEvent<T>) => void,
  signal: AbortSignal,
  idleMs: number,
): Promise<void> {
  const { url, headers, dispatcher } = await connect(kubeConfig, path);
  try {
    const response = await request(url, {
      headers: { ...headers, accept: "application/json" },
      ...(dispatcher ? { dispatcher } : {}),
      signal,
      headersTimeout: idleMs,
      bodyTimeout: idleMs,
    });
    if (response.statusCode !== 200) throw new ApiError(response.statusCode, parsed(await response.body.text()));
    // One JSON document per line (readline joins a line split across chunks).
    const lines = createInterface({ input: response.body, crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      if (line.trim()) onEvent(JSON.parse(line) as WatchEvent<T>);
    }
  } catch (error) {
    // Silence for idleMs is the end of this watch, not a failure: the next one resumes.
    if (error instanceof errors.BodyTimeoutError || error instanceof errors.HeadersTimeoutError) return;
    throw error;
  }
}
