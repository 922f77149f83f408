// The one place where the order of a request's path lives. Read top to bottom:
// createRequestHandler is what every HTTP request meets; proxied requests stay on a lean
// path (no framework, see docs/decisions/004), the proxy's own routes go to Express.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Request, RequestHandler } from "express";
import express, { type Express } from "express";
import type { Authenticator, AuthResult } from "./auth/authenticator.ts";
import type { AuthorizationServer } from "./auth/authorization-server/authorization-server.ts";
import { BearerError } from "./auth/bearer-verifier.ts";
import {
  type BrowserLogin,
  browserLoginPagePaths,
  browserLoginPaths,
  isBrowserNavigation,
  LOGIN_PATHS,
} from "./auth/browser-login.ts";
import type { ProtectedResource } from "./auth/protected-resource.ts";
import type { SessionUser } from "./auth/session-user.ts";
import type { Config } from "./config/schema.ts";
import { forbidden, ProxyError, storeUnavailable, toProxyError, unauthorized, writeError } from "./errors.ts";
import type { McpGuard } from "./mcp/mcp-guard.ts";
import { createAccessLog } from "./middleware/access-log.ts";
import { errorHandler, notFound } from "./middleware/error-handler.ts";
import { type OperationsState, operationsPaths, operationsRouter } from "./middleware/operations.ts";
import { originGuard } from "./middleware/origin.ts";
import { failureLogOf } from "./observability/failure-log.ts";
import type { Logger } from "./observability/logger.ts";
import type { ProxyMetrics } from "./observability/metrics.ts";
import { currentScope, enterScope, type RequestScope } from "./observability/request-scope.ts";
import { inSpan, type RequestTracer } from "./observability/tracing.ts";
import { type OwnedPaths, ownPathMatcher } from "./own-paths.ts";
import type { ProxyHeaders } from "./proxy-headers.ts";
import { requestPath } from "./request-path.ts";
import type { Endpoint, UpstreamEndpoints } from "./upstream/endpoints.ts";
import { expectsContinue, type Forwarder, isUnreachable, type Who } from "./upstream/forwarder.ts";
import {
  ANONYMOUS_OWNER,
  MCP_SESSION_HEADER,
  type McpSessionBinding,
  type McpSessionOwner,
  sessionOwner,
  writeSessionNotFound,
} from "./upstream/mcp-session-binding.ts";

export interface AppParts {
  config: Config;
  logger: Logger;
  metrics: ProxyMetrics;
  operations: OperationsState;
  allowedOrigins: (req: IncomingMessage) => ReadonlySet<string>;
  /** Throws 421 for a Host the proxy does not serve (absent when every Host is accepted). */
  hostCheck: ((req: IncomingMessage) => void) | undefined;
  headers: ProxyHeaders;
  /** The public URL's scheme, sent upstream as X-Forwarded-Proto. */
  publicProtocol: (req: IncomingMessage) => string;
  sessionMiddleware: RequestHandler | undefined;
  login: BrowserLogin | undefined;
  bypassUser: SessionUser | undefined;
  authenticator: Authenticator;
  /** The MCP server's endpoints, each with its health and circuit breaker. */
  upstream: UpstreamEndpoints;
  forwarder: Forwarder;
  /**
   * Binds each upstream Mcp-Session-Id to its creator (and, with several endpoints, to the
   * endpoint that holds it); absent in bypass mode with one endpoint (one user, nothing to pin).
   */
  mcpSessions: McpSessionBinding | undefined;
  /** Present when MCP clients are authorized with bearer tokens (mcp_auth.mode). */
  protectedResource: ProtectedResource | undefined;
  /** The proxy's own authorization server for MCP clients (mcp_auth.mode proxy). */
  authorizationServer: AuthorizationServer | undefined;
  /** The MCP policy and audit trail; judges POST bodies (refuses others') only while rules exist or auditing is on. */
  mcpGuard: McpGuard | undefined;
  /** OpenTelemetry tracing; undefined when off (then requests pay one check). */
  tracer: RequestTracer | undefined;
}

