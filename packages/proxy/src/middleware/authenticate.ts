// The gate in front of the upstream: public paths pass, a signed-in session (refreshed
// when due) passes if the access policy allows it; otherwise browsers are sent to sign in
// and every other client gets 401 JSON, never a redirect.
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { AccessPolicy } from "../auth/access-policy.ts";
import { type BrowserLogin, isBrowserNavigation } from "../auth/browser-login.ts";
import type { SessionUser } from "../auth/session-user.ts";
import type { TokenRefresher } from "../auth/token-refresh.ts";
import { forbidden, ProxyError } from "../errors.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import { currentScope } from "../observability/request-scope.ts";

export interface AuthenticateDeps {
  policy: () => AccessPolicy;
  metrics: ProxyMetrics;
  sessionCookieName: string;
  /** Present in oidc mode. */
  login?: BrowserLogin;
  refresher?: TokenRefresher;
  /** Present in bypass mode: everyone is this user. */
  bypassUser?: SessionUser;
}

declare global {
  namespace Express {
    interface Locals {
      /** The user a proxied request is made for; unset on public paths. */
      user?: SessionUser;
    }
  }
}

export function authenticate(deps: AuthenticateDeps): RequestHandler {
  const { metrics } = deps;
  const cookiePrefix = `${deps.sessionCookieName}=`;

  async function sessionUser(req: Request): Promise<SessionUser | undefined> {
    if (deps.bypassUser) return deps.bypassUser;
    const user = req.session?.user;
    if (user && deps.refresher?.needsRefresh(req)) {
      if ((await deps.refresher.refresh(req)) === "ended") return undefined;
    }
    return req.session?.user;
  }

  return async (req: Request, res: Response, next: NextFunction) => {
    const policy = deps.policy();
    if (policy.isPublic(req.path)) {
      next();
      return;
    }
    const user = await sessionUser(req);
    if (!user) {
      metrics.authAttempts.inc({ result: "unauthenticated" });
      if (deps.login && isBrowserNavigation(req)) {
        await deps.login.start(req, res, req.originalUrl);
        return;
      }
      res.setHeader("WWW-Authenticate", 'Bearer realm="mcp-oidc-proxy"');
      const hadCookie = req.headers.cookie?.includes(cookiePrefix) ?? false;
      throw hadCookie
        ? new ProxyError("INVALID_SESSION", 401, "The session has expired or was signed out; sign in again")
        : new ProxyError("UNAUTHORIZED", 401, "Authentication required");
    }
    const decision = policy.decide(user);
    if (!decision.allowed) {
      metrics.authAttempts.inc({ result: "forbidden" });
      throw forbidden("You are signed in but not allowed to use this MCP server", { reason: decision.reason });
    }
    res.locals.user = user;
    const scope = currentScope();
    if (scope) scope.userId = user.id;
    next();
  };
}
