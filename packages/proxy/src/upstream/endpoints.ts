// The upstream endpoints: one MCP server, or several replicas of one (target.urls), or every
// address of a DNS name (target.discovery dns: a headless Service), re-resolved periodically.
// Each endpoint has its own connection pool, health probe and circuit breaker, so one pod
// that fails is left out while the others serve. A request that starts nothing stateful goes
// to the least loaded healthy endpoint (ties in turn); a session's requests go to the endpoint
// that owns it (mcp-session-binding.ts), found here by its key, or to none when it is gone.
// Plain requests (app.ts) and WebSocket upgrades (upgrades.ts) are routed by the same two
// methods: pinnedTo for a session's, pickOrRefuse for the others.
import { lookup } from "node:dns/promises";
import { isIPv6 } from "node:net";
import { Pool } from "undici";
import type { Config } from "../config/schema.ts";
import { ProxyError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import { redactUrl } from "../observability/redact.ts";
import { CircuitBreaker, type CircuitState } from "./circuit-breaker.ts";
import { type BackendStatus, HealthProbe } from "./health-probe.ts";
import type { SessionAdmission } from "./mcp-session-binding.ts";

/** All addresses of a host name; injected so tests can stand in for DNS. */
export type Resolver = (hostname: string) => Promise<string[]>;

const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true })).map((entry) => entry.address);

export class Endpoint {
  /** What names the endpoint in session records and metric labels: its URL without credentials. */
  readonly key: string;
  readonly url: URL;
  readonly pool: Pool;
  readonly breaker: CircuitBreaker;
  readonly probe: HealthProbe;
  /** The Host to send when the URL names an address found for a DNS name (the name itself). */
  readonly host: string | undefined;
  /** What request targets are sent under: the URL's path without its final "/" ("" for "/"). */
  readonly basePath: string;
  /** Requests (and streams) in flight here: what "least loaded" compares. */
  inFlight = 0;

  constructor(url: URL, target: Config["target"], on: EndpointEvents, host?: string) {
    this.url = url;
    this.key = redactUrl(url);
    this.host = host;
    this.basePath = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "");
    this.pool = new Pool(url.origin, {
      // No cap: a cap is reached by open streams, and then every request waits (docs/decisions/015).
      connections: null,
      connect: { timeout: target.connect_timeout, ...(host ? { servername: host.replace(/:\d+$/, "") } : {}) },
      keepAliveTimeout: 30_000,
      // Time for the MCP server to start answering; a live stream may then stay quiet.
      headersTimeout: target.response_timeout,
      bodyTimeout: 0,
    });
    this.breaker = new CircuitBreaker({
      failureThreshold: target.circuit_breaker.failure_threshold,
      resetTimeoutMs: target.circuit_breaker.reset_timeout,
      onChange: (state) => on.circuit(this, state),
    });
    this.probe = new HealthProbe({
      url: target.health_path ? new URL(target.health_path, url) : undefined,
      intervalMs: target.health_interval,
      timeoutMs: target.connect_timeout,
      onResult: (reachable) => {
        on.health(this, reachable);
        if (reachable && this.breaker.state !== "closed") this.breaker.recordSuccess();
      },
    });
  }

  /** Down: its last probe failed or its circuit is open (it may take a trial request then). */
  get usable(): boolean {
    return this.probe.status !== "unreachable" && this.breaker.allowRequest();
  }
}

interface EndpointEvents {
  health(endpoint: Endpoint, reachable: boolean): void;
  circuit(endpoint: Endpoint, state: CircuitState): void;
}

/** The URLs configured: target.urls, else target.url, else protocol://host:port. */
export function configuredUrls(target: Config["target"]): URL[] {
  if (target.urls.length > 0) return target.urls.map((url) => new URL(url));
  const host = isIPv6(target.host) ? `[${target.host}]` : target.host;
  return [new URL(target.url ?? `${target.protocol}://${host}:${target.port}`)];
}

/** The endpoint URL for one address of `base`'s host name. */
function addressUrl(base: URL, address: string): URL {
  const url = new URL(base.href);
  url.hostname = isIPv6(address) ? `[${address}]` : address;
  return url;
}

export class UpstreamEndpoints {
  /** Several endpoints (or a DNS name that may become several): sessions are pinned. */
  readonly pinsSessions: boolean;
  #endpoints = new Map<string, Endpoint>();
  #turn = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #target: Config["target"];
  readonly #metrics: ProxyMetrics;
  readonly #logger: Logger;
  readonly #resolve: Resolver;
  readonly #events: EndpointEvents;

  constructor(options: { target: Config["target"]; metrics: ProxyMetrics; logger: Logger; resolve?: Resolver }) {
    this.#target = options.target;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#resolve = options.resolve ?? systemResolver;
    this.pinsSessions = options.target.discovery === "dns" || options.target.urls.length > 1;
    this.#events = {
      health: (endpoint, reachable) => {
        if (this.pinsSessions) this.#metrics.backendEndpointUp.set({ endpoint: endpoint.key }, reachable ? 1 : 0);
        this.#metrics.backendUp.set(this.status() === "reachable" ? 1 : 0);
      },
      circuit: (endpoint, state) => {
        if (this.pinsSessions)
          this.#metrics.circuitEndpointOpen.set({ endpoint: endpoint.key }, state === "open" ? 1 : 0);
        // Unlabeled: 1 while no endpoint takes requests.
        const all = [...this.#endpoints.values()];
        this.#metrics.circuitState.set(all.every((e) => e.breaker.state === "open") ? 1 : 0);
        this.#logger.warn("circuit breaker changed state", { endpoint: endpoint.key, state });
      },
    };
    if (options.target.discovery === "static") {
      for (const url of configuredUrls(options.target)) this.#add(new Endpoint(url, this.#target, this.#events));
    }
  }

