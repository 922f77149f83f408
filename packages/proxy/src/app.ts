// The one place where the middleware order lives. Read top to bottom, it is the path of a
// request through the proxy; each comment says why a step stands where it does.
import type { CookieOptions, Request, RequestHandler } from "express";
import express, { type Express } from "express";
import type session from "express-session";
import type { AccessPolicy } from "./auth/access-policy.ts";
import type { BrowserLogin } from "./auth/browser-login.ts";
import type { SessionUser } from "./auth/session-user.ts";
import type { TokenRefresher } from "./auth/token-refresh.ts";
import type { Config } from "./config/schema.ts";
import { ProxyError, unauthorized } from "./errors.ts";
import { accessLog } from "./middleware/access-log.ts";
import { authenticate } from "./middleware/authenticate.ts";
import { errorHandler } from "./middleware/error-handler.ts";
import { type OperationsState, operationsRouter } from "./middleware/operations.ts";
import { originGuard } from "./middleware/origin.ts";
import { requestScopeMiddleware } from "./middleware/request-scope.ts";
import type { Logger } from "./observability/logger.ts";
import type { ProxyMetrics } from "./observability/metrics.ts";
import type { CircuitBreaker } from "./upstream/circuit-breaker.ts";
import type { IdentityHeaderWriter } from "./upstream/identity-headers.ts";
import type { UpstreamProxy } from "./upstream/proxy.ts";

export interface AppParts {
  config: Config;
  logger: Logger;
  metrics: ProxyMetrics;
  operations: OperationsState;
  policy: () => AccessPolicy;
  allowedOrigins: (req: Request) => Set<string>;
  sessionMiddleware: RequestHandler | undefined;
  sessionCookieName: string;
  login: BrowserLogin | undefined;
  refresher: TokenRefresher | undefined;
  bypassUser: SessionUser | undefined;
  writeIdentityHeaders: IdentityHeaderWriter;
  breaker: CircuitBreaker;
  upstream: UpstreamProxy;
}

/** Headers for the proxy's own answers; proxied answers keep what the MCP server sent. */
const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
  next();
};

export function buildApp(parts: AppParts): Express {
  const { config, logger, metrics } = parts;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("trust proxy", config.server.trust_proxy);

  // First: everything after runs inside the request scope, so its log lines carry the id.
  app.use(requestScopeMiddleware(config.headers.request_id));
  // Before the access log, so health probes and scrapes stay out of logs and request counts.
  app.use(
    operationsRouter(
      parts.operations,
      metrics,
      config.metrics.enabled && config.metrics.port === 0 ? config.metrics.path : undefined,
    ),
  );
  app.use(accessLog(logger, metrics));
  app.use(securityHeaders);
  // Before the session: a foreign Origin is refused without touching the session store.
  app.use(originGuard(parts.allowedOrigins));
  if (parts.sessionMiddleware) {
    const sessionMiddleware = parts.sessionMiddleware;
    // Fail closed: without the store no session can be trusted, so nothing passes.
    app.use((req, res, next) =>
      sessionMiddleware(req, res, (err?: unknown) => {
        if (err === undefined) return next();
        next(
          new ProxyError("INTERNAL_ERROR", 503, "The session store is unavailable; try again shortly", { cause: err }),
        );
      }),
    );
  }
  // The proxy's own routes (/callback, /login, /logout, /api/v1/session) answer before the gate.
  if (parts.login) app.use(parts.login.router());
  else
    app.get("/api/v1/session", (_req, res) => {
      if (!parts.bypassUser) throw unauthorized();
      res.json({ authenticated: true, user: parts.bypassUser, mode: "bypass" });
    });
  app.use(
    authenticate({
      policy: parts.policy,
      metrics,
      sessionCookieName: parts.sessionCookieName,
      ...(parts.login ? { login: parts.login } : {}),
      ...(parts.refresher ? { refresher: parts.refresher } : {}),
      ...(parts.bypassUser ? { bypassUser: parts.bypassUser } : {}),
    }),
  );
  // Identity goes on last, after every check, and replaces whatever the client sent.
  app.use((req, res, next) => {
    parts.writeIdentityHeaders(req, res.locals.user, res.locals.requestId);
    if (!parts.breaker.allowRequest()) {
      metrics.upstreamErrors.inc({ reason: "circuit_open" });
      throw new ProxyError("PROXY_ERROR", 503, "The MCP server is failing; requests are paused briefly", {
        details: { circuit: "open" },
      });
    }
    next();
  });
  // No body parser anywhere above: MCP bodies stream through untouched.
  app.use(parts.upstream.handler);
  app.use(errorHandler(logger));
  return app;
}

/** Cookie attributes shared by the session cookie and the login transaction cookie. */
export function cookieSettings(config: Config): {
  secure: boolean | "auto";
  name: string;
  options: (req: Request) => CookieOptions;
  sessionCookie: session.CookieOptions;
} {
  const { session: s, server } = config;
  const secure: boolean | "auto" =
    s.cookie_secure === "always"
      ? true
      : s.cookie_secure === "never"
        ? false
        : server.public_url
          ? server.public_url.startsWith("https:")
          : server.trust_proxy !== false
            ? "auto"
            : false;
  // "__Host-" binds the cookie to this exact host over TLS: no subdomain can set or read it.
  const name = secure === true && !s.cookie_domain ? `__Host-${s.cookie_name}` : s.cookie_name;
  const base = {
    httpOnly: true,
    sameSite: s.cookie_same_site,
    path: "/",
    ...(s.cookie_domain ? { domain: s.cookie_domain } : {}),
  } as const;
  return {
    secure,
    name,
    options: (req) => ({ ...base, secure: secure === "auto" ? req.secure : secure }),
    sessionCookie: { ...base, secure, maxAge: s.ttl },
  };
}
