// Decides who a proxied request is for: nobody (public path), the bypass user, the user of
// a valid session (refreshed when due) or of a valid bearer token, whom the access policy
// admits. Framework-free, so the hot path and WebSocket upgrades share it. Whatever verified
// a token (provider JWT or the proxy's own), its audience and scopes are checked here, once.
import type { IncomingMessage } from "node:http";
import { BoundedMemo } from "../bounded-memo.ts";
import { forbidden, ProxyError, storeUnavailable } from "../errors.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import type { SessionReader } from "../session/session-reader.ts";
import type { AccessPolicy } from "./access-policy.ts";
import { BearerError, type TokenVerifier, type VerifiedToken } from "./bearer-verifier.ts";
import type { SessionUser } from "./session-user.ts";
import type { TokenRefresher } from "./token-refresh.ts";

export type AuthResult =
  /** clientId: the OAuth client of a bearer token, when the token names one; scopes: the token's. */
  | { kind: "allowed"; user: SessionUser | undefined; clientId?: string; scopes?: string[] }
  | { kind: "anonymous"; error: ProxyError }
  | { kind: "forbidden"; error: ProxyError };

export interface AuthenticatorDeps {
  policy: () => AccessPolicy;
  metrics: ProxyMetrics;
  sessions?: SessionReader;
  refresher?: TokenRefresher;
  /** Bypass mode: everyone is this user. */
  bypassUser?: SessionUser;
  /**
   * MCP clients' bearer tokens (mcp_auth.mode provider or proxy). Undefined while the
   * provider is not discovered yet: such requests get 503, never a pass.
   */
  bearer?: () => TokenVerifier | undefined;
  /** A bearer token must name one of these audiences (this MCP server). */
  audiences?: ReadonlySet<string>;
  /** Scopes every bearer token needs (mcp_auth.required_scopes). */
  requiredScopes?: string[];
  /** Scopes a bearer token needs for paths under a prefix, longest prefix first. */
  pathScopes?: [prefix: string, scopes: string[]][];
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i;

/** A public path's result: nobody, allowed (one shared object). */
const PUBLIC: AuthResult = Object.freeze({ kind: "allowed", user: undefined });

/** Loops, not some()/filter(): asked for every bearer request, and a callback is a closure per call. */
function namesOneOf(audience: readonly string[], audiences: ReadonlySet<string>): boolean {
  for (const aud of audience) if (audiences.has(aud)) return true;
  return false;
}

const NONE_MISSING: readonly string[] = Object.freeze([]);

/** The scopes of `needed` that `granted` lacks; nothing built when nothing is needed (the usual case). */
function missingScopes(needed: readonly string[], granted: readonly string[]): readonly string[] {
  return needed.length === 0 ? NONE_MISSING : needed.filter((scope) => !granted.includes(scope));
}

/** Authorization headers remembered with their token (a client sends the same one each time). */
const AUTHORIZATIONS = { maxEntries: 1_000, maxKeyLength: 8_192 };

export class Authenticator {
  readonly #deps: AuthenticatorDeps;
  /**
   * The token of each Authorization header seen lately: the expression runs once per header,
   * and the verifier's cache is then asked with the same string each time, whose hash V8 keeps
   * (a token cut from the header anew is hashed and compared whole, ~1 KB, on every request).
   */
  readonly #tokens = new BoundedMemo((header) => BEARER.exec(header)?.[1], AUTHORIZATIONS);

  constructor(deps: AuthenticatorDeps) {
    this.#deps = deps;
  }

  /**
   * Who the request is for. Answered at once (no promise) for a public path, the bypass user
   * and a session the cache holds: most requests, so they pay no microtask turn for it.
   */
  authenticate(req: IncomingMessage, path: string): AuthResult | Promise<AuthResult> {
    const policy = this.#deps.policy();
    if (policy.isPublic(path)) return PUBLIC;
    const authorization = req.headers.authorization;
    if (authorization !== undefined && this.#deps.bearer) return this.#bearer(authorization, policy, path);
    const user = this.#deps.bypassUser ?? this.#cachedSessionUser(req);
    if (user) return this.#judged(req, user, policy);
    return this.#sessionUser(req).then((found) => this.#judged(req, found, policy));
  }

  /** A signed-in user (or none) judged by the access policy. */
  #judged(req: IncomingMessage, user: SessionUser | undefined, policy: AccessPolicy): AuthResult {
    const { metrics } = this.#deps;
    if (!user) {
      metrics.authAttempts.inc({ result: "unauthenticated" });
      const hadCookie = this.#deps.sessions?.hasCookie(req) ?? false;
      return {
        kind: "anonymous",
        error: hadCookie
          ? new ProxyError("INVALID_SESSION", 401, "The session has expired or was signed out; sign in again")
          : new ProxyError("UNAUTHORIZED", 401, "Authentication required"),
      };
    }
    const decision = policy.decide(user);
    if (!decision.allowed) {
      metrics.authAttempts.inc({ result: "forbidden" });
      return {
        kind: "forbidden",
        error: forbidden("You are signed in but not allowed to use this MCP server", { reason: decision.reason }),
      };
    }
    return { kind: "allowed", user };
  }

