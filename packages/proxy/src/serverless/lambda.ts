// AWS Lambda: the proxy behind API Gateway (HTTP API payload 2.0, REST API payload 1.0) or a
// Lambda function URL. The whole proxy starts once per execution environment on a loopback
// port, configured from the function's environment (and MCP_CONFIG_FILE); each event becomes
// one HTTP request to it, so every check runs exactly as on a server.
//
// Two handlers:
// - `handler` buffers the answer (API Gateway). A GET event stream cannot be buffered, so it
//   is answered 405, which the MCP spec lets clients expect; POST answers sent as SSE end with
//   the response and are returned whole.
// - `streamingHandler` (a function URL with InvokeMode RESPONSE_STREAM) writes the answer as it
//   comes, with backpressure: SSE, progress notifications and long tool calls stream through.
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2,
  APIGatewayProxyResult,
  APIGatewayProxyStructuredResultV2,
} from "aws-lambda";
import { type Dispatcher, request as httpRequest } from "undici";
import type { Config } from "../config/schema.ts";
import { type RunningProxy, startProxy } from "../proxy-server.ts";
import { loadConfigWithSecrets } from "../secrets/resolve.ts";

export type LambdaEvent = APIGatewayProxyEventV2 | APIGatewayProxyEvent;

/** Headers API Gateway and the function URL manage themselves (the proxy behind has already dropped hop-by-hop ones). */
const GATEWAY_MANAGED = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"]);
const TEXT_TYPES = /^(text\/|application\/(json|javascript|xml|x-www-form-urlencoded)|image\/svg)/;

interface HttpRequest {
  method: string;
  /** Path and query, e.g. /mcp?x=1 */
  url: string;
  headers: Headers;
  body: Buffer | undefined;
}

function isV2(event: LambdaEvent): event is APIGatewayProxyEventV2 {
  return (event as APIGatewayProxyEventV2).version === "2.0";
}

/** The HTTP request an API Gateway or function URL event describes. */
export function requestFromEvent(event: LambdaEvent): HttpRequest {
  const headers = new Headers();
  let method: string;
  let url: string;
  if (isV2(event)) {
    method = event.requestContext.http.method;
    url = `${event.rawPath}${event.rawQueryString ? `?${event.rawQueryString}` : ""}`;
    for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) headers.set(name, value);
    // Payload 2.0 moves cookies out of the headers.
    if (event.cookies?.length) headers.set("cookie", event.cookies.join("; "));
  } else {
    method = event.httpMethod;
    const query = new URLSearchParams();
    for (const [name, values] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
      for (const value of values ?? []) query.append(name, value);
    }
    if (!event.multiValueQueryStringParameters) {
      for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
        if (value !== undefined) query.append(name, value);
      }
    }
    url = `${event.path}${query.size > 0 ? `?${query}` : ""}`;
    for (const [name, values] of Object.entries(event.multiValueHeaders ?? {})) {
      for (const value of values ?? []) headers.append(name, value);
    }
    if (!event.multiValueHeaders) {
      for (const [name, value] of Object.entries(event.headers ?? {}))
        if (value !== undefined) headers.set(name, value);
    }
  }
  const body =
    event.body === undefined || event.body === null
      ? undefined
      : Buffer.from(event.body, event.isBase64Encoded ? "base64" : "utf8");
  return { method, url, headers, body };
}

/**
 * Loads the configuration from the function's environment (secrets from AWS Secrets Manager
 * or Vault included): loopback only, the port chosen at start.
 */
export async function lambdaConfig(env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const file = env.MCP_CONFIG_FILE;
  const { loaded } = await loadConfigWithSecrets({ env, ...(file ? { file } : {}) });
  return { ...loaded.config, server: { ...loaded.config.server, host: "127.0.0.1", port: 0 } };
}

export interface LambdaProxy {
  handler(event: LambdaEvent): Promise<APIGatewayProxyStructuredResultV2 | APIGatewayProxyResult>;
  streamingHandler(event: LambdaEvent, responseStream: Writable): Promise<void>;
  close(): Promise<void>;
}

/** Response headers as Lambda wants them: Set-Cookie apart, the rest single-valued. */
function responseHeaders(response: Dispatcher.ResponseData) {
  const headers: Record<string, string> = {};
  let cookies: string[] = [];
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined || GATEWAY_MANAGED.has(name)) continue;
    if (name === "set-cookie") cookies = Array.isArray(value) ? value : [value];
    else headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return { headers, cookies };
}

/** A whole response as the event's API Gateway version wants it (text as is, the rest base64). */
async function bufferedResult(
  event: LambdaEvent,
  response: Dispatcher.ResponseData,
): Promise<APIGatewayProxyStructuredResultV2 | APIGatewayProxyResult> {
  const { headers, cookies } = responseHeaders(response);
  const raw = Buffer.from(await response.body.arrayBuffer());
  const text = TEXT_TYPES.test(headers["content-type"] ?? "text/plain");
  const body = text ? raw.toString("utf8") : raw.toString("base64");
  if (isV2(event)) {
    return { statusCode: response.statusCode, headers, cookies, body, isBase64Encoded: !text };
  }
  return {
    statusCode: response.statusCode,
    headers,
    ...(cookies.length > 0 ? { multiValueHeaders: { "set-cookie": cookies } } : {}),
    body,
    isBase64Encoded: !text,
  };
}

export function createLambdaProxy(configure: () => Config | Promise<Config> = lambdaConfig): LambdaProxy {
  // Started on the first event and kept for the life of the execution environment.
  let running: Promise<RunningProxy> | undefined;
  const proxy = () => {
    running ??= Promise.resolve()
      .then(configure)
      .then((config) => startProxy(config))
      .catch((error: unknown) => {
        running = undefined;
        throw error;
      });
    return running;
  };

  /** The request, as sent to the proxy: exactly the client's headers (fetch would add its own). */
  async function send(request: HttpRequest): Promise<Dispatcher.ResponseData> {
    const { url } = await proxy();
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      if (!GATEWAY_MANAGED.has(name)) headers[name] = value;
    });
    const body = request.method === "GET" || request.method === "HEAD" ? undefined : request.body;
    return httpRequest(`${url}${request.url}`, {
      method: request.method as Dispatcher.HttpMethod,
      headers,
      ...(body ? { body } : {}),
    });
  }

  return {
    async handler(event) {
      const request = requestFromEvent(event);
      if (request.method === "GET" && request.headers.get("accept")?.includes("text/event-stream")) {
        return {
          statusCode: 405,
          headers: { "content-type": "application/json", allow: "POST, DELETE" },
          body: JSON.stringify({
            error: { code: "BAD_REQUEST", message: "Event streams need the streaming function URL; use POST" },
          }),
        };
      }
      return bufferedResult(event, await send(request));
    },

    async streamingHandler(event, responseStream) {
      const response = await send(requestFromEvent(event));
      const { headers, cookies } = responseHeaders(response);
      const stream = awslambda.HttpResponseStream.from(responseStream, {
        statusCode: response.statusCode,
        headers,
        cookies,
      });
      // pipeline waits for the client (backpressure) and, if it goes away, ends the request.
      await pipeline(response.body, stream);
    },

    async close() {
      const started = running;
      running = undefined;
      await (await started)?.shutdown();
    },
  };
}