/** Headers for the proxy's own answers; proxied answers keep what the MCP server sent. */
const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader("X-Content-Type-Options", "nosniff");
  // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` on the
  // proxy's own form posts (consent, sign-out), which the Origin guard must refuse. Other
  // sites still get no referrer, so paths and interaction ids never leak (docs/decisions/008).
  res.setHeader("Referrer-Policy", "same-origin");
  res.setHeader("X-Frame-Options", "DENY");
  next();
};

/** The proxy's own routes: sign-in, sign-out, session API, health and metrics. */
export function buildOwnRoutes(parts: AppParts): Express {
  const { config, metrics, logger } = parts;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("trust proxy", config.server.trust_proxy);
  app.use((_req, res, next) => {
    res.locals.requestId = currentScope()?.requestId ?? "";
    next();
  });
  app.use(
    operationsRouter(
      parts.operations,
      metrics,
      config.metrics.enabled && config.metrics.port === 0 ? config.metrics.path : undefined,
    ),
  );
  // Public metadata, before the Origin guard: browser-based MCP clients read it cross-origin.
  if (parts.protectedResource) app.use(parts.protectedResource.router());
  // The authorization server's endpoints answer other origins too (registration, token).
  if (parts.authorizationServer) app.use(parts.authorizationServer.publicRouter());
  app.use(securityHeaders);
  // Before the session: a foreign Origin is refused without touching the session store.
  app.use(originGuard(parts.allowedOrigins, parts.headers, pagePathsOf(parts)));
  if (parts.sessionMiddleware) {
    const sessionMiddleware = parts.sessionMiddleware;
    // Fail closed: without the store no session can be trusted, so nothing passes.
    app.use((req, res, next) =>
      sessionMiddleware(req, res, (err?: unknown) => {
        if (err === undefined) return next();
        next(err instanceof ProxyError ? err : storeUnavailable(err));
      }),
    );
  }
  if (parts.authorizationServer) {
    app.use(parts.authorizationServer.interactionRouter());
    app.use(parts.authorizationServer.connectedClientsRouter());
  }
  if (parts.login) {
    const login = parts.login;
    app.use(login.router());
    // Reached only by a browser navigation without a session (see proxyRequest): sign in.
    app.use((req, res) => login.start(req, res, req.originalUrl));
  } else {
    app.get(LOGIN_PATHS.session, (_req, res) => {
      if (!parts.bypassUser) throw unauthorized();
      res.set("cache-control", "no-store").json({ authenticated: true, user: parts.bypassUser, mode: "bypass" });
    });
  }
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}

/** Browsers (MCP Inspector) only: a foreign Origin is a DNS-rebinding or CSRF attempt. */
function allowCors(req: IncomingMessage, res: ServerResponse, parts: AppParts): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  if (!parts.allowedOrigins(req).has(origin)) throw forbidden("Origin not allowed", { origin: origin.slice(0, 200) });
  res.setHeader("Access-Control-Allow-Origin", origin);
  res.setHeader("Access-Control-Allow-Credentials", "true");
  res.setHeader("Access-Control-Expose-Headers", parts.headers.exposed);
  res.setHeader("Vary", "Origin");
}

/** The challenge of a refused request: MCP clients learn from it where to get a token (RFC 9728). */
function setChallenge(res: ServerResponse, auth: Exclude<AuthResult, { kind: "allowed" }>, parts: AppParts): void {
  const error = auth.error instanceof BearerError ? auth.error : undefined;
  if (auth.kind === "forbidden") {
    if (error && parts.protectedResource) {
      res.setHeader(
        "WWW-Authenticate",
        parts.protectedResource.challenge(error.oauthError, error.message, error.scopes),
      );
    }
    return;
  }
  res.setHeader(
    "WWW-Authenticate",
    parts.protectedResource
      ? parts.protectedResource.challenge(error?.oauthError, error?.message)
      : 'Bearer realm="mcp-oidc-proxy"',
  );
}

type Allowed = Extract<AuthResult, { kind: "allowed" }>;

