// Assembles a running proxy from a validated config: the derived values (config/resolve.ts),
// the session store, the upstream (endpoints, forwarder), the parts of the
// authentication mode (authentication.ts), the request handler (app.ts), upgrades
// (upgrades.ts), then the listeners, reload and shutdown (lifecycle.ts). Tests start it
// in-process on port 0.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Request } from "express";
import { createRequestHandler } from "./app.ts";
import { AccessPolicy } from "./auth/access-policy.ts";
import { type Authentication, startAuthentication } from "./authentication.ts";
import { listenUrl, type ResolvedConfig, resolveConfig, supportedScopes } from "./config/resolve.ts";
import type { Config } from "./config/schema.ts";
import {
  createReload,
  drainAndClose,
  type Listeners,
  type ReloadResult,
  type RestartNeeded,
  startListeners,
} from "./lifecycle.ts";
import { AuditLog } from "./mcp/audit-log.ts";
import { McpGuard } from "./mcp/mcp-guard.ts";
import { McpPolicy } from "./mcp/policy.ts";
import { createHostCheck } from "./middleware/host-check.ts";
import { createLogger, type Logger, type LogLevel } from "./observability/logger.ts";
import { createMetrics, type ProxyMetrics } from "./observability/metrics.ts";
import { redactUrl } from "./observability/redact.ts";
import { type RequestTracer, startTracing } from "./observability/tracing.ts";
import { ProxyCookies } from "./proxy-cookies.ts";
import { ProxyHeaders } from "./proxy-headers.ts";
import { createPublicUrlResolver } from "./public-url.ts";
import { createSessionBackend, type SessionBackend } from "./session/store.ts";
import { createUpgradeHandler } from "./upgrades.ts";
import { configuredUrls, type Resolver, UpstreamEndpoints } from "./upstream/endpoints.ts";
import { Forwarder } from "./upstream/forwarder.ts";
import { IdentityHeaders } from "./upstream/identity-headers.ts";
import { McpSessionBinding } from "./upstream/mcp-session-binding.ts";
import { recheckInterval, StreamRecheck } from "./upstream/stream-recheck.ts";
import type { createUpgradeRelay } from "./upstream/websocket.ts";
import { VERSION } from "./version.ts";

export interface RunningProxy {
  /** Where the proxy listens, e.g. http://127.0.0.1:41234 */
  url: string;
  metricsUrl: string | undefined;
  logger: Logger;
  /** Applies what can change without a restart; returns what was applied and what waits for a restart (and why). */
  reload(next: Config): ReloadResult;
  /** Stops accepting, ends streams, waits for open requests up to the shutdown timeout. */
  shutdown(): Promise<void>;
}

/**
 * The session secrets, newest first; a random one when none is configured, with a warning
 * when something signs or seals with it (oidc mode: in bypass mode nothing does).
 */
function sessionSecrets(config: Config, logger: Logger, used: boolean): [string, ...string[]] {
  const [first, ...rest] = config.session.secret ?? [];
  if (first !== undefined) return [first, ...rest];
  if (used) logger.warn("session.secret is not set: using a random one, so sessions end when the proxy restarts");
  return [randomBytes(32).toString("base64url")];
}

/**
 * How long startup waits for the session store and discovery's first attempt before it
 * listens without them (not ready until they answer): a Redis or provider that is down or
 * silent must not keep the proxy from listening (decision 040).
 */
const DEPENDENCY_WAIT_MS = 1000;

/** Resolves once the store is reached and discovery's first attempt is over, or after DEPENDENCY_WAIT_MS. */
async function dependenciesOrDeadline({ sessions, auth }: Assembly): Promise<void> {
  const waits = [sessions?.connected, auth.mode === "oidc" ? auth.upstream.firstAttempt() : undefined];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, DEPENDENCY_WAIT_MS);
  });
  await Promise.race([Promise.all(waits), deadline]);
  clearTimeout(timer);
}

/** The MCP server behind the proxy: its endpoints (health, breaker each), forwarder and WebSocket relay. */
function upstreamParts(
  resolved: ResolvedConfig,
  metrics: ProxyMetrics,
  logger: Logger,
  proxyNames: { headers: ProxyHeaders; cookies: ProxyCookies },
  options: { tracer: RequestTracer | undefined; resolve: Resolver | undefined },
) {
  const { config } = resolved;
  const { tracer } = options;
  const endpoints = new UpstreamEndpoints({
    target: config.target,
    metrics,
    logger,
    ...(options.resolve ? { resolve: options.resolve } : {}),
  });
  const target = configuredUrls(config.target)[0] as URL;
  const headerParts = {
    ...(tracer ? { traceHeaders: tracer.headerNames } : {}),
    ...proxyNames,
    identity: new IdentityHeaders(config.headers),
    publicHost: resolved.publicHost,
  };
  const forwarder = new Forwarder({ config, metrics, logger, headerParts });
  const relayUpgrade = lazyUpgradeRelay(target, logger, headerParts);
  return { target, endpoints, forwarder, relayUpgrade };
}

