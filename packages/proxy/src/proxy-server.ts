// Assembles a running proxy from a validated config: session store, provider, upstream,
// the request handler, the HTTP server (and upgrades), a metrics listener, reload and
// graceful shutdown. Tests start it in-process on port 0.
import { randomBytes } from "node:crypto";
import http, { type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Request } from "express";
import express from "express";
import session from "express-session";
import { createRequestHandler } from "./app.ts";
import { AccessPolicy } from "./auth/access-policy.ts";
import { Authenticator } from "./auth/authenticator.ts";
import type { AuthorizationServer } from "./auth/authorization-server/authorization-server.ts";
import { BearerVerifier, type TokenVerifier } from "./auth/bearer-verifier.ts";
import { BrowserLogin } from "./auth/browser-login.ts";
import { TransactionSealer } from "./auth/login-transaction.ts";
import { ProtectedResource } from "./auth/protected-resource.ts";
import { claimsMappingFor } from "./auth/provider-user.ts";
import type { SessionUser } from "./auth/session-user.ts";
import { TokenRefresher } from "./auth/token-refresh.ts";
import { UpstreamOidc } from "./auth/upstream-oidc.ts";
import { answerClientErrors } from "./client-errors.ts";
import type { Config } from "./config/schema.ts";
import { ConnectionDrain } from "./connection-drain.ts";
import { errorBody, errorHeaders, forbidden, type ProxyError, toProxyError } from "./errors.ts";
import { AuditLog } from "./mcp/audit-log.ts";
import { McpGuard } from "./mcp/mcp-guard.ts";
import { McpPolicy } from "./mcp/policy.ts";
import { createHostCheck } from "./middleware/host-check.ts";
import { metricsHandler } from "./middleware/operations.ts";
import { requestIdOf } from "./middleware/request-scope.ts";
import { createLogger, type Logger, type LogLevel } from "./observability/logger.ts";
import { createMetrics } from "./observability/metrics.ts";
import { redactUrl } from "./observability/redact.ts";
import { requestScope } from "./observability/request-scope.ts";
import { startTracing } from "./observability/tracing.ts";
import { ProxyCookies } from "./proxy-cookies.ts";
import { ProxyHeaders } from "./proxy-headers.ts";
import { createPublicUrlResolver, listenUrl } from "./public-url.ts";
import { requestPath } from "./request-path.ts";
import { SessionCache } from "./session/session-cache.ts";
import { SessionReader } from "./session/session-reader.ts";
import { createSessionBackend } from "./session/store.ts";
import { configuredUrls, type Resolver, UpstreamEndpoints } from "./upstream/endpoints.ts";
import { Forwarder } from "./upstream/forwarder.ts";
import { IdentityHeaders } from "./upstream/identity-headers.ts";
import { McpSessionBinding } from "./upstream/mcp-session-binding.ts";
import { createUpgradeRelay } from "./upstream/websocket.ts";
import { VERSION } from "./version.ts";

export interface RunningProxy {
  /** Where the proxy listens, e.g. http://127.0.0.1:41234 */
  url: string;
  metricsUrl: string | undefined;
  logger: Logger;
  /** Applies what can change without a restart; returns the fields that were changed. */
  reload(next: Config): { applied: string[]; needRestart: string[] };
  /** Stops accepting, ends streams, waits for open requests up to the shutdown timeout. */
  shutdown(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Slow clients are cut: headers must arrive within headers_timeout, the whole request (body
 * included) within request_timeout (408). Once a request is in, its response (an event
 * stream) may last as long as it likes. Node checks at connectionsCheckingInterval, so that
 * follows the smallest timeout.
 */
function serverTimeouts(server: Config["server"]): http.ServerOptions {
  const smallest = Math.min(server.headers_timeout, server.request_timeout || server.headers_timeout);
  return {
    headersTimeout: server.headers_timeout,
    requestTimeout: server.request_timeout,
    keepAliveTimeout: 65_000,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(smallest / 4))),
  };
}