  /** A request that carries a token is judged by the token alone, never by a cookie too. */
  async #bearer(authorization: string, policy: AccessPolicy, path: string): Promise<AuthResult> {
    const { metrics } = this.#deps;
    const token = this.#tokens.get(authorization);
    const verifier = this.#deps.bearer?.();
    if (!verifier) {
      throw new ProxyError("OIDC_ERROR", 503, "The identity provider is not reachable yet; try again shortly");
    }
    try {
      if (!token) throw new BearerError("invalid_token", "The Authorization header is not a Bearer token");
      const verified = await verifier.verify(token);
      const { user } = verified;
      this.#checkGrant(verified, path);
      const decision = policy.decide(user);
      if (!decision.allowed) {
        metrics.authAttempts.inc({ result: "forbidden" });
        return {
          kind: "forbidden",
          error: forbidden("You are not allowed to use this MCP server", { reason: decision.reason }),
        };
      }
      return {
        kind: "allowed",
        user,
        scopes: verified.scopes,
        ...(verified.clientId ? { clientId: verified.clientId } : {}),
      };
    } catch (error) {
      if (!(error instanceof BearerError)) throw error;
      metrics.authAttempts.inc({ result: error.oauthError === "insufficient_scope" ? "forbidden" : "unauthenticated" });
      return error.oauthError === "insufficient_scope" ? { kind: "forbidden", error } : { kind: "anonymous", error };
    }
  }

  /** Audience, then the required scopes, then the path's scopes; a BearerError names what is missing. */
  #checkGrant(token: VerifiedToken, path: string): void {
    const audiences = this.#deps.audiences;
    if (!audiences || !namesOneOf(token.audience, audiences)) {
      throw new BearerError("invalid_token", "The access token is not for this MCP server");
    }
    const required = this.#deps.requiredScopes ?? [];
    const missingRequired = missingScopes(required, token.scopes);
    if (missingRequired.length > 0) {
      throw new BearerError("insufficient_scope", `The access token lacks the scope ${missingRequired.join(" ")}`);
    }
    const needed = this.scopesFor(path);
    const missing = missingScopes(needed, token.scopes);
    if (missing.length > 0) {
      throw new BearerError("insufficient_scope", `This path needs the scope ${missing.join(" ")}`, undefined, needed);
    }
  }

  /** The scopes a bearer token needs for this path beyond the required ones (mcp_auth.path_scopes). */
  scopesFor(path: string): string[] {
    for (const [prefix, scopes] of this.#deps.pathScopes ?? []) {
      if (path === prefix || path.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`)) return scopes;
    }
    return [];
  }

  /**
   * The user of a session the cache holds and that needs no refresh, without a promise (most
   * requests); anything else (not cached, no user, a refresh due) is #sessionUser's.
   */
  #cachedSessionUser(req: IncomingMessage): SessionUser | undefined {
    const session = this.#deps.sessions?.cached(req);
    if (!session?.data.user || this.#deps.refresher?.needsRefresh(session.data.tokens)) return undefined;
    return session.data.user;
  }

  async #sessionUser(req: IncomingMessage): Promise<SessionUser | undefined> {
    const { sessions, refresher } = this.#deps;
    if (!sessions) return undefined;
    let session: Awaited<ReturnType<SessionReader["read"]>>;
    try {
      session = await sessions.read(req);
    } catch (error) {
      // Fail closed: without the store no session can be trusted, so nothing passes.
      throw error instanceof ProxyError ? error : storeUnavailable(error);
    }
    if (!session?.data.user) return undefined;
    if (refresher?.needsRefresh(session.data.tokens) && (await refresher.refresh(session)) === "ended")
      return undefined;
    return session.data.user;
  }
}
