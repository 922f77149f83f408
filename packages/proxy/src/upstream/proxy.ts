// Forwarding to the MCP server with http-proxy-middleware. Bodies are streamed both ways
// (no body parser runs before this), responses are piped with backpressure and never
// compressed, a client that goes away aborts the upstream request, and failures become the
// proxy's JSON errors. Nothing is retried: an MCP POST is not idempotent.
import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { createProxyMiddleware, proxyEventsPlugin, type RequestHandler } from "http-proxy-middleware";
import type { Config } from "../config/schema.ts";
import { errorBody, ProxyError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import { currentScope } from "../observability/request-scope.ts";
import type { CircuitBreaker } from "./circuit-breaker.ts";
import { isEventStream, keepStreamAlive, markUnbuffered } from "./event-stream.ts";

export function targetUrl(target: Config["target"]): URL {
  return new URL(target.url ?? `${target.protocol}://${target.host}:${target.port}`);
}

export interface UpstreamProxy {
  handler: RequestHandler;
  /** For the server's "upgrade" event, after authentication. */
  upgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  /** Responses still open (streams), ended on shutdown. */
  openResponses: Set<ServerResponse>;
  close(): void;
}

const CONNECT_ERRORS = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET"]);

function failureFor(error: NodeJS.ErrnoException, timedOut: boolean): { error: ProxyError; reason: string } {
  if (timedOut || error.code === "ETIMEDOUT") {
    return { error: new ProxyError("PROXY_ERROR", 504, "The MCP server did not answer in time"), reason: "timeout" };
  }
  if (error.code === "ECONNRESET") {
    return { error: new ProxyError("PROXY_ERROR", 502, "The MCP server closed the connection"), reason: "reset" };
  }
  return {
    error: new ProxyError("PROXY_ERROR", 502, "The MCP server is unreachable", {
      details: { reason: error.code ?? "unknown" },
    }),
    reason: "connect",
  };
}

export function createUpstreamProxy(options: {
  config: Config;
  breaker: CircuitBreaker;
  metrics: ProxyMetrics;
  logger: Logger;
}): UpstreamProxy {
  const { config, breaker, metrics, logger } = options;
  const target = targetUrl(config.target);
  const agentOptions = { keepAlive: true, maxSockets: 1024, maxFreeSockets: 256, timeout: 60_000 };
  const agent = target.protocol === "https:" ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const openResponses = new Set<ServerResponse>();
  const outgoing = new WeakMap<IncomingMessage, ClientRequest>();
  const timedOut = new WeakSet<IncomingMessage>();

  const handler = createProxyMiddleware({
    target: target.href,
    changeOrigin: true,
    xfwd: true,
    agent,
    ws: false,
    // Time until the upstream starts answering; lifted once a stream has begun (below).
    proxyTimeout: config.target.response_timeout,
    // Only the plugin that wires up `on:`; errors are answered by on.error below.
    ejectPlugins: true,
    plugins: [proxyEventsPlugin],
    on: {
      proxyReq(proxyReq, req) {
        outgoing.set(req, proxyReq);
        proxyReq.once("timeout", () => timedOut.add(req));
      },
      proxyRes(proxyRes, req, res) {
        breaker.recordSuccess();
        const response = res as ServerResponse;
        if (isEventStream(proxyRes.headers)) {
          markUnbuffered(proxyRes.headers);
          // A live stream may be quiet for long; the response timeout no longer applies.
          outgoing.get(req)?.setTimeout(0);
          keepStreamAlive(proxyRes, response, config.target.sse_keepalive_interval);
          metrics.activeStreams.inc();
          response.once("close", () => metrics.activeStreams.dec());
        }
        openResponses.add(response);
        response.once("close", () => openResponses.delete(response));
      },
      error(err, req, res) {
        const error = err as NodeJS.ErrnoException;
        const failure = failureFor(error, timedOut.has(req as IncomingMessage));
        if (CONNECT_ERRORS.has(error.code ?? "") || failure.reason === "timeout") breaker.recordFailure();
        metrics.upstreamErrors.inc({ reason: failure.reason });
        logger.warn("upstream request failed", { error: error.code ?? error.message, reason: failure.reason });
        if (!("setHeader" in res)) {
          (res as Socket).destroy();
          return;
        }
        const response = res as ServerResponse;
        if (response.headersSent) {
          response.destroy();
          return;
        }
        const requestId = currentScope()?.requestId ?? "";
        response.writeHead(failure.error.status, { "content-type": "application/json" });
        response.end(JSON.stringify(errorBody(failure.error, requestId)));
      },
    },
  });

  return {
    handler,
    upgrade: (req, socket, head) => handler.upgrade(req, socket, head),
    openResponses,
    close: () => agent.destroy(),
  };
}