/** A request admitted to its MCP session (or to open one): where it goes, and what to pin there. */
interface Admitted {
  endpoint: Endpoint;
  /** The session id pinned to `endpoint`, when the request names one. */
  pinned: string | undefined;
  owner: McpSessionOwner;
  mcpSessions: McpSessionBinding;
  /** The Mcp-Session-Id the request names. */
  requested: string | undefined;
  /** The request goes to an HTTP+SSE message path (SessionAdmission.legacy). */
  legacy?: true;
}

/**
 * The MCP session hooks of a request sent to `to`: the session it opens is bound to its owner
 * (and pinned to `to` with several endpoints). A module function, not a closure per request.
 */
function pinTo(req: IncomingMessage, who: Who, admitted: Admitted, to: Endpoint, parts: AppParts): void {
  const { mcpSessions, owner, requested } = admitted;
  const pin = parts.upstream.pinsSessions ? to.key : undefined;
  who.afterUpstream = mcpSessions.afterResponse(owner, req.method, requested, pin);
  // Every GET: an HTTP+SSE server ignores an Mcp-Session-Id, and its endpoint event must be bound all the same.
  if (req.method === "GET") {
    who.beforeFirstEvent = mcpSessions.beforeFirstEvent(owner, pin, { lenient: requested !== undefined });
  }
}

/**
 * An MCP session is only ever used by whoever created it (user and OAuth client), and a
 * pinned one goes to its endpoint or nowhere. Undefined when the request was answered here
 * (404 session not found); else the endpoint and the pinned session id, if any. Answered at
 * once (no promise) for what most requests are: no session named, to a path known not to be
 * an HTTP+SSE message path.
 */
function admitMcpSession(
  req: IncomingMessage,
  res: ServerResponse,
  who: Who,
  owner: McpSessionOwner,
  mcpSessions: McpSessionBinding,
  parts: AppParts,
): Admitted | undefined | Promise<Admitted | undefined> {
  const header = req.headers[MCP_SESSION_HEADER];
  const requested = typeof header === "string" ? header : undefined;
  if (mcpSessions.admitsAtOnce(req.url ?? "/", requested)) {
    const admitted: Admitted = {
      endpoint: parts.upstream.pickOrRefuse(),
      pinned: undefined,
      owner,
      mcpSessions,
      requested,
    };
    pinTo(req, who, admitted, admitted.endpoint, parts);
    return admitted;
  }
  return admitLookedUp(req, res, who, owner, mcpSessions, parts, requested);
}

/** admitMcpSession when the store may have to be asked. */
async function admitLookedUp(
  req: IncomingMessage,
  res: ServerResponse,
  who: Who,
  owner: McpSessionOwner,
  mcpSessions: McpSessionBinding,
  parts: AppParts,
  requested: string | undefined,
): Promise<Admitted | undefined> {
  const { upstream } = parts;
  const admission = await mcpSessions.requestAdmission(req.url ?? "/", requested, owner);
  if (!admission.admitted) {
    writeSessionNotFound(res);
    return undefined;
  }
  const owning = upstream.pinnedTo(admission);
  const pinned = owning === undefined ? undefined : admission.bound;
  if (owning === null) {
    await mcpSessions.release(pinned as string);
    writeSessionNotFound(res);
    return undefined;
  }
  const endpoint = owning ?? upstream.pickOrRefuse();
  const admitted: Admitted = {
    endpoint,
    pinned,
    owner,
    mcpSessions,
    requested,
    ...(admission.legacy && { legacy: true }),
  };
  pinTo(req, who, admitted, endpoint, parts);
  return admitted;
}

/** Whether the request can be sent again: it has no body, or its body was read whole. */
function replayable(req: IncomingMessage, who: Who): boolean {
  if (who.body !== undefined) return true;
  const length = req.headers["content-length"];
  return (length === undefined || length === "0") && req.headers["transfer-encoding"] === undefined;
}

