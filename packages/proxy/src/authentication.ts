// The parts of each authentication mode, built from the resolved configuration: in bypass
// mode one fixed user; in oidc mode the session store, the upstream provider, the browser
// sign-in, the session reader and token refresher, and, when MCP clients are authorized
// with bearer tokens, the protected resource with the verifier of its tokens (mcp_auth.mode
// provider) or the proxy's own authorization server (mcp_auth.mode proxy). One typed result
// per mode: nothing downstream asks whether a part that its mode always has is there.
import type { Request, RequestHandler } from "express";
import session from "express-session";
import type { AccessPolicy } from "./auth/access-policy.ts";
import { Authenticator } from "./auth/authenticator.ts";
import type { AuthorizationServer } from "./auth/authorization-server/authorization-server.ts";
import { BearerVerifier, type TokenVerifier } from "./auth/bearer-verifier.ts";
import { BrowserLogin, type BrowserLoginDeps } from "./auth/browser-login.ts";
import { TransactionSealer } from "./auth/login-transaction.ts";
import { ProtectedResource } from "./auth/protected-resource.ts";
import { claimsMappingFor } from "./auth/provider-user.ts";
import type { SessionUser } from "./auth/session-user.ts";
import { TokenRefresher } from "./auth/token-refresh.ts";
import { UpstreamOidc } from "./auth/upstream-oidc.ts";
import type { AuthMode, ResolvedConfig } from "./config/resolve.ts";
import type { Logger } from "./observability/logger.ts";
import type { ProxyMetrics } from "./observability/metrics.ts";
import type { ProxyCookies } from "./proxy-cookies.ts";
import { SessionCache } from "./session/session-cache.ts";
import { SessionReader } from "./session/session-reader.ts";
import type { SessionBackend } from "./session/store.ts";

export interface AuthenticationDeps {
  resolved: ResolvedConfig;
  logger: Logger;
  metrics: ProxyMetrics;
  cookies: ProxyCookies;
  publicUrl: (req: Request) => URL;
  /** Session secrets, newest first (at least one). */
  secrets: readonly [string, ...string[]];
  /** The access rules in force (they change on reload). */
  policy: () => AccessPolicy;
}

/** MCP clients authorized with bearer tokens (mcp_auth.mode provider or proxy). */
export interface McpAuthorization {
  protectedResource: ProtectedResource;
  /** Undefined while the provider is not discovered yet (its JWKS URL comes from discovery). */
  bearer: () => TokenVerifier | undefined;
  /** mcp_auth.mode proxy: the proxy's own authorization server. */
  authorizationServer: AuthorizationServer | undefined;
}

export type Authentication =
  | { mode: "bypass"; user: SessionUser; authenticator: Authenticator }
  | {
      mode: "oidc";
      sessions: SessionBackend;
      upstream: UpstreamOidc;
      login: BrowserLogin;
      /** express-session: writes sessions (sign-in, sign-out); the hot path reads them directly. */
      sessionMiddleware: RequestHandler;
      mcp: McpAuthorization | undefined;
      authenticator: Authenticator;
    };

type OidcMode = Extract<AuthMode, { mode: "oidc" }>;

function bypassMode(mode: Extract<AuthMode, { mode: "bypass" }>, deps: AuthenticationDeps): Authentication {
  const u = mode.user;
  const user = { id: u.id, email: u.email, emailVerified: true, name: u.name, groups: u.groups, provider: "bypass" };
  deps.logger.warn(`AUTHENTICATION IS OFF (auth.mode=bypass): every request is forwarded as user ${u.id}`);
  const authenticator = new Authenticator({ policy: deps.policy, metrics: deps.metrics, bypassUser: user });
  return { mode: "bypass", user, authenticator };
}

/**
 * Browser sessions: the reader of the hot path, the sign-in, the writer, the refresher.
 * `signedOut` ends what else ends with a sign-out (the MCP client grants, mode proxy).
 */
function sessionParts(
  upstream: UpstreamOidc,
  sessions: SessionBackend,
  deps: AuthenticationDeps,
  signedOut: NonNullable<BrowserLoginDeps["signedOut"]>,
) {
  const { config } = deps.resolved;
  const { cookies, secrets, metrics, logger } = deps;
  const reader = new SessionReader({
    cookieName: cookies.sessionName,
    secrets,
    store: sessions.store,
    cache: new SessionCache({ ttlMs: config.session.cache_ttl }),
  });
  const login = new BrowserLogin({
    config,
    upstream,
    sealer: new TransactionSealer(secrets[0]),
    metrics,
    logger,
    publicUrl: deps.publicUrl,
    cookieOptions: (req) => cookies.options(req),
    sessionCookieName: cookies.sessionName,
    forgetSession: (id) => reader.forget(id),
    signedOut,
  });
  const sessionMiddleware = session({
    store: sessions.store,
    name: cookies.sessionName,
    secret: [...secrets],
    resave: false,
    // No session is stored until someone signs in: anonymous traffic writes nothing.
    saveUninitialized: false,
    // proxy unset: X-Forwarded-Proto is believed as Express's "trust proxy" does, per hop.
    cookie: cookies.sessionCookie,
  });
  const refresher = new TokenRefresher({
    upstream,
    sessions: reader,
    metrics,
    logger,
    refreshBeforeMs: config.oidc.refresh_before_expiry,
    mapping: (provider) => claimsMappingFor(config, provider),
  });
  return { reader, login, sessionMiddleware, refresher };
}

