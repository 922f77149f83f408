// The proxy as the MCP clients' OAuth 2.1 authorization server (mcp_auth.mode proxy):
// oidc-provider does the protocol (metadata, registration, authorize, token with PKCE and
// resource indicators, refresh rotation with reuse detection, revocation, JWKS); the proxy
// supplies the storage (the session store), the sign-in (its browser login at the upstream
// provider) and the consent page. See docs/decisions/005.
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseCookies } from "cookie";
import cors from "cors";
import express, { type Request, type RequestHandler, type Response, type Router } from "express";
import { rateLimit } from "express-rate-limit";
import Provider, { type Configuration, type KoaContextWithOIDC, errors as oidcErrors } from "oidc-provider";
import type { Config } from "../../config/schema.ts";
import { isPageNavigation, renderErrorPage } from "../../error-page.ts";
import { errorHeaders, ProxyError } from "../../errors.ts";
import { PAGE_HEADERS } from "../../html-page.ts";
import type { Logger } from "../../observability/logger.ts";
import { currentScope } from "../../observability/request-scope.ts";
import type { OwnedPaths } from "../../own-paths.ts";
import type { KeyValueStore } from "../../session/key-value.ts";
import type { AccessPolicy } from "../access-policy.ts";
import type { BrowserLogin } from "../browser-login.ts";
import { OAuthError } from "../oauth-error.ts";
import { claimsMappingFor } from "../provider-user.ts";
import { refreshUpstreamTokens } from "../token-refresh.ts";
import type { UpstreamOidc } from "../upstream-oidc.ts";
import { AccountDirectory } from "./accounts.ts";
import { ClientMetadataDocuments } from "./client-metadata-documents.ts";
import { connectedClientsRouter } from "./connected-clients.ts";
import { CONNECTED_CLIENTS_PATHS } from "./connected-clients-page.ts";
import { InteractionRoutes } from "./interactions.ts";
import { IssuedTokenVerifier } from "./issued-token-verifier.ts";
import { registrationBodyCap, registrationMetadata } from "./registration-limits.ts";
import { deriveSigningKey } from "./signing-key.ts";
import { endGrant, storageAdapterFactory } from "./storage-adapter.ts";
import { type ConnectedClient, UserGrants } from "./user-grants.ts";

/** The provider's endpoints, under one prefix so they never shadow the MCP server's paths. */
const ROUTES = {
  authorization: "/oauth/authorize",
  token: "/oauth/token",
  registration: "/oauth/register",
  revocation: "/oauth/revoke",
  jwks: "/oauth/jwks",
  userinfo: "/oauth/userinfo",
  end_session: "/oauth/logout",
  pushed_authorization_request: "/oauth/par",
  introspection: "/oauth/introspect",
  code_verification: "/oauth/device",
  device_authorization: "/oauth/device/auth",
  backchannel_authentication: "/oauth/backchannel",
  challenge: "/oauth/challenge",
} as const;

const DISCOVERY_PATH = "/.well-known/openid-configuration";
const AS_METADATA_PATH = "/.well-known/oauth-authorization-server";
const OIDC_SCOPES = ["openid", "offline_access", "profile", "email"];
/** The scope every grant carries when the configuration requires none. */
export const BASELINE_SCOPE = "mcp";

/** Every place clients look for the metadata: RFC 8414 and OpenID, root and path forms. */
export function isMetadataPath(path: string): boolean {
  return (
    path === DISCOVERY_PATH ||
    path === AS_METADATA_PATH ||
    path.startsWith(`${AS_METADATA_PATH}/`) ||
    path.startsWith(`${DISCOVERY_PATH}/`) ||
    path.endsWith(DISCOVERY_PATH) ||
    path.endsWith(AS_METADATA_PATH)
  );
}