/**
 * A request bound to no endpoint whose endpoint refused the connection (nothing was sent: a
 * pod gone before its probe said so) goes once more, to another endpoint, with the MCP
 * session it may open pinned there instead. False when that does not apply.
 */
async function retriedElsewhere(
  req: IncomingMessage,
  res: ServerResponse,
  who: Who,
  failed: Endpoint,
  error: unknown,
  parts: AppParts,
  admitted: Admitted | null,
): Promise<boolean> {
  if (!isUnreachable(error) || res.headersSent || res.destroyed || !replayable(req, who)) return false;
  await failed.probe.probe();
  const next = parts.upstream.pick();
  if (!next || next === failed) return false;
  if (admitted) pinTo(req, who, admitted, next, parts);
  await parts.forwarder.forward(req, res, who, next);
  return true;
}

/** What is called, after who calls (and their MCP session) is settled: false when answered here. */
function admittedByPolicy(
  req: IncomingMessage,
  res: ServerResponse,
  who: Who,
  auth: Allowed,
  guard: McpGuard,
  legacy: boolean,
): boolean | Promise<boolean> {
  const caller = { user: auth.user, clientId: auth.clientId, scopes: auth.scopes };
  if (req.method === "GET") guard.watchStream(req, res, caller, who);
  if (req.method !== "POST") {
    guard.refuseUnjudgedBody(req, caller, who.requestId);
    return true;
  }
  if (!who.trace) return guard.admit(req, res, caller, who, legacy);
  return inSpan(
    "mcp_proxy.policy",
    () => guard.admit(req, res, caller, who, legacy),
    (forwarded) => ({ "mcp_proxy.policy.result": forwarded ? "forwarded" : "answered" }),
  );
}

/** A request for the MCP server: origin, identity, MCP session, policy, then forward. */
async function proxyRequest(
  parts: AppParts,
  ownRoutes: Express,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  requestId: string,
): Promise<void> {
  allowCors(req, res, parts);
  const scope = currentScope();
  // Without tracing, no span closures per request (the step is called as it is); a result
  // known at once (a cached session) is not awaited, which would cost a microtask turn.
  const authenticating = scope?.trace
    ? inSpan(
        "mcp_proxy.authenticate",
        async () => parts.authenticator.authenticate(req, path),
        (result) => ({ "mcp_proxy.auth.result": result.kind }),
      )
    : parts.authenticator.authenticate(req, path);
  const auth = authenticating instanceof Promise ? await authenticating : authenticating;
  if (auth.kind !== "allowed") {
    // People are sent to sign in; programs get 401 JSON, never a redirect.
    const signIn = auth.kind === "anonymous" && parts.login && isBrowserNavigation(req);
    if (signIn && req.headers.authorization === undefined) {
      ownRoutes(req as Request, res as never);
      return;
    }
    setChallenge(res, auth, parts);
    throw auth.error;
  }
  const user = auth.user;
  if (scope && user) scope.userId = user.id;
  const who: Who = { user, requestId, forwardedProto: parts.publicProtocol(req) };
  if (scope?.trace) who.trace = scope.trace;
  const { mcpSessions } = parts;
  // Anonymous requests (public paths) too: a session bound to a user is refused them (fail closed).
  const owner = user ? sessionOwner(user, auth.clientId) : ANONYMOUS_OWNER;
  const admitting = mcpSessions ? admitMcpSession(req, res, who, owner, mcpSessions, parts) : null;
  const bound = admitting instanceof Promise ? await admitting : admitting;
  if (bound === undefined) return;
  const endpoint = bound?.endpoint ?? parts.upstream.pickOrRefuse();
  if (parts.mcpGuard?.enabled && !(await admittedByPolicy(req, res, who, auth, parts.mcpGuard, bound?.legacy === true)))
    return;
  // Identity goes on last, after every check, and replaces whatever the client sent.
  try {
    await parts.forwarder.forward(req, res, who, endpoint);
  } catch (error) {
    const pinned = bound?.pinned;
    if (pinned === undefined) {
      if (await retriedElsewhere(req, res, who, endpoint, error, parts, bound)) return;
      throw error;
    }
    if (!mcpSessions || !isUnreachable(error)) throw error;
    // The pod that held the session is gone: the client must initialize again elsewhere.
    // Probed now, so the next initialize is not sent to it either.
    await endpoint.probe.probe();
    await mcpSessions.release(pinned);
    writeSessionNotFound(res);
  }
}

