// OpenTelemetry tracing as the rest of the proxy sees it: an interface with no OpenTelemetry
// import, the decision whether tracing is on (config `tracing.enabled` and the standard OTEL_*
// variables), and `inSpan`, the one-line wrap for a step of a request. The SDK itself lives in
// tracing-sdk.ts and is imported only when tracing is on: a proxy without tracing loads none
// of it and pays one `undefined` check per request (docs/decisions/017-tracing.md).
import type { IncomingMessage, ServerResponse } from "node:http";
import { ConfigError } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "./logger.ts";
import { currentScope } from "./request-scope.ts";

export type SpanAttributes = Record<string, string | number | boolean>;

/** One request's trace: its server span and the spans of its steps. */
export interface RequestTrace {
  /** The trace id (32 hex digits): the client's when it sent a valid traceparent. */
  readonly traceId: string;
  /**
   * Runs fn as a child span of the request's span, ended when fn settles; attributesOf adds
   * attributes from the result. A throw marks the span failed with the error's code only.
   */
  inSpan<T>(name: string, fn: () => Promise<T>, attributesOf?: (result: T) => SpanAttributes): Promise<T>;
  /** Attributes of the request's server span (the MCP method and name, once known). */
  annotate(attributes: SpanAttributes): void;
  /** Starts the span of the upstream call (path: as sent, query dropped); its headers carry it as the parent. */
  upstream(method: string, target: URL, path: string): UpstreamTrace;
  /** The answer is an event stream and its headers are out: the server span ends now. */
  streamStarted(): void;
}

export interface UpstreamTrace {
  /** traceparent (and tracestate) for the upstream request, as [name, value, …]. */
  readonly headers: readonly string[];
  /** The MCP server's response headers arrived: the span ends (streams included). */
  answered(status: number): void;
  /** No answer (refused, timed out, reset) or the client left: the span ends failed. */
  failed(errorType: string): void;
}

export interface RequestTracer {
  /** Header names the tracer owns: the client's values never go upstream as they came. */
  readonly headerNames: ReadonlySet<string>;
  /** Starts the server span of a request; it ends when the response does. */
  start(req: IncomingMessage, res: ServerResponse, path: string, route: string | undefined): RequestTrace;
  /** Exports what is still buffered and stops (graceful shutdown). */
  shutdown(): Promise<void>;
}

/** How tracing was decided: off (and why), or on with the exporter to use. */
export type TracingSettings =
  | { enabled: false; reason: string }
  | { enabled: true; exporter: "otlp" | "console"; protocol: "http/protobuf" | "http/json" };

const isTrue = (value: string | undefined) => value?.trim().toLowerCase() === "true";

/**
 * Tracing is on when `tracing.enabled` is true, or, left unset, when OTEL_TRACES_EXPORTER or an
 * OTLP endpoint variable is set. OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it
 * off whatever the config says. Unsupported values stop startup with a message naming them.
 */
export function tracingSettings(config: Config["tracing"], env: NodeJS.ProcessEnv = process.env): TracingSettings {
  if (isTrue(env.OTEL_SDK_DISABLED)) return { enabled: false, reason: "OTEL_SDK_DISABLED=true" };
  if (config.enabled === false) return { enabled: false, reason: "tracing.enabled=false" };
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() || undefined;
  if (exporter === "none") return { enabled: false, reason: "OTEL_TRACES_EXPORTER=none" };
  const wanted =
    config.enabled === true ||
    exporter !== undefined ||
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (!wanted) return { enabled: false, reason: "not configured" };
  if (exporter !== undefined && exporter !== "otlp" && exporter !== "console") {
    throw new ConfigError([`OTEL_TRACES_EXPORTER: "${exporter}" is not supported (otlp, console or none)`]);
  }
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || "http/protobuf")
    .trim()
    .toLowerCase();
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    throw new ConfigError([`OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not supported (http/protobuf or http/json)`]);
  }
  return { enabled: true, exporter: exporter ?? "otlp", protocol };
}

/**
 * Span attributes of an MCP request body (OpenTelemetry's MCP conventions): the method and
 * the tool or prompt name or resource URI of a single message; a batch's size only.
 */
export function mcpAttributes(
  calls: readonly { method: string; kind?: string | undefined; name?: string | undefined }[],
): SpanAttributes {
  if (calls.length !== 1) return { "mcp_proxy.jsonrpc.batch_size": calls.length };
  const [call] = calls as [(typeof calls)[number]];
  if (!call.method) return {}; // a response to the server
  const attributes: SpanAttributes = { "mcp.method.name": call.method };
  if (call.name === undefined) return attributes;
  if (call.kind === "tool") attributes["gen_ai.tool.name"] = call.name;
  else if (call.kind === "prompt") attributes["gen_ai.prompt.name"] = call.name;
  else if (call.kind === "resource") attributes["mcp.resource.uri"] = call.name;
  return attributes;
}

/** The tracer, or undefined when tracing is off (then nothing of the SDK is loaded). */
export async function startTracing(config: Config["tracing"], logger: Logger): Promise<RequestTracer | undefined> {
  const settings = tracingSettings(config);
  if (!settings.enabled) {
    if (config.enabled === true) logger.info("tracing is off", { reason: settings.reason });
    return undefined;
  }
  const { createRequestTracer } = await import("./tracing-sdk.ts");
  const tracer = await createRequestTracer(settings, logger);
  logger.info("tracing is on", { exporter: settings.exporter, protocol: settings.protocol });
  return tracer;
}

/**
 * Runs fn as a span of the current request's trace, or just runs it when there is none:
 * `await inSpan("mcp_proxy.policy", () => decide(...))`.
 */
export function inSpan<T>(
  name: string,
  fn: () => Promise<T>,
  attributesOf?: (result: T) => SpanAttributes,
): Promise<T> {
  const trace = currentScope()?.trace;
  return trace ? trace.inSpan(name, fn, attributesOf) : fn();
}