export interface AuthorizationServerOptions {
  config: Config;
  /** The public URL without a trailing slash: issuer of the server and, by default, the resource. */
  issuer: string;
  resource: string;
  /** The resource's scopes from the configuration (required and per-path ones). */
  scopesSupported: string[];
  requiredScopes: string[];
  /** How long a verified access token is reused on this replica (mcp_auth.token_cache_ttl). */
  tokenCacheTtlMs: number;
  store: KeyValueStore;
  /** The session secrets, the current one first (at least one). */
  secrets: readonly [string, ...string[]];
  secureCookies: boolean;
  /** The cookie names, owned by proxy-cookies.ts (the upstream filter drops them). */
  cookieNames: { session: string; interaction: string; resume: string };
  upstream: UpstreamOidc;
  login: BrowserLogin;
  policy: () => AccessPolicy;
  logger: Logger;
}

/** Client ID metadata documents (https URLs as client ids), when enabled. */
function clientDocuments(options: AuthorizationServerOptions): ClientMetadataDocuments | undefined {
  const server = options.config.mcp_auth.server;
  if (!server.client_metadata_documents) return undefined;
  return new ClientMetadataDocuments({
    store: options.store,
    logger: options.logger,
    allowPrivateAddresses: server.client_metadata_private_addresses,
    ...(options.config.oidc.ca_file ? { caFile: options.config.oidc.ca_file } : {}),
  });
}

const seconds = (millis: number) => Math.max(1, Math.floor(millis / 1000));

/**
 * MCP clients are apps (desktop, IDE, CLI, browser): loopback redirects on any port (RFC 8252)
 * and custom schemes such as cursor:// are what "native" allows. A client that names no
 * token_endpoint_auth_method gets RFC 7591's default, client_secret_basic, and the secret
 * issued with it (the Python SDK registers so); public clients say "none" and get no secret.
 */
const CLIENT_DEFAULTS: Configuration["clientDefaults"] = {
  application_type: "native",
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "client_secret_basic",
  id_token_signed_response_alg: "ES256",
};

/**
 * Nothing a client registers makes this server connect anywhere (registration is open to
 * anyone, so a fetch would be server-side request forgery): sector_identifier_uri (fetched
 * while registering) is refused, only public subjects exist anyway; and every fetch
 * oidc-provider would make itself (a jwks_uri, should a feature ever need one) fails without
 * a connection. Client ID metadata documents have their own guarded fetch.
 */
function noOutgoingRequests(logger: Logger): Pick<Configuration, "sectorIdentifierUriValidate" | "fetch"> {
  return {
    sectorIdentifierUriValidate: () => {
      throw new oidcErrors.InvalidClientMetadata("sector_identifier_uri is not supported (subjects are public)");
    },
    fetch: async (url) => {
      logger.warn("authorization server fetch refused", { url: URL.parse(String(url))?.origin });
      throw new Error("this authorization server makes no outgoing requests");
    },
  };
}

/** Tokens only for this MCP server (RFC 8707), opaque, with the resource's scopes. */
function resourceIndicators(resource: string, scopes: string[], accessTokenTtlSeconds: number) {
  const resourceOrigin = new URL(resource).origin;
  return {
    enabled: true,
    defaultResource: () => resource,
    useGrantedResource: () => true,
    // Clients name this server by its URL, with or without the MCP endpoint's path.
    getResourceServerInfo: (_ctx: unknown, indicator: string) => {
      if (URL.parse(indicator)?.origin !== resourceOrigin) {
        throw new oidcErrors.InvalidTarget(`this authorization server only issues tokens for ${resource}`);
      }
      return {
        scope: scopes.join(" "),
        audience: resource,
        accessTokenTTL: accessTokenTtlSeconds,
        accessTokenFormat: "opaque" as const,
      };
    },
  };
}

function lifetimes(config: Config): Configuration["ttl"] {
  const server = config.mcp_auth.server;
  return {
    AccessToken: seconds(server.access_token_ttl),
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: seconds(server.refresh_token_ttl),
    Grant: seconds(server.refresh_token_ttl),
    Session: seconds(config.session.ttl),
  };
}

const isStoreUnavailable = (error: unknown): error is ProxyError => error instanceof ProxyError && error.status === 503;

/** The store did not answer: 503 + Retry-After in OAuth's words, not oidc-provider's 500, on every endpoint. */
function answerStoreUnavailable(ctx: KoaContextWithOIDC, error: ProxyError): void {
  ctx.status = 503;
  ctx.set(errorHeaders(error));
  if (isPageNavigation(ctx.req)) {
    ctx.set(PAGE_HEADERS);
    ctx.body = renderErrorPage(error, currentScope()?.requestId ?? "");
    return;
  }
  ctx.type = "application/json";
  ctx.body = new OAuthError("temporarily_unavailable", error.message);
}

