// The proxy's metrics, one registry per proxy instance (tests run several in one process).
// Names are mcp_proxy_*; the alert rules and the dashboard in deployments/monitoring rely on them.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface ProxyMetrics {
  registry: Registry;
  requestsTotal: Counter<"method" | "status">;
  requestDuration: Histogram<"method">;
  activeSessions: Gauge;
  activeStreams: Gauge;
  streamsRefused: Counter;
  streamsShed: Counter;
  /** Unlabeled: any endpoint up; with several endpoints also one series per endpoint. */
  backendUp: Gauge;
  backendEndpointUp: Gauge<"endpoint">;
  upstreamSessions: Gauge<"endpoint">;
  authAttempts: Counter<"result">;
  sessionEvents: Counter<"event">;
  upstreamErrors: Counter<"reason">;
  circuitState: Gauge;
  circuitEndpointOpen: Gauge<"endpoint">;
  mcpRequests: Counter<"method" | "name" | "decision">;
  auditWritable: Gauge;
  auditFailures: Counter;
}

interface MetricsOptions {
  /** Undefined: not known (the store has not answered yet); the gauge keeps its value. */
  countSessions: () => Promise<number | undefined>;
  /** MCP sessions pinned through this replica, by endpoint (those it knows of: bound here, not yet ended or expired). */
  countUpstreamSessions?: () => Map<string, number>;
}

type RequestMetrics = Omit<ProxyMetrics, "registry" | UpstreamMetricNames>;
type UpstreamMetricNames =
  | "backendUp"
  | "backendEndpointUp"
  | "upstreamSessions"
  | "upstreamErrors"
  | "circuitState"
  | "circuitEndpointOpen";

export function createMetrics(options: MetricsOptions): ProxyMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return { registry, ...requestMetrics(registry, options), ...upstreamMetrics(registry, options) };
}

/** What clients asked for and how it went: requests, sessions, streams, sign-ins, MCP calls. */
function requestMetrics(registry: Registry, options: MetricsOptions): RequestMetrics {
  return {
    requestsTotal: new Counter({
      name: "mcp_proxy_requests_total",
      help: "HTTP requests answered by the proxy, by method and status code",
      labelNames: ["method", "status"],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: "mcp_proxy_request_duration_seconds",
      help: "Time until the response headers were sent (streams are not timed to their end)",
      labelNames: ["method"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    activeSessions: new Gauge({
      name: "mcp_proxy_active_sessions",
      help: "Signed-in sessions held in the session store",
      registers: [registry],
      async collect() {
        try {
          const count = await options.countSessions();
          if (count !== undefined) this.set(count);
        } catch {
          // The store is unreachable: keep the last value; mcp_proxy_up-style alerts cover it.
        }
      },
    }),
    activeStreams: new Gauge({
      name: "mcp_proxy_active_streams",
      help: "Event streams (SSE) and WebSocket upgrades currently relayed to clients",
      registers: [registry],
    }),
    streamsRefused: new Counter({
      name: "mcp_proxy_streams_refused_total",
      help: "Event streams and WebSocket upgrades refused (429) because the user already held target.max_streams_per_user",
      registers: [registry],
    }),
    streamsShed: new Counter({
      name: "mcp_proxy_streams_shed_total",
      help: "Event streams refused (503) because the proxy was near its memory limit (V8's heap or the container's)",
      registers: [registry],
    }),
    authAttempts: new Counter({
      name: "mcp_proxy_auth_attempts_total",
      help: "Authentication outcomes: login_started, login_succeeded, login_failed, unauthenticated, forbidden",
      labelNames: ["result"],
      registers: [registry],
    }),
    sessionEvents: new Counter({
      name: "mcp_proxy_session_events_total",
      help: "Session lifecycle: created, refreshed, refresh_failed, destroyed",
      labelNames: ["event"],
      registers: [registry],
    }),
    mcpRequests: new Counter({
      name: "mcp_proxy_mcp_requests_total",
      help: "JSON-RPC requests judged by the MCP policy, by method, tool/resource/prompt name (bounded: others are _other) and decision",
      labelNames: ["method", "name", "decision"],
      registers: [registry],
    }),
    auditWritable: new Gauge({
      name: "mcp_proxy_audit_writable",
      help: "1 while the MCP audit trail (mcp_policy.audit) can be written; 0 while MCP POSTs are refused (503) for it",
      registers: [registry],
    }),
    auditFailures: new Counter({
      name: "mcp_proxy_audit_failures_total",
      help: "Times the MCP audit file was found unwritable or deleted (each starts a spell of 503s until it is reopened)",
      registers: [registry],
    }),
  };
}

/** The MCP server's side: health, circuit breakers and pinned sessions, per endpoint too. */
function upstreamMetrics(registry: Registry, options: MetricsOptions): Pick<ProxyMetrics, UpstreamMetricNames> {
  return {
    backendUp: new Gauge({
      name: "mcp_proxy_backend_up",
      help: "1 when the MCP server answered the last health probe, 0 when it did not (several endpoints: any did)",
      registers: [registry],
    }),
    // Per endpoint under its own name, so the seed's BackendDown (mcp_proxy_backend_up == 0)
    // keeps meaning "this proxy reaches no MCP server" when one replica of several is down.
    backendEndpointUp: new Gauge({
      name: "mcp_proxy_backend_endpoint_up",
      help: "1 when this upstream endpoint answered the last health probe, 0 when it did not (several endpoints only)",
      labelNames: ["endpoint"],
      registers: [registry],
    }),
    upstreamSessions: new Gauge({
      name: "mcp_proxy_upstream_sessions",
      help: "MCP sessions pinned to each upstream endpoint by this proxy replica (several endpoints only)",
      labelNames: ["endpoint"],
      registers: [registry],
      collect() {
        const counts = options.countUpstreamSessions?.();
        if (!counts) return;
        this.reset();
        for (const [endpoint, count] of counts) this.set({ endpoint }, count);
      },
    }),
    upstreamErrors: new Counter({
      name: "mcp_proxy_upstream_errors_total",
      help: "Failed upstream requests by reason: connect, timeout, reset, circuit_open",
      labelNames: ["reason"],
      registers: [registry],
    }),
    circuitState: new Gauge({
      name: "mcp_proxy_circuit_breaker_open",
      help: "1 while the circuit breaker to the MCP server is open (several endpoints: to every one)",
      registers: [registry],
    }),
    circuitEndpointOpen: new Gauge({
      name: "mcp_proxy_circuit_breaker_endpoint_open",
      help: "1 while the circuit breaker to this upstream endpoint is open (several endpoints only)",
      labelNames: ["endpoint"],
      registers: [registry],
    }),
  };
}