  /** The endpoints now, in the order they were found. */
  list(): Endpoint[] {
    return [...this.#endpoints.values()];
  }

  /** Resolves the DNS name (discovery dns) and starts the probes; the name is resolved again periodically. */
  async start(): Promise<void> {
    if (this.#target.discovery === "dns") {
      await this.refresh();
      this.#timer = setInterval(() => void this.refresh(), this.#target.dns_refresh_interval);
      this.#timer.unref();
    }
    for (const endpoint of this.#endpoints.values()) endpoint.probe.start();
  }

  /**
   * Resolves the DNS name again: new addresses become endpoints, vanished ones are dropped
   * (their sessions then get 404). A failed lookup keeps the endpoints as they are.
   */
  async refresh(): Promise<void> {
    const [base] = configuredUrls(this.#target) as [URL];
    let addresses: string[];
    try {
      addresses = [...new Set(await this.#resolve(base.hostname))];
    } catch (error) {
      this.#logger.warn("upstream DNS name did not resolve; keeping the endpoints known", {
        host: base.hostname,
        error: (error as Error).message,
      });
      return;
    }
    const found = new Map(addresses.map((address) => [redactUrl(addressUrl(base, address)), address]));
    for (const [key, endpoint] of this.#endpoints) {
      if (found.has(key)) continue;
      this.#remove(endpoint);
    }
    for (const [key, address] of found) {
      if (this.#endpoints.has(key)) continue;
      const endpoint = new Endpoint(addressUrl(base, address), this.#target, this.#events, base.host);
      this.#add(endpoint);
      if (this.#timer) endpoint.probe.start();
    }
  }

  /**
   * The endpoint for a request that starts nothing stateful: the least loaded usable one, ties
   * in turn. When every probe fails, any endpoint whose circuit lets a request through (a
   * probe path can fail while the MCP path works; the circuit breaker has the last word).
   */
  pick(): Endpoint | undefined {
    if (this.#endpoints.size === 1) {
      // One endpoint (the usual deployment): the same choice, without the arrays and the sort.
      const only = this.#endpoints.values().next().value as Endpoint;
      return only.usable || only.breaker.allowRequest() ? only : undefined;
    }
    const all = this.list();
    const start = this.#turn++ % Math.max(all.length, 1);
    const ordered = [...all.slice(start), ...all.slice(0, start)].sort((a, b) => a.inFlight - b.inFlight);
    return ordered.find((endpoint) => endpoint.usable) ?? ordered.find((endpoint) => endpoint.breaker.allowRequest());
  }

  /** pick, or 503 (with Retry-After) when every endpoint is failing. */
  pickOrRefuse(): Endpoint {
    const endpoint = this.pick();
    if (endpoint) return endpoint;
    this.#metrics.upstreamErrors.inc({ reason: "circuit_open" });
    throw new ProxyError("PROXY_ERROR", 503, "The MCP server is failing; requests are paused briefly", {
      details: { circuit: "open" },
      retryAfter: Math.ceil(this.#target.circuit_breaker.reset_timeout / 1000),
    });
  }

  /**
   * Where a request admitted to an MCP session must go: undefined when it is pinned to no
   * endpoint (one endpoint, or no session named: any will do), null when its endpoint is gone
   * or down (the session is lost with it: the caller forgets it and answers 404), else that endpoint.
   */
  pinnedTo(admission: SessionAdmission): Endpoint | null | undefined {
    if (admission.endpoint === undefined || admission.bound === undefined || !this.pinsSessions) return undefined;
    return this.owner(admission.endpoint) ?? null;
  }

  /** The endpoint that owns a session, when it is still there and up. */
  owner(key: string): Endpoint | undefined {
    const endpoint = this.#endpoints.get(key);
    return endpoint?.usable ? endpoint : undefined;
  }

  /** reachable when any endpoint answered its probe; unknown before the first answers. */
  status(): BackendStatus {
    const statuses = this.list().map((endpoint) => endpoint.probe.status);
    if (statuses.includes("reachable")) return "reachable";
    return statuses.includes("unknown") || statuses.length === 0 ? "unknown" : "unreachable";
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.list().map((endpoint) => this.#remove(endpoint)));
  }

  #add(endpoint: Endpoint): void {
    this.#endpoints.set(endpoint.key, endpoint);
    if (this.pinsSessions) this.#logger.info("upstream endpoint added", { endpoint: endpoint.key });
  }

  #remove(endpoint: Endpoint): Promise<void> {
    this.#endpoints.delete(endpoint.key);
    endpoint.probe.stop();
    if (this.pinsSessions) {
      this.#metrics.backendEndpointUp.remove({ endpoint: endpoint.key });
      this.#metrics.circuitEndpointOpen.remove({ endpoint: endpoint.key });
      this.#logger.info("upstream endpoint removed", { endpoint: endpoint.key });
    }
    return endpoint.pool.destroy();
  }
}