/**
 * Errors shown instead of redirected back (unknown client, bad redirect_uri) are JSON, or the
 * short HTML error page when a person's browser loaded the page.
 */
const renderError: Configuration["renderError"] = async (ctx, out, error) => {
  // The authorization endpoint renders a store outage too (after the server_error event).
  if (isStoreUnavailable(error)) return answerStoreUnavailable(ctx, error);
  if (isPageNavigation(ctx.req)) {
    ctx.set(PAGE_HEADERS);
    const error = { code: "OIDC_ERROR", status: ctx.status, message: out.error_description ?? out.error };
    ctx.body = renderErrorPage(error, currentScope()?.requestId ?? "");
    return;
  }
  ctx.type = "application/json";
  ctx.body = new OAuthError(out.error, out.error_description);
};

/** Where oidc-provider keeps its records: the proxy's store, clients expiring unless kept. */
function providerStorage(
  options: AuthorizationServerOptions,
  documents: ReturnType<typeof clientDocuments>,
  onReuse: (grantId: string, model: string) => void,
): Configuration["adapter"] {
  const server = options.config.mcp_auth.server;
  return storageAdapterFactory({
    store: options.store,
    secrets: [...options.secrets],
    onReuse,
    ...(server.client_ttl > 0 ? { clientTtlSeconds: seconds(server.client_ttl) } : {}),
    keptClients: new Set(server.preapproved_clients),
    ...(documents ? { clientDocuments: documents } : {}),
  });
}

/** oidc-provider's features: what the proxy's authorization server offers MCP clients, and what not. */
function providerFeatures(options: AuthorizationServerOptions, scopes: string[]): Configuration["features"] {
  const server = options.config.mcp_auth.server;
  return {
    devInteractions: { enabled: false },
    registration: { enabled: true, initialAccessToken: false, issueRegistrationAccessToken: false },
    // A client revokes only its own tokens.
    revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
    rpInitiatedLogout: { enabled: false },
    // Bearer tokens only: the MCP endpoint takes no DPoP proof, so a DPoP-bound token would
    // work there without its key. A client's DPoP header is ignored and it gets a Bearer
    // token, which RFC 9449 allows. See docs/decisions/033.
    dPoP: { enabled: false },
    resourceIndicators: resourceIndicators(options.resource, scopes, seconds(server.access_token_ttl)),
  };
}

export class AuthorizationServer {
  readonly provider: Provider;
  /** Scopes MCP clients may ask for: the baseline ones and the configured ones. */
  readonly scopes: string[];
  /**
   * Granted to every client, asked for or not: the required scopes, else BASELINE_SCOPE (a
   * grant needs at least one scope).
   */
  readonly #baselineScopes: string[];
  readonly verifier: IssuedTokenVerifier;
  readonly #options: AuthorizationServerOptions;
  readonly #callback: (req: IncomingMessage, res: ServerResponse) => void;
  readonly #accounts: AccountDirectory;
  readonly #forwardedHost: string;
  readonly #forwardedProto: string;
  readonly #documents: ClientMetadataDocuments | undefined;
  /** The grants each person made, for the connected-clients page and sign-out. */
  readonly #grants: UserGrants;