/**
 * The upgrade relay, loaded at the first upgrade: http-proxy-middleware and its dependencies
 * (~0.4 MiB of heap and source) serve only WebSockets, which most MCP servers never see
 * (decision 031). The upgrade already waits for authentication, so one more wait is no change.
 */
function lazyUpgradeRelay(...args: Parameters<typeof createUpgradeRelay>) {
  let relay: Promise<ReturnType<typeof createUpgradeRelay>> | undefined;
  return async (...upgrade: Parameters<ReturnType<typeof createUpgradeRelay>>): Promise<void> => {
    relay ??= import("./upstream/websocket.ts").then((module) => module.createUpgradeRelay(...args));
    (await relay)(...upgrade);
  };
}

/** Origins and scheme of the public URL: fixed when configured, else as the request came. */
function publicFacing(resolved: ResolvedConfig) {
  const publicUrl = createPublicUrlResolver(resolved.config.server);
  const { fixedOrigins, extraOrigins, publicProtocol: fixedProtocol } = resolved;
  return {
    publicUrl,
    allowedOrigins: (req: IncomingMessage): ReadonlySet<string> =>
      fixedOrigins ?? new Set([publicUrl(req as Request).origin, ...extraOrigins]),
    publicProtocol: (req: IncomingMessage) => fixedProtocol ?? publicUrl(req as Request).protocol.slice(0, -1),
  };
}

/** The fields of the request handler that come from the authentication mode. */
function authParts(auth: Authentication) {
  if (auth.mode === "bypass") {
    const none = { sessionMiddleware: undefined, login: undefined, protectedResource: undefined };
    return { ...none, authorizationServer: undefined, bypassUser: auth.user };
  }
  return {
    sessionMiddleware: auth.sessionMiddleware,
    login: auth.login,
    bypassUser: undefined,
    protectedResource: auth.mcp?.protectedResource,
    authorizationServer: auth.mcp?.authorizationServer,
  };
}

/** The assembled parts a running proxy is made of. */
interface Assembly {
  resolved: ResolvedConfig;
  logger: Logger;
  metrics: ProxyMetrics;
  /** The clock by which the audit file is retried (a test's; else Date.now). */
  auditClock: (() => number) | undefined;
  headers: ProxyHeaders;
  upstream: ReturnType<typeof upstreamParts>;
  facing: ReturnType<typeof publicFacing>;
  hostCheck: ReturnType<typeof createHostCheck>;
  sessions: SessionBackend | undefined;
  /** Each MCP session's creator and, with several endpoints, its endpoint. */
  mcpSessions: McpSessionBinding | undefined;
  auth: Authentication;
  /** OpenTelemetry tracing, when on. */
  tracer: RequestTracer | undefined;
  /** oidc mode: ends open event streams and upgraded connections whose credential has ended. */
  streamRecheck: StreamRecheck | undefined;
  /** What changes on reload (config: the sections reloaded so far). */
  state: {
    config: Config;
    policy: AccessPolicy;
    mcpPolicy: McpPolicy;
    auditLog: AuditLog | undefined;
    shuttingDown: boolean;
  };
}

/**
 * The audit trail of MCP requests, when mcp_policy.audit is on. Its file turning unwritable
 * (and writable again) is logged and shown by mcp_proxy_audit_writable (0 only then).
 */
function auditLogFor(
  audit: Config["mcp_policy"]["audit"],
  { logger, metrics, auditClock }: Pick<Assembly, "logger" | "metrics" | "auditClock">,
): AuditLog | undefined {
  metrics.auditWritable.set(1);
  if (!audit.enabled) return undefined;
  const onProblem = (problem: string | undefined) => {
    metrics.auditWritable.set(problem === undefined ? 1 : 0);
    if (problem === undefined) return;
    metrics.auditFailures.inc();
    logger.error("the MCP audit trail cannot be written: MCP POSTs are refused (503) until it can", { problem });
  };
  return new AuditLog({
    output: audit.output,
    argumentsKey: audit.arguments_key,
    onProblem,
    ...(auditClock ? { now: auditClock } : {}),
  });
}