/** The paths the proxy answers itself, from what each of its routers declares. */
function ownPathsOf(parts: AppParts, probePaths: OwnedPaths): (path: string) => boolean {
  return ownPathMatcher([
    probePaths,
    browserLoginPaths(parts.config.oidc.redirect_path),
    ...(parts.protectedResource ? [parts.protectedResource.paths] : []),
    ...(parts.authorizationServer ? [parts.authorizationServer.paths] : []),
  ]);
}

/**
 * The proxy's own HTML pages: they carry CSRF tokens and a person's data, so no other origin
 * reads them, allowed or not (no CORS headers; the Origin guard still applies).
 */
function pagePathsOf(parts: AppParts): (path: string) => boolean {
  return ownPathMatcher([
    browserLoginPagePaths(parts.config.oidc.redirect_path),
    ...(parts.authorizationServer ? [parts.authorizationServer.pagePaths] : []),
  ]);
}

/** A request that failed before or while forwarding: its error answer (and a log line for the proxy's own faults). */
function answerFailure(logger: Logger, res: ServerResponse, error: unknown, requestId: string): void {
  const failure = toProxyError(error);
  // Upstream failures were logged where they happened (forwarder); others are logged here.
  if (failure.status >= 500 && failure.code !== "PROXY_ERROR") failureLogOf(logger)(failure);
  writeError(res, failure, requestId);
}

/**
 * What every HTTP request meets. The per-request closures are anonymous on purpose: the
 * bundle keeps function names (esbuild keepNames), a defineProperty per named closure made.
 */
export function createRequestHandler(parts: AppParts): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, metrics, logger } = parts;
  const ownRoutes = buildOwnRoutes(parts);
  const probePaths = operationsPaths(config.metrics.port === 0 ? config.metrics.path : undefined);
  const isProbe = ownPathMatcher([probePaths]);
  const isOwnPath = ownPathsOf(parts, probePaths);
  const { requestIdName, requestIdKey } = parts.headers;
  const accessLog = createAccessLog(logger, metrics, { name: requestIdName, key: requestIdKey });

  return (req, res) => {
    const requestId = parts.headers.requestIdOf(req);
    const url = req.url ?? "/";
    const queryAt = url.indexOf("?");
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const probe = isProbe(path);
    const scope: RequestScope = { requestId };
    // Probes and scrapes are not traced; the proxy's own paths are its routes, proxied ones are not.
    if (parts.tracer && !probe) scope.trace = parts.tracer.start(req, res, path, isOwnPath(path) ? path : undefined);
    // The rest of the server's 'request' callback is this request's (request-scope.ts).
    enterScope(scope);
    // Probes and scrapes stay out of the access log and the request counters. Every other
    // answer gets its request id from the access log's writeHead hook (see access-log.ts).
    if (probe) res.setHeader(requestIdName, requestId);
    else accessLog(req, res, path, requestId);
    try {
      // Probes reach the pod by its IP (Kubernetes): health paths answer any Host.
      if (!probe) parts.hostCheck?.(req);
      // The proxy's own routes and CORS preflights are Express' (sessions, cookies, forms).
      if (isOwnPath(path) || (req.method === "OPTIONS" && req.headers.origin !== undefined)) {
        if (expectsContinue(req)) res.writeContinue();
        ownRoutes(req as Request, res as never);
        return;
      }
      // Decided on and forwarded: the same raw path (ambiguous ones are refused).
      proxyRequest(parts, ownRoutes, req, res, requestPath(url), requestId).catch((error) =>
        answerFailure(logger, res, error, requestId),
      );
    } catch (error) {
      answerFailure(logger, res, error, requestId);
    }
  };
}