  private constructor(
    options: AuthorizationServerOptions,
    provider: Provider,
    accounts: AccountDirectory,
    documents: ClientMetadataDocuments | undefined,
    scopes: { baseline: string[]; all: string[] },
  ) {
    this.#options = options;
    this.#documents = documents;
    this.#baselineScopes = scopes.baseline;
    this.scopes = scopes.all;
    this.provider = provider;
    this.#accounts = accounts;
    this.#callback = provider.callback() as (req: IncomingMessage, res: ServerResponse) => void;
    const issuer = new URL(options.issuer);
    this.#forwardedHost = issuer.host;
    this.#forwardedProto = issuer.protocol.slice(0, -1);
    this.verifier = new IssuedTokenVerifier({
      provider,
      cacheTtlMs: options.tokenCacheTtlMs,
    });
    this.#grants = new UserGrants({
      store: options.store,
      secrets: [...options.secrets],
      ttlSeconds: seconds(options.config.mcp_auth.server.refresh_token_ttl),
      isLiveGrantOf: async (grantId, accountId) => (await provider.Grant.find(grantId))?.accountId === accountId,
      endGrant: async (grantId) => {
        await endGrant(options.store, grantId);
        // This replica forgets the grant's tokens at once; others within their cache time.
        this.verifier.forgetGrant(grantId);
      },
    });
    this.#listen();
  }

  static async create(options: AuthorizationServerOptions): Promise<AuthorizationServer> {
    const { config } = options;
    const server = config.mcp_auth.server;
    const accounts = new AccountDirectory(options.store, Math.ceil(server.refresh_token_ttl / 1000), [
      ...options.secrets,
    ]);
    const signingKey = await deriveSigningKey(options.secrets[0]);
    const cookieOptions = { httpOnly: true, sameSite: "lax" as const, secure: options.secureCookies };
    // A grant needs at least one scope: without required scopes, "mcp" is the baseline one.
    const baseline = options.requiredScopes.length > 0 ? options.requiredScopes : [BASELINE_SCOPE];
    const scopes = [...new Set([...baseline, ...options.scopesSupported])];

    const documents = clientDocuments(options);
    // The server, once made, hears of a code or refresh token used twice at once.
    let reused = (_grantId: string, _model: string): void => {};
    const configuration: Configuration = {
      adapter: providerStorage(options, documents, (grantId, model) => reused(grantId, model)),
      discovery: { client_id_metadata_document_supported: documents !== undefined },
      jwks: { keys: [signingKey as never] },
      routes: ROUTES,
      // The resource's scopes are listed too: clients name them in their registration.
      scopes: [...OIDC_SCOPES, ...scopes],
      claims: {
        openid: ["sub"],
        email: ["email", "email_verified"],
        profile: ["name", "groups"],
      },
      clientDefaults: CLIENT_DEFAULTS,
      extraClientMetadata: registrationMetadata,
      ...noOutgoingRequests(options.logger),
      responseTypes: ["code"],
      clientAuthMethods: ["none", "client_secret_basic", "client_secret_post"],
      pkce: { required: () => true },
      features: providerFeatures(options, scopes),
      ttl: lifetimes(config),
      // Refresh tokens for every client allowed the grant (MCP clients do not ask for
      // offline_access), living on their own rather than with the provider's browser session.
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
      // Every use rotates the refresh token, for clients with a secret too (oidc-provider's
      // default rotates public clients' only), so a stolen one is detected on reuse.
      rotateRefreshToken: () => true,
      expiresWithSession: async () => false,
      // Every authorization passes the consent step (remembered consents pass it without a
      // page), so the proxy checks the browser session and the access rules each time.
      loadExistingGrant: async (ctx) => {
        const grantId = ctx.oidc.result?.consent?.grantId;
        return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
      },
      findAccount: (ctx, sub, token) => AuthorizationServer.#findAccount(options, accounts, ctx, sub, token),
      extraTokenClaims: async (_ctx, token) => {
        if (token.kind !== "AccessToken" || !token.accountId) return undefined;
        const account = await accounts.find(token.accountId);
        return account ? { user: account.user } : undefined;
      },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      cookies: {
        keys: [...options.secrets],
        names: options.cookieNames,
        long: cookieOptions,
        short: cookieOptions,
      },
      // Browser clients (MCP Inspector) may call the token endpoint from their own origin.
      clientBasedCORS: (_ctx, origin, client) =>
        origin !== "null" && (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin),
      renderError,
    };
    const provider = new Provider(options.issuer, configuration);
    // The request is made to look as it arrived at the public URL (see #handle).
    provider.proxy = true;
    const authorizationServer = new AuthorizationServer(options, provider, accounts, documents, {
      baseline,
      all: scopes,
    });
    reused = (grantId, model) => authorizationServer.#reuseDetected(grantId, model);
    return authorizationServer;
  }

  /** A raced reuse ended the grant in the store (storage-adapter.ts): this replica forgets its tokens too. */
  #reuseDetected(grantId: string, model: string): void {
    this.#options.logger.warn("a code or refresh token was used twice at once; its grant is revoked", {
      model,
      client_id: Provider.ctx?.oidc?.client?.clientId,
    });
    this.verifier.forgetGrant(grantId);
  }

  /**
   * The account behind a code or refresh token, or the browser session of an authorization. On refresh, the provider's tokens are
   * refreshed when due: a provider that refuses (user disabled, signed out) ends the grant,
   * one that cannot be reached does not. The access rules are applied again too.
   */
  static async #findAccount(
    options: AuthorizationServerOptions,
    accounts: AccountDirectory,
    ctx: KoaContextWithOIDC,
    sub: string,
    token: unknown,
  ) {
    let account = await accounts.find(sub);
    // No record (a sign-out or a refused refresh forgot it) while oidc-provider's own browser
    // session still names the person: the authorization goes on to the interaction with the
    // subject alone, where the proxy's sign-in is checked again and the account saved anew.
    // For a token (code, refresh, userinfo) the missing record refuses it.
    if (!account) return token === undefined ? { accountId: sub, claims: async () => ({ sub }) } : undefined;
    const refreshing = ctx.oidc.route === "token" && (token as { kind?: string } | undefined)?.kind === "RefreshToken";
    const upstream = account.upstream;
    const due =
      upstream?.refreshToken !== undefined &&
      upstream.expiresAt !== undefined &&
      upstream.expiresAt - Date.now() <= options.config.oidc.refresh_before_expiry;
    if (refreshing && due && upstream?.refreshToken) {
      const result = await refreshUpstreamTokens(
        options.upstream,
        { ...upstream, refreshToken: upstream.refreshToken },
        claimsMappingFor(options.config, account.user.provider),
      );
      if (result.kind === "refused") {
        options.logger.info("provider refused the refresh; ending the MCP client's grant", {
          user_id: sub,
          error: result.error,
        });
        await accounts.forget(sub);
        return undefined;
      }
      // The client's grant goes on with the upstream tokens it has; the next refresh tries again.
      if (result.kind === "deferred" && result.error) {
        options.logger.warn("token refresh deferred: provider unreachable", { user_id: sub, error: result.error });
      }
      if (result.kind === "refreshed") {
        const user = result.user?.id === account.user.id ? result.user : account.user;
        account = { user, upstream: result.tokens };
        await accounts.save(account);
      }
    }
    if (refreshing && !options.policy().decide(account.user).allowed) {
      options.logger.info("access rules no longer admit the user; refresh refused", { user_id: sub });
      return undefined;
    }
    const user = account.user;
    return {
      accountId: sub,
      claims: async () => ({
        sub,
        ...(user.email ? { email: user.email, email_verified: user.emailVerified } : {}),
        ...(user.name ? { name: user.name } : {}),
        groups: user.groups,
      }),
    };
  }

  /**
   * A person signed out: every MCP client grant they made ends, with its tokens (refresh
   * ones too), and their account record with the provider's tokens in it. Their approvals
   * stay remembered: a client must still send them through sign-in again. See decision 037.
   */
  async endGrantsOf(accountId: string): Promise<void> {
    const ended = await this.#grants.end(accountId);
    await this.#accounts.forget(accountId);
    if (ended.length > 0) {
      this.#options.logger.info("sign-out ended the MCP client grants of the user", {
        user_id: accountId,
        grants: ended.length,
      });
    }
  }

  /**
   * A person signed out in this browser: their grants end (endGrantsOf), and so does the
   * browser's session at this authorization server, which would name them to the next
   * authorization (harmless since the interaction checks the sign-in, but stale).
   */
  async signedOut(accountId: string, req: Request, res: Response): Promise<void> {
    await this.endGrantsOf(accountId);
    const name = this.#options.cookieNames.session;
    const id = parseCookies(req.headers.cookie ?? "")[name];
    // Whoever sends the cookie holds the session id: ending the session it names is theirs to ask.
    if (id) await (await this.provider.Session.find(id))?.destroy();
    const options = { httpOnly: true, sameSite: "lax" as const, secure: this.#options.secureCookies, path: "/" };
    res.clearCookie(name, options);
    res.clearCookie(`${name}.sig`, options);
  }

  /** The connected-clients page: after the session middleware, behind the Origin guard. */
  connectedClientsRouter(): Router {
    return connectedClientsRouter({
      clients: (accountId) => this.#connectedClients(accountId),
      revoke: async (accountId, clientId) => {
        const ended = await this.#grants.end(accountId, clientId);
        // Revoked means asked again: every approval of the client is forgotten, whatever the
        // redirect URI, so the consent page shows before its next code (unless pre-approved).
        const forgot = await this.#accounts.forgetConsents(accountId, clientId);
        if (ended.length === 0 && !forgot) return undefined;
        const client = ended.length === 0 ? await this.provider.Client.find(clientId) : undefined;
        return { clientName: ended.at(-1)?.clientName ?? client?.clientName };
      },
      login: this.#options.login,
      logger: this.#options.logger,
    });
  }

  /**
   * The person's clients: those with live grants, and those approved without one (after a
   * sign-out), which would come back without asking; pre-approved ones are marked.
   */
  async #connectedClients(accountId: string): Promise<ConnectedClient[]> {
    const preapproved = new Set(this.#options.config.mcp_auth.server.preapproved_clients);
    const clients = await this.#grants.clients(accountId);
    for (const approval of await this.#accounts.approvals(accountId)) {
      if (clients.some((client) => client.clientId === approval.clientId)) continue;
      const client = await this.provider.Client.find(approval.clientId);
      clients.push({ ...approval, clientName: client?.clientName, lastUsedAt: undefined, grantIds: [] });
    }
    return clients
      .map((client) => ({ ...client, preapproved: preapproved.has(client.clientId) }))
      .sort((a, b) => b.approvedAt - a.approvedAt);
  }

  async close(): Promise<void> {
    await this.#documents?.close();
  }

  /** Paths this server answers: its endpoints, every form of its metadata (as isMetadataPath), its pages. */
  readonly paths: OwnedPaths = {
    exact: [DISCOVERY_PATH, AS_METADATA_PATH, ...Object.values(CONNECTED_CLIENTS_PATHS)],
    prefixes: ["/oauth/", "/interaction/", `${AS_METADATA_PATH}/`, `${DISCOVERY_PATH}/`],
    suffixes: [DISCOVERY_PATH, AS_METADATA_PATH],
  };

  /** Of those, the pages a person sees (sign-in steps, consent, connected clients): no CORS for them. */
  readonly pagePaths: OwnedPaths = {
    exact: Object.values(CONNECTED_CLIENTS_PATHS),
    prefixes: ["/interaction/"],
  };

  /**
   * The endpoints MCP clients call, some from other origins (browser clients): mounted
   * before the Origin guard and the session. Registration, pushed authorization and token
   * requests are rate-limited per client address; a registration's size is capped.
   */
  publicRouter(): Router {
    const router = express.Router();
    const limit = this.#options.config.mcp_auth.server.registration_rate_limit;
    const limited = (perMinute: number): RequestHandler =>
      rateLimit({
        windowMs: 60_000,
        limit: perMinute,
        standardHeaders: "draft-8",
        legacyHeaders: false,
        validate: false,
        handler: (_req, res) => {
          res
            .status(429)
            .json(
              new OAuthError("temporarily_unavailable", "Too many requests from this address; try again in a minute"),
            );
        },
      });
    // Registration is public and credential-free; browser clients register from their origin.
    const registrationCors = cors({ origin: true, methods: ["POST"], credentials: false, maxAge: 600 });
    router.options(ROUTES.registration, registrationCors);
    router.post(ROUTES.registration, registrationCors, limited(limit), registrationBodyCap);
    router.post(ROUTES.token, limited(limit * 10));
    // A pushed request is a stored record too, made by anyone: limited as registration is.
    router.post(ROUTES.pushed_authorization_request, limited(limit));
    router.use((req, res, next) => {
      const path = req.path;
      if (isMetadataPath(path) && path !== DISCOVERY_PATH) {
        if (req.method !== "GET" && req.method !== "HEAD" && req.method !== "OPTIONS") return next();
        // One document for every form; oidc-provider serves it at the OpenID path.
        req.url = DISCOVERY_PATH;
        req.originalUrl = DISCOVERY_PATH;
        return this.#handle(req, res);
      }
      if (path === ROUTES.authorization && req.method === "GET") this.#withBaselineScopes(req);
      if (path.startsWith("/oauth/") || path === DISCOVERY_PATH) return this.#handle(req, res);
      next();
    });
    return router;
  }

  /** The sign-in and consent steps: after the session middleware, behind the Origin guard. */
  interactionRouter(): Router {
    return new InteractionRoutes({
      provider: this.provider,
      accounts: this.#accounts,
      grants: this.#grants,
      login: this.#options.login,
      policy: this.#options.policy,
      logger: this.#options.logger,
      resource: this.#options.resource,
      scopes: this.scopes,
      baselineScopes: this.#baselineScopes,
      preapprovedClients: new Set(this.#options.config.mcp_auth.server.preapproved_clients),
      oidcScopes: OIDC_SCOPES,
    }).router();
  }

  /**
   * The baseline scopes join every authorization request: a client that asks for no scope
   * (RFC 6749 3.3 lets the server apply a default) still gets a usable token.
   */
  #withBaselineScopes(req: Request): void {
    const url = new URL(req.url, "http://authorize");
    const asked = (url.searchParams.get("scope") ?? "").split(" ").filter(Boolean);
    const missing = this.#baselineScopes.filter((scope) => !asked.includes(scope));
    if (missing.length === 0) return;
    url.searchParams.set("scope", [...asked, ...missing].join(" "));
    req.url = `${url.pathname}${url.search}`;
    req.originalUrl = req.url;
  }

  /** Hands a request to oidc-provider as if it had reached the public URL directly. */
  #handle(req: Request, res: Response): void {
    req.headers["x-forwarded-host"] = this.#forwardedHost;
    req.headers["x-forwarded-proto"] = this.#forwardedProto;
    this.#callback(req, res);
  }

  #listen(): void {
    const { logger } = this.#options;
    const failure = (event: string) => (ctx: KoaContextWithOIDC, error: Error) => {
      const oauth = error as Partial<oidcErrors.OIDCProviderError>;
      logger.warn("oauth request refused", {
        endpoint: event,
        error: oauth.error ?? error.message,
        ...(oauth.error_description ? { error_description: oauth.error_description } : {}),
        // The reason oidc-provider keeps from the client ("refresh token already used", ...).
        ...(oauth.error_detail ? { detail: oauth.error_detail } : {}),
        client_id: ctx.oidc?.client?.clientId,
      });
    };
    this.provider.on("authorization.error", failure("authorization"));
    this.provider.on("grant.error", failure("token"));
    this.provider.on("registration_create.error", failure("registration"));
    this.provider.on("revocation.error", failure("revocation"));
    this.provider.on("server_error", (ctx, error) => {
      // The store did not answer: 503 + Retry-After in OAuth's words, not oidc-provider's 500.
      if (isStoreUnavailable(error)) {
        logger.warn("oauth request failed: the session store is unavailable", { endpoint: ctx.oidc?.route });
        answerStoreUnavailable(ctx, error);
        return;
      }
      logger.error("authorization server error", { error: error.message });
    });
    this.provider.on("grant.revoked", (_ctx, grantId) => this.verifier.forgetGrant(grantId));
    // When a client last got tokens, for the connected-clients page: not awaited, but sent to
    // the store before the token response is (one connection keeps its commands in order).
    this.provider.on("grant.success", (ctx) => {
      const grantId = ctx.oidc.entities.AccessToken?.grantId;
      if (!grantId) return;
      this.#grants.used(grantId).catch((error: Error) => {
        logger.warn("could not note when an MCP client last got tokens", { error: error.message });
      });
    });
    this.provider.on("access_token.destroyed", (token) => this.verifier.forgetToken(token.jti));
    this.provider.on("registration_create.success", (_ctx, client) =>
      logger.info("MCP client registered", { client_id: client.clientId, client_name: client.clientName }),
    );
  }
}
