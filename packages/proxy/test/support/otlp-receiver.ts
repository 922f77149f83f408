// An OTLP/HTTP trace receiver for tests: a node:http server on loopback that accepts what an
// OpenTelemetry exporter posts to /v1/traces with the JSON protocol (http/json) and keeps the
// raw bodies (to search for what must never be exported) and the spans, flattened. Protobuf
// exports (http/protobuf) are kept raw only: the exporter packages ship no decoder.
import http from "node:http";
import type { AddressInfo } from "node:net";

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}

export interface ReceivedSpan {
  name: string;
  /** 1 internal, 2 server, 3 client (OTLP SpanKind). */
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, string | number | boolean>;
  /** 2 = error (OTLP StatusCode). */
  status: number;
  service: string | undefined;
}

export interface OtlpReceiver {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  bodies: string[];
  /** The same bodies as received (protobuf ones are not decoded). */
  raw: Buffer[];
  spans: ReceivedSpan[];
  contentTypes: string[];
  close(): Promise<void>;
}

interface ExportRequest {
  resourceSpans: {
    resource?: { attributes?: { key: string; value: OtlpValue }[] };
    scopeSpans: {
      spans: {
        name: string;
        kind: number;
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        attributes?: { key: string; value: OtlpValue }[];
        status?: { code?: number };
      }[];
    }[];
  }[];
}

const otlpValue = (value: OtlpValue) =>
  value.stringValue ?? value.boolValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.doubleValue);

function attributesOf(list: { key: string; value: OtlpValue }[] | undefined) {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    const v = otlpValue(value);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bodies: string[] = [];
  const raw: Buffer[] = [];
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      raw.push(Buffer.concat(chunks));
      const body = Buffer.concat(chunks).toString("utf8");
      contentTypes.push(req.headers["content-type"] ?? "");
      bodies.push(body);
      if (req.url === "/v1/traces" && req.headers["content-type"]?.startsWith("application/json")) {
        const parsed = JSON.parse(body) as ExportRequest;
        for (const resourceSpans of parsed.resourceSpans) {
          const service = attributesOf(resourceSpans.resource?.attributes)["service.name"];
          for (const scope of resourceSpans.scopeSpans) {
            for (const span of scope.spans) {
              spans.push({
                name: span.name,
                kind: span.kind,
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId || undefined,
                attributes: attributesOf(span.attributes),
                status: span.status?.code ?? 0,
                service: typeof service === "string" ? service : undefined,
              });
            }
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    raw,
    spans,
    contentTypes,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