function rejectUpgrade(socket: Socket, error: ProxyError, requestId: string): void {
  const body = JSON.stringify(errorBody(error, requestId));
  const extra = Object.entries(errorHeaders(error)).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(
    `HTTP/1.1 ${error.status} ${http.STATUS_CODES[error.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra.join("")}Connection: close\r\n\r\n${body}`,
  );
}

export async function startProxy(
  config: Config,
  options: { logger?: Logger; resolve?: Resolver } = {},
): Promise<RunningProxy> {
  const logger = options.logger ?? createLogger(config.logging.level, config.logging.format);
  const startedAt = Date.now();
  let shuttingDown = false;

  const secrets = [...(config.session.secret ?? [])];
  if (secrets.length === 0) {
    logger.warn("session.secret is not set: using a random one, so sessions end when the proxy restarts");
    secrets.push(randomBytes(32).toString("base64url"));
  }
  // Several endpoints pin MCP sessions in the store in every auth mode, bypass included.
  const pinsSessions = config.target.discovery === "dns" || config.target.urls.length > 1;
  const sessions =
    config.auth.mode === "oidc" || pinsSessions ? await createSessionBackend(config, logger, secrets) : undefined;
  let mcpSessions: McpSessionBinding | undefined;
  const metrics = createMetrics({
    countSessions: () => (config.auth.mode === "oidc" ? sessions?.countSessions() : undefined) ?? Promise.resolve(0),
    ...(pinsSessions ? { countUpstreamSessions: () => mcpSessions?.pinnedCounts() ?? new Map() } : {}),
  });
  const upstream = new UpstreamEndpoints({
    target: config.target,
    metrics,
    logger,
    ...(options.resolve ? { resolve: options.resolve } : {}),
  });
  const target = configuredUrls(config.target)[0] as URL;
  const cookies = new ProxyCookies(config);
  const headers = new ProxyHeaders(config.headers);
  // Off unless configured; the SDK is imported only then (observability/tracing.ts).
  const tracer = await startTracing(config.tracing, logger);
  const headerParts = {
    ...(tracer ? { traceHeaders: tracer.headerNames } : {}),
    headers,
    cookies,
    identity: new IdentityHeaders(config.headers),
    keepForwardedChain: config.server.trust_proxy !== false,
    publicHost: config.server.public_url ? new URL(config.server.public_url).host : undefined,
  };
  const hostCheck = createHostCheck(config.server);
  const forwarder = new Forwarder({ config, metrics, logger, headerParts });
  const relayUpgrade = createUpgradeRelay(
    target,
    logger,
    headerParts,
    upstream.pinsSessions ? () => upstream.pick()?.url : undefined,
  );
  const publicUrl = createPublicUrlResolver(config.server);
  const extraOrigins = config.server.allowed_origins.map((o) => new URL(o).origin);
  const fixedOrigins = config.server.public_url
    ? new Set([new URL(config.server.public_url).origin, ...extraOrigins])
    : undefined;
  const allowedOrigins = (req: IncomingMessage) =>
    fixedOrigins ?? new Set([publicUrl(req as Request).origin, ...extraOrigins]);
  const fixedProtocol = config.server.public_url ? new URL(config.server.public_url).protocol.slice(0, -1) : undefined;
  const publicProtocol = (req: IncomingMessage) => fixedProtocol ?? publicUrl(req as Request).protocol.slice(0, -1);
  let policy = new AccessPolicy(config.access);
  let mcpPolicy = new McpPolicy(config.mcp_policy);
  const auditLogFor = (audit: Config["mcp_policy"]["audit"]) =>
    audit.enabled ? new AuditLog({ output: audit.output, argumentsKey: audit.arguments_key }) : undefined;
  let auditLog = auditLogFor(config.mcp_policy.audit);

  let oidcUpstream: UpstreamOidc | undefined;
  let login: BrowserLogin | undefined;
  let sessionMiddleware: express.RequestHandler | undefined;
  let sessionReader: SessionReader | undefined;
  let refresher: TokenRefresher | undefined;
  let bypassUser: SessionUser | undefined;
  if (sessions) {
    mcpSessions = new McpSessionBinding({
      store: sessions.keyValue,
      ttlMs: config.session.ttl,
      cacheTtlMs: config.session.cache_ttl,
    });
  }
  if (config.auth.mode === "oidc" && sessions) {
    oidcUpstream = new UpstreamOidc(config.oidc, logger);
    await oidcUpstream.start();
    const reader = new SessionReader({
      cookieName: cookies.sessionName,
      secrets,
      store: sessions.store,
      cache: new SessionCache({ ttlMs: config.session.cache_ttl }),
    });
    sessionReader = reader;
    login = new BrowserLogin({
      config,
      upstream: oidcUpstream,
      sealer: new TransactionSealer(secrets[0] as string),
      metrics,
      logger,
      publicUrl,
      cookieOptions: (req) => cookies.options(req),
      sessionCookieName: cookies.sessionName,
      forgetSession: (id) => reader.forget(id),
    });
    // express-session writes sessions (sign-in, sign-out); the hot path reads them directly.
    sessionMiddleware = session({
      store: sessions.store,
      name: cookies.sessionName,
      secret: secrets,
      resave: false,
      // No session is stored until someone signs in: anonymous traffic writes nothing.
      saveUninitialized: false,
      proxy: config.server.trust_proxy !== false,
      cookie: cookies.sessionCookie,
    });
    refresher = new TokenRefresher({
      upstream: oidcUpstream,
      sessions: reader,
      metrics,
      logger,
      refreshBeforeMs: config.oidc.refresh_before_expiry,
      mapping: (provider) => claimsMappingFor(config, provider),
    });
  } else {
    const u = config.auth.bypass_user;
    bypassUser = { id: u.id, email: u.email, emailVerified: true, name: u.name, groups: u.groups, provider: "bypass" };
    logger.warn(`AUTHENTICATION IS OFF (auth.mode=bypass): every request is forwarded as user ${u.id}`);
  }
  let protectedResource: ProtectedResource | undefined;
  let bearer: (() => TokenVerifier | undefined) | undefined;
  let authorizationServer: AuthorizationServer | undefined;
  const publicBase = (config.server.public_url ?? listenUrl(config.server)).replace(/\/$/, "");
  const resource = (config.mcp_auth.resource ?? publicBase).replace(/\/$/, "");
  const pathScopes = Object.entries(config.mcp_auth.path_scopes).sort(([a], [b]) => b.length - a.length);
  // The policy's scopes too: a client told to step up to one must be able to get it.
  const scopesSupported = [
    ...new Set([
      ...config.mcp_auth.required_scopes,
      ...pathScopes.flatMap(([, scopes]) => scopes),
      ...config.mcp_policy.rules.flatMap((rule) => rule.scopes),
    ]),
  ];
  if (config.mcp_auth.mode === "provider" && oidcUpstream) {
    const upstreamOidc = oidcUpstream;
    protectedResource = new ProtectedResource({
      resource,
      authorizationServers: [upstreamOidc.issuer()],
      scopesSupported,
      requiredScopes: config.mcp_auth.required_scopes,
    });
    // Built once the provider is discovered (its JWKS URL comes from discovery).
    let verifier: BearerVerifier | undefined;
    bearer = () => {
      if (verifier || !upstreamOidc.isReady()) return verifier;
      const metadata = upstreamOidc.configuration().serverMetadata();
      if (!metadata.jwks_uri) return undefined;
      verifier = new BearerVerifier({
        jwksUri: new URL(metadata.jwks_uri),
        issuer: metadata.issuer,
        mapping: claimsMappingFor(config, metadata.issuer, config.mcp_auth.groups_claim),
        cacheTtlMs: config.mcp_auth.token_cache_ttl,
        jwksCooldownMs: config.mcp_auth.jwks_refresh_cooldown,
        fetch: upstreamOidc.fetch,
      });
      return verifier;
    };
  }
  if (config.mcp_auth.mode === "proxy" && oidcUpstream && login && sessions) {
    // Loaded only in this mode: oidc-provider and its framework stay out of other proxies.
    const { AuthorizationServer } = await import("./auth/authorization-server/authorization-server.ts");
    authorizationServer = await AuthorizationServer.create({
      config,
      issuer: publicBase,
      resource,
      scopesSupported,
      requiredScopes: config.mcp_auth.required_scopes,
      store: sessions.keyValue,
      secrets,
      secureCookies: cookies.secure === true,
      cookieNames: cookies.authorizationServer.names,
      upstream: oidcUpstream,
      login,
      policy: () => policy,
      logger,
    });
    protectedResource = new ProtectedResource({
      resource,
      authorizationServers: [publicBase],
      scopesSupported: authorizationServer.scopes,
      requiredScopes: config.mcp_auth.required_scopes,
    });
    const verifier = authorizationServer.verifier;
    bearer = () => verifier;
  }
  // A client may send the resource with or without the trailing slash URL parsers add.
  const audiences = new Set(
    config.mcp_auth.mode === "provider" && config.mcp_auth.audiences.length > 0
      ? config.mcp_auth.audiences
      : [resource, `${resource}/`],
  );
  const authenticator = new Authenticator({
    ...(bearer ? { bearer, pathScopes, audiences, requiredScopes: config.mcp_auth.required_scopes } : {}),
    policy: () => policy,
    metrics,
    ...(sessionReader ? { sessions: sessionReader } : {}),
    ...(refresher ? { refresher } : {}),
    ...(bypassUser ? { bypassUser } : {}),
  });

  const notReadyReasons = async () => {
    const reasons: string[] = [];
    if (shuttingDown) reasons.push("shutting down");
    if (oidcUpstream && !oidcUpstream.isReady()) reasons.push("identity provider not discovered");
    // Asked at each probe: a connected Redis that does not answer (paused, overloaded) is not ready either.
    if (sessions && !(await sessions.answers())) reasons.push("session store unavailable");
    return reasons;
  };
  const handler = createRequestHandler({
    config,
    logger,
    metrics,
    operations: { version: VERSION, startedAt, backendStatus: () => upstream.status(), notReadyReasons },
    allowedOrigins,
    hostCheck,
    headers,
    publicProtocol,
    sessionMiddleware,
    login,
    bypassUser,
    authenticator,
    upstream,
    forwarder,
    mcpSessions,
    protectedResource,
    authorizationServer,
    mcpGuard: new McpGuard({
      policy: () => mcpPolicy,
      audit: () => auditLog,
      metrics,
      maxBodyBytes: () => config.mcp_policy.max_body_size,
      maxListBytes: () => config.mcp_policy.max_list_size,
      protectedResource,
    }),
    tracer,
  });

  const server = http.createServer(serverTimeouts(config.server), handler);
  // With a listener, Node leaves "Expect: 100-continue" to the handler: the proxy answers
  // 100 Continue only once the request is authenticated (a refused client never uploads).
  server.on("checkContinue", handler);
  answerClientErrors(server);
  const drain = new ConnectionDrain(server);
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const requestId = requestIdOf(req, headers.requestIdKey);
    socket.on("error", () => socket.destroy());
    requestScope.run({ requestId }, async () => {
      try {
        hostCheck?.(req);
        const origin = req.headers.origin;
        if (origin !== undefined && !allowedOrigins(req).has(origin)) throw forbidden("Origin not allowed");
        const auth = await authenticator.authenticate(req, requestPath(req.url ?? "/"));
        if (auth.kind !== "allowed") throw auth.error;
        // Fail closed: the MCP policy judges HTTP bodies; messages over a WebSocket would pass unjudged.
        if (mcpPolicy.active) {
          throw forbidden("WebSocket upgrades are refused while an MCP policy is configured", {
            reason: "mcp_policy",
          });
        }
        relayUpgrade(req, socket, head, { user: auth.user, requestId, forwardedProto: publicProtocol(req) });
      } catch (error) {
        rejectUpgrade(socket, toProxyError(error), requestId);
      }
    });
  });

  // Before listening: with discovery dns the endpoints are known once the name is resolved.
  await upstream.start();
  const address = await listen(server, config.server.port, config.server.host);
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  if (config.metrics.enabled && config.metrics.port !== 0) {
    const metricsApp = express();
    metricsApp.get(config.metrics.path, metricsHandler(metrics));
    metricsServer = http.createServer(serverTimeouts(config.server), metricsApp);
    const metricsAddress = await listen(metricsServer, config.metrics.port, config.server.host);
    metricsUrl = `http://${metricsAddress.address}:${metricsAddress.port}${config.metrics.path}`;
  }
  logger.info("mcp-oidc-proxy listening", {
    url,
    public_url: config.server.public_url ?? listenUrl(config.server),
    target: upstream.pinsSessions ? upstream.list().map((e) => e.key) : redactUrl(target),
    auth_mode: config.auth.mode,
    mcp_auth_mode: config.mcp_auth.mode,
    session_store: sessions?.kind ?? "none",
    version: VERSION,
  });

  return {
    url,
    metricsUrl,
    logger,
    reload(next: Config) {
      const applied: string[] = [];
      const needRestart: string[] = [];
      if (next.logging.level !== config.logging.level) {
        logger.level = next.logging.level as LogLevel;
        applied.push("logging.level");
      }
      if (JSON.stringify(next.access) !== JSON.stringify(config.access)) {
        policy = new AccessPolicy(next.access);
        applied.push("access");
      }
      if (JSON.stringify(next.mcp_policy) !== JSON.stringify(config.mcp_policy)) {
        mcpPolicy = new McpPolicy(next.mcp_policy);
        applied.push("mcp_policy");
      }
      // Reopened on every reload, so a rotated audit file is let go (as with SIGHUP in logrotate).
      const previousAudit = auditLog;
      auditLog = auditLogFor(next.mcp_policy.audit);
      previousAudit?.close();
      const reloadable = new Set(["logging", "access", "mcp_policy"]);
      for (const section of Object.keys(next) as (keyof Config)[]) {
        if (reloadable.has(section)) continue;
        if (JSON.stringify(next[section]) !== JSON.stringify(config[section])) needRestart.push(section);
      }
      config = { ...config, logging: next.logging, access: next.access, mcp_policy: next.mcp_policy };
      return { applied, needRestart };
    },
    async shutdown() {
      if (shuttingDown) return;
      shuttingDown = true;
      logger.info("shutting down: no new connections, draining open requests");
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      // Event streams never end by themselves: end them cleanly now, clients reconnect
      // elsewhere (with Last-Event-ID). Ordinary requests get until the deadline.
      for (const res of forwarder.openStreams) res.end();
      drain.closeIdle();
      const sweeper = setInterval(() => drain.closeIdle(), 50);
      const deadline = setTimeout(() => {
        logger.warn("shutdown deadline reached; closing remaining connections", { open: drain.closeIdle() });
        drain.closeAll();
      }, config.server.shutdown_timeout);
      deadline.unref();
      await closed;
      clearInterval(sweeper);
      clearTimeout(deadline);
      oidcUpstream?.stop();
      await authorizationServer?.close();
      await upstream.close();
      await sessions?.close();
      auditLog?.close();
      // Last: every request has ended, so every span has; the buffered ones are exported now.
      await tracer?.shutdown();
      logger.info("shutdown complete");
    },
  };
}