/** mcp_auth.mode provider: JWTs of the upstream provider, checked against its JWKS. */
function providerTokens(upstream: UpstreamOidc, deps: AuthenticationDeps): McpAuthorization {
  const { config, resource, scopesSupported } = deps.resolved;
  const protectedResource = new ProtectedResource({
    resource,
    authorizationServers: [upstream.issuer()],
    scopesSupported,
    requiredScopes: config.mcp_auth.required_scopes,
  });
  let verifier: BearerVerifier | undefined;
  const bearer = () => {
    if (verifier || !upstream.isReady()) return verifier;
    const metadata = upstream.configuration().serverMetadata();
    if (!metadata.jwks_uri) return undefined;
    verifier = new BearerVerifier({
      jwksUri: new URL(metadata.jwks_uri),
      issuer: metadata.issuer,
      ownClientId: upstream.clientId,
      mapping: claimsMappingFor(config, metadata.issuer, config.mcp_auth.groups_claim),
      cacheTtlMs: deps.resolved.tokenCacheTtlMs,
      jwksCooldownMs: config.mcp_auth.jwks_refresh_cooldown,
      fetch: upstream.fetch,
      logger: deps.logger,
    });
    return verifier;
  };
  return { protectedResource, bearer, authorizationServer: undefined };
}

/** mcp_auth.mode proxy: the proxy's own authorization server issues the tokens. */
async function proxyTokens(
  upstream: UpstreamOidc,
  login: BrowserLogin,
  sessions: SessionBackend,
  deps: AuthenticationDeps,
): Promise<McpAuthorization> {
  const { config, publicBase, resource, scopesSupported } = deps.resolved;
  // Loaded only in this mode: oidc-provider and its framework stay out of other proxies.
  const { AuthorizationServer } = await import("./auth/authorization-server/authorization-server.ts");
  const authorizationServer = await AuthorizationServer.create({
    config,
    issuer: publicBase,
    resource,
    scopesSupported,
    requiredScopes: config.mcp_auth.required_scopes,
    tokenCacheTtlMs: deps.resolved.tokenCacheTtlMs,
    store: sessions.keyValue,
    secrets: deps.secrets,
    secureCookies: deps.cookies.secure === true,
    cookieNames: deps.cookies.authorizationServer.names,
    upstream,
    login,
    policy: deps.policy,
    logger: deps.logger,
  });
  const protectedResource = new ProtectedResource({
    resource,
    authorizationServers: [publicBase],
    scopesSupported: authorizationServer.scopes,
    requiredScopes: config.mcp_auth.required_scopes,
  });
  const verifier = authorizationServer.verifier;
  return { protectedResource, bearer: () => verifier, authorizationServer };
}

async function oidcMode(mode: OidcMode, sessions: SessionBackend, deps: AuthenticationDeps): Promise<Authentication> {
  const upstream = new UpstreamOidc(mode.oidc, deps.logger);
  // Not awaited: startup waits for it only briefly (proxy-server.ts), a silent provider keeps
  // the proxy unready rather than unstarted.
  upstream.start();
  // The authorization server is made after the sign-in it uses; a sign-out ends its grants.
  let grants: AuthorizationServer | undefined;
  const signedOut: NonNullable<BrowserLoginDeps["signedOut"]> = async (userId, req, res) =>
    grants?.signedOut(userId, req, res);
  const { reader, login, sessionMiddleware, refresher } = sessionParts(upstream, sessions, deps, signedOut);
  const mcp =
    mode.mcp.mode === "provider"
      ? providerTokens(upstream, deps)
      : mode.mcp.mode === "proxy"
        ? await proxyTokens(upstream, login, sessions, deps)
        : undefined;
  grants = mcp?.authorizationServer;
  const { pathScopes, resource, config } = deps.resolved;
  const authenticator = new Authenticator({
    policy: deps.policy,
    metrics: deps.metrics,
    sessions: reader,
    refresher,
    ...(mcp
      ? {
          bearer: mcp.bearer,
          pathScopes: [...pathScopes],
          audiences: mode.mcp.mode === "provider" ? mode.mcp.audiences : new Set([resource, `${resource}/`]),
          requiredScopes: config.mcp_auth.required_scopes,
        }
      : {}),
  });
  return { mode: "oidc", sessions, upstream, login, sessionMiddleware, mcp, authenticator };
}

/**
 * Starts the mode's parts (in oidc mode: discovery, in the background, and the authorization
 * server). `sessions` is the store of oidc mode, created before so metrics can count it.
 */
export function startAuthentication(
  sessions: SessionBackend | undefined,
  deps: AuthenticationDeps,
): Promise<Authentication> {
  const { auth } = deps.resolved;
  if (auth.mode === "bypass") return Promise.resolve(bypassMode(auth, deps));
  if (!sessions) throw new Error("oidc mode needs its session store");
  return oidcMode(auth, sessions, deps);
}
