// The OpenTelemetry SDK behind RequestTracer, imported by tracing.ts only when tracing is on.
// Spans are made by hand at the steps the proxy knows (server, authentication, policy,
// upstream) with explicit parent contexts: no global context manager, no instrumentation that
// patches node:http or undici (docs/decisions/017-tracing.md). The W3C trace-context propagator
// reads the client's traceparent/tracestate and writes the upstream call's.
// Attributes are names and outcomes only: never a token, cookie, session id, query or user id.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import {
  type Context,
  DiagLogLevel,
  diag,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { getNumberFromEnv, getStringFromEnv, W3CTraceContextPropagator } from "@opentelemetry/core";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { VERSION } from "../version.ts";
import type { Logger } from "./logger.ts";
import type { RequestTrace, RequestTracer, SpanAttributes, TracingSettings, UpstreamTrace } from "./tracing.ts";

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};
const listSetter: TextMapSetter<string[]> = {
  set: (carrier, key, value) => {
    carrier.push(key, value);
  },
};

/** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the specification names them. */
function samplerFromEnv(): Sampler {
  const name = getStringFromEnv("OTEL_TRACES_SAMPLER") ?? "parentbased_always_on";
  const ratio = () => new TraceIdRatioBasedSampler(getNumberFromEnv("OTEL_TRACES_SAMPLER_ARG") ?? 1);
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio();
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio() });
    default:
      throw new Error(`OTEL_TRACES_SAMPLER: "${name}" is not supported`);
  }
}

/** The exporter reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout, compression) itself. */
async function exporterFor(settings: Extract<TracingSettings, { enabled: true }>): Promise<SpanExporter> {
  if (settings.exporter === "console") return new ConsoleSpanExporter();
  if (settings.protocol === "http/json") {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    return new OTLPTraceExporter();
  }
  const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-proto");
  return new OTLPTraceExporter();
}

/** The error's code (ProxyError, Node's errno) or its class name; never its message. */
function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && code) return code;
  return error instanceof Error ? error.name : "unknown";
}

function fail(span: Span, type: string): void {
  span.setAttribute("error.type", type);
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** What every span is made with: the tracer and the W3C propagator. */
interface Spans {
  tracer: Tracer;
  propagator: W3CTraceContextPropagator;
}

export async function createRequestTracer(
  settings: Extract<TracingSettings, { enabled: true }>,
  logger: Logger,
): Promise<RequestTracer> {
  logDiagnostics(logger);
  const provider = await tracerProvider(settings);
  const spans: Spans = {
    tracer: provider.getTracer("mcp-oidc-proxy", VERSION),
    propagator: new W3CTraceContextPropagator(),
  };
  return {
    headerNames: new Set(spans.propagator.fields()),
    start: (req, res, path, route) => startServerSpan(spans, req, res, path, route),
    async shutdown() {
      try {
        await provider.shutdown();
        diag.disable();
      } catch (error) {
        logger.warn("tracing: spans could not be exported at shutdown", { error: (error as Error).message });
      }
    },
  };
}

/** The SDK's own complaints (an unreachable collector) go to the proxy's log. */
function logDiagnostics(logger: Logger): void {
  diag.setLogger(
    {
      error: (message) => logger.warn(`tracing: ${message}`),
      warn: (message) => logger.warn(`tracing: ${message}`),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
}

async function tracerProvider(settings: Extract<TracingSettings, { enabled: true }>): Promise<TracerProvider> {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": "mcp-oidc-proxy", "service.version": VERSION }))
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the defaults.
    .merge(detectResources({ detectors: [envDetector] }));
  return new TracerProvider({
    resource,
    sampler: samplerFromEnv(),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: await exporterFor(settings),
        ...optionalNumber("scheduledDelayMillis", "OTEL_BSP_SCHEDULE_DELAY"),
        ...optionalNumber("exportTimeoutMillis", "OTEL_BSP_EXPORT_TIMEOUT"),
        ...optionalNumber("maxQueueSize", "OTEL_BSP_MAX_QUEUE_SIZE"),
        ...optionalNumber("maxExportBatchSize", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
      }),
    ],
  });
}

function startServerSpan(
  spans: Spans,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  route: string | undefined,
): RequestTrace {
  const method = req.method ?? "GET";
  const parent = spans.propagator.extract(ROOT_CONTEXT, req.headers, headerGetter);
  const attributes: SpanAttributes = { "http.request.method": method, "url.path": path };
  if (route !== undefined) attributes["http.route"] = route;
  const server = spans.tracer.startSpan(
    route ? `${method} ${route}` : method,
    { kind: SpanKind.SERVER, attributes },
    parent,
  );
  const context = trace.setSpan(parent, server);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    const status = res.headersSent ? res.statusCode : 499;
    server.setAttribute("http.response.status_code", status);
    if (status >= 500) fail(server, String(status));
    server.end();
  };
  res.once("close", end);
  return {
    traceId: server.spanContext().traceId,
    inSpan: (name, fn, attributesOf) => stepSpan(spans, context, name, fn, attributesOf),
    annotate: (more) => server.setAttributes(more),
    upstream: (upstreamMethod, target, upstreamPath) =>
      upstreamSpan(spans, context, upstreamMethod, target, upstreamPath),
    streamStarted: () => {
      server.setAttribute("mcp_proxy.event_stream", true);
      end();
    },
  };
}

async function stepSpan<T>(
  spans: Spans,
  parent: Context,
  name: string,
  fn: () => Promise<T>,
  attributesOf?: (result: T) => SpanAttributes,
): Promise<T> {
  const span = spans.tracer.startSpan(name, { kind: SpanKind.INTERNAL }, parent);
  try {
    const result = await fn();
    if (attributesOf) span.setAttributes(attributesOf(result));
    return result;
  } catch (error) {
    fail(span, errorType(error));
    throw error;
  } finally {
    span.end();
  }
}

function upstreamSpan(spans: Spans, parent: Context, method: string, target: URL, path: string): UpstreamTrace {
  const queryAt = path.indexOf("?");
  const span = spans.tracer.startSpan(
    method,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        "http.request.method": method,
        "server.address": target.hostname,
        "server.port": Number(target.port || (target.protocol === "https:" ? 443 : 80)),
        // The origin has no credentials; the query is left out like everywhere else.
        "url.full": `${target.origin}${queryAt === -1 ? path : path.slice(0, queryAt)}`,
      },
    },
    parent,
  );
  const headers: string[] = [];
  spans.propagator.inject(trace.setSpan(parent, span), headers, listSetter);
  let ended = false;
  const finish = (whenDone: () => void) => {
    if (ended) return;
    ended = true;
    whenDone();
    span.end();
  };
  return {
    headers,
    answered: (status) =>
      finish(() => {
        span.setAttribute("http.response.status_code", status);
        if (status >= 500) fail(span, String(status));
      }),
    failed: (type) => finish(() => fail(span, type)),
  };
}

function optionalNumber<K extends string>(key: K, variable: string): { [P in K]?: number } {
  const value = getNumberFromEnv(variable);
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}