async function assemble(resolved: ResolvedConfig, logger: Logger, options: StartOptions): Promise<Assembly> {
  const { resolve, auditClock } = options;
  const { config } = resolved;
  // Several endpoints pin MCP sessions in the store in every auth mode, bypass included.
  const pinsSessions = config.target.discovery === "dns" || config.target.urls.length > 1;
  const oidc = resolved.auth.mode === "oidc";
  const secrets = sessionSecrets(config, logger, oidc);
  const sessions = oidc || pinsSessions ? await createSessionBackend(config, logger, secrets) : undefined;
  const mcpSessions = sessions
    ? new McpSessionBinding({
        store: sessions.keyValue,
        ttlMs: config.session.ttl,
        cacheTtlMs: config.session.cache_ttl,
      })
    : undefined;
  const metrics = createMetrics({
    countSessions: () => (oidc ? sessions?.countSessions() : undefined) ?? Promise.resolve(0),
    ...(pinsSessions ? { countUpstreamSessions: () => mcpSessions?.pinnedCounts() ?? new Map() } : {}),
  });
  const headers = new ProxyHeaders(config.headers, config.server.trust_proxy);
  const cookies = new ProxyCookies(config);
  // Off unless configured; the SDK is imported only then (observability/tracing.ts).
  const tracer = await startTracing(config.tracing, logger);
  const upstream = upstreamParts(resolved, metrics, logger, { headers, cookies }, { tracer, resolve });
  const facing = publicFacing(resolved);
  const state = {
    config,
    policy: new AccessPolicy(config.access),
    mcpPolicy: new McpPolicy(config.mcp_policy),
    auditLog: auditLogFor(config.mcp_policy.audit, { logger, metrics, auditClock }),
    shuttingDown: false,
  };
  const auth = await startAuthentication(sessions, {
    resolved,
    logger,
    metrics,
    cookies,
    publicUrl: facing.publicUrl,
    secrets,
    policy: () => state.policy,
  });
  const hostCheck = createHostCheck(config.server);
  const streamRecheck =
    auth.mode === "oidc"
      ? new StreamRecheck({
          streams: upstream.forwarder.openStreams,
          upgrades: upstream.forwarder.openUpgrades,
          authenticate: (req, path) => auth.authenticator.authenticate(req, path),
          intervalMs: recheckInterval(config.session.cache_ttl),
          logger,
        })
      : undefined;
  return {
    resolved,
    logger,
    metrics,
    auditClock,
    headers,
    upstream,
    facing,
    hostCheck,
    sessions,
    mcpSessions,
    auth,
    tracer,
    streamRecheck,
    state,
  };
}

/** Readiness: not while shutting down, before the provider is discovered, or while the store is silent. */
function notReadyReasons({ state, auth, sessions }: Assembly): () => Promise<string[]> {
  return async () => {
    const reasons: string[] = [];
    if (state.shuttingDown) reasons.push("shutting down");
    if (auth.mode === "oidc" && !auth.upstream.isReady()) reasons.push("identity provider not discovered");
    // Asked at each probe: a connected Redis that does not answer (paused, overloaded) is not ready either.
    if (sessions && !(await sessions.answers())) reasons.push("session store unavailable");
    // Fail closed (decision 049): MCP POSTs are refused while their audit lines cannot be written.
    const audit = state.auditLog?.problem();
    if (audit !== undefined) reasons.push(`audit trail unwritable: ${audit}`);
    return reasons;
  };
}

/** The request handler and the upgrade listener over the assembled parts. */
function handlersOf(parts: Assembly) {
  const { resolved, logger, metrics, headers, upstream, facing, hostCheck, mcpSessions, auth, state } = parts;
  const { config } = resolved;
  const { allowedOrigins, publicProtocol } = facing;
  const operations = {
    version: VERSION,
    startedAt: Date.now(),
    backendStatus: () => upstream.endpoints.status(),
    notReadyReasons: notReadyReasons(parts),
  };
  const mcpGuard = new McpGuard({
    policy: () => state.mcpPolicy,
    audit: () => state.auditLog,
    metrics,
    maxBodyBytes: () => state.config.mcp_policy.max_body_size,
    maxBatchSize: () => state.config.mcp_policy.max_batch_size,
    maxListBytes: () => state.config.mcp_policy.max_list_size,
    protectedResource: authParts(auth).protectedResource,
  });
  const handler = createRequestHandler({
    config,
    logger,
    metrics,
    operations,
    allowedOrigins,
    hostCheck,
    headers,
    publicProtocol,
    ...authParts(auth),
    authenticator: auth.authenticator,
    upstream: upstream.endpoints,
    forwarder: upstream.forwarder,
    mcpSessions,
    mcpGuard,
    tracer: parts.tracer,
  });
  const onUpgrade = createUpgradeHandler({
    headers,
    hostCheck,
    allowedOrigins,
    authenticator: auth.authenticator,
    publicProtocol,
    relay: upstream.relayUpgrade,
    endpoints: upstream.endpoints,
    forwarder: upstream.forwarder,
    mcpGuard,
    mcpSessions,
  });
  return { handler, onUpgrade };
}

/**
 * A policy whose rules change the scopes the proxy supports waits for a restart (decision
 * 048): the metadata documents and the authorization server's scopes are fixed at start, so
 * a new scope would be asked for in challenges but never granted, and a removed one still
 * advertised.
 */
function scopeChangeRefusal(current: Config, next: Config): RestartNeeded | undefined {
  const before = new Set(supportedScopes(current));
  const after = new Set(supportedScopes({ ...current, mcp_policy: next.mcp_policy }));
  const added = [...after].filter((scope) => !before.has(scope));
  const removed = [...before].filter((scope) => !after.has(scope));
  if (added.length + removed.length === 0) return undefined;
  const change = [
    ...(added.length > 0 ? [`adds ${added.join(", ")}`] : []),
    ...(removed.length > 0 ? [`removes ${removed.join(", ")}`] : []),
  ].join(" and ");
  return {
    restart: `the new mcp_policy ${change} in its rules' scopes; the scopes the metadata advertises and the authorization server grants are fixed at start, so the running policy is kept: restart to apply it`,
  };
}

/** SIGHUP: logging level, access rules and the MCP policy change without a restart. */
function reloadOf({ logger, metrics, state, auditClock }: Assembly): RunningProxy["reload"] {
  const reloadSections = createReload(state.config, {
    logging: (next, current) => {
      if (next.logging.level === current.logging.level) return [];
      logger.level = next.logging.level as LogLevel;
      return ["logging.level"];
    },
    access: (next) => {
      state.policy = new AccessPolicy(next.access);
      state.config = { ...state.config, access: next.access };
      return ["access"];
    },
    mcp_policy: (next, current) => {
      const refused = scopeChangeRefusal(current, next);
      if (refused) return refused;
      state.mcpPolicy = new McpPolicy(next.mcp_policy);
      state.config = { ...state.config, mcp_policy: next.mcp_policy };
      return ["mcp_policy"];
    },
  });
  return (next) => {
    const result = reloadSections(next);
    // Reopened on every reload, so a rotated audit file is let go (as with SIGHUP in logrotate);
    // with the policy in force (a refused one keeps its audit settings too).
    const previousAudit = state.auditLog;
    state.auditLog = auditLogFor(state.config.mcp_policy.audit, { logger, metrics, auditClock });
    previousAudit?.close();
    return result;
  };
}

function runningProxy(parts: Assembly, listeners: Listeners): RunningProxy {
  const { logger, state, upstream, auth, sessions } = parts;
  return {
    url: listeners.url,
    metricsUrl: listeners.metricsUrl,
    logger,
    reload: reloadOf(parts),
    async shutdown() {
      if (state.shuttingDown) return;
      state.shuttingDown = true;
      await drainAndClose({
        listeners,
        openStreams: upstream.forwarder.openStreams,
        openUpgrades: upstream.forwarder.openUpgrades,
        timeoutMs: state.config.server.shutdown_timeout,
        logger,
        closers: [
          () => parts.streamRecheck?.stop(),
          () => (auth.mode === "oidc" ? auth.upstream.stop() : undefined),
          () => (auth.mode === "oidc" ? auth.mcp?.authorizationServer?.close() : undefined),
          () => upstream.endpoints.close(),
          () => sessions?.close(),
          () => state.auditLog?.close(),
          // Last: every request has ended, so every span has; the buffered ones are exported now.
          () => parts.tracer?.shutdown(),
        ],
      });
    },
  };
}

export interface StartOptions {
  logger?: Logger;
  resolve?: Resolver;
  /** The clock by which an unwritable audit file is retried (tests turn it on). */
  auditClock?: () => number;
}

export async function startProxy(config: Config, options: StartOptions = {}): Promise<RunningProxy> {
  const resolved = resolveConfig(config);
  const logger = options.logger ?? createLogger(config.logging.level, config.logging.format);
  const parts = await assemble(resolved, logger, options);
  const { handler, onUpgrade } = handlersOf(parts);
  // Before listening: with discovery dns the endpoints are known once the name is resolved.
  await parts.upstream.endpoints.start();
  await dependenciesOrDeadline(parts);
  const listeners = await startListeners(config, handler, onUpgrade, parts.metrics);
  logger.info("mcp-oidc-proxy listening", {
    url: listeners.url,
    public_url: config.server.public_url ?? listenUrl(config.server),
    target: parts.upstream.endpoints.pinsSessions
      ? parts.upstream.endpoints.list().map((e) => e.key)
      : redactUrl(parts.upstream.target),
    auth_mode: config.auth.mode,
    mcp_auth_mode: config.mcp_auth.mode,
    session_store: parts.sessions?.kind ?? "none",
    version: VERSION,
  });
  const missing = await notReadyReasons(parts)();
  if (missing.length > 0) {
    logger.warn("not ready yet: waiting in the background, answering 503 until then", { waiting_for: missing });
  }
  return runningProxy(parts, listeners);
}
