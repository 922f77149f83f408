// Validates bearer access tokens issued by the upstream provider: a JWT signed by a key of
// the provider's JWKS (provider-keys.ts: a provider that cannot hand its keys out makes a
// 503, never a 401), from the expected issuer, not expired, not issued in the future. What it is
// for (audience) and what it allows (scopes) the authenticator checks, for every kind of
// token alike. Verified tokens are remembered briefly (never past their expiry) so a busy
// client does not cost a signature check per request.
import { type JWTPayload, errors as joseErrors, jwtVerify } from "jose";
import { ProxyError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { TtlCache } from "../ttl-cache.ts";
import type { ProviderFetch } from "./provider-fetch.ts";
import { ProviderKeys } from "./provider-keys.ts";
import { type ClaimsMapping, type SessionUser, userFromClaims } from "./session-user.ts";

/** What every token verifier yields; the authenticator decides on it. */
export interface VerifiedToken {
  user: SessionUser;
  scopes: string[];
  /** The token's audiences (aud). */
  audience: string[];
  /** Epoch seconds. */
  expiresAt: number;
  /** The OAuth client the token was issued to (client_id or azp), when the token names it. */
  clientId?: string;
}

/** Seconds of clock difference tolerated with the provider (exp, nbf, iat). */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** A 401 or 403 whose WWW-Authenticate carries an RFC 6750 error code. */
export class BearerError extends ProxyError {
  readonly oauthError: "invalid_token" | "insufficient_scope";
  /** The scopes to name in the challenge, when they differ from the resource's required ones. */
  readonly scopes: string[] | undefined;

  constructor(oauthError: "invalid_token" | "insufficient_scope", message: string, cause?: unknown, scopes?: string[]) {
    super(
      oauthError === "invalid_token" ? "UNAUTHORIZED" : "FORBIDDEN",
      oauthError === "invalid_token" ? 401 : 403,
      message,
      {
        details: { oauth_error: oauthError },
        cause,
      },
    );
    this.oauthError = oauthError;
    this.scopes = scopes;
  }
}

/** A scope claim that says something: a space-separated string or a list (not null, not a number). */
function isScopeClaim(value: unknown): boolean {
  return typeof value === "string" || Array.isArray(value);
}

/**
 * Whether a token for the proxy's own client id grants anything: scopes (scope, scp), or
 * app roles together with the client they were granted to (Entra ID's app-only tokens carry
 * roles and azp or appid; its ID tokens may carry the user's roles, but never azp or appid).
 */
function grantsAnything(payload: JWTPayload): boolean {
  if (isScopeClaim(payload.scope) || isScopeClaim(payload.scp)) return true;
  const requester = payload.azp ?? payload.appid ?? payload.client_id;
  return Array.isArray(payload.roles) && typeof requester === "string";
}

/**
 * Whether a JWT is an OpenID Connect ID token rather than an access token (decisions 039, 050).
 * An ID token says who signed in to a client; it is no grant to call this server, yet its
 * audience is a client id, which an admin may list in mcp_auth.audiences (Entra ID
 * issues access tokens for the client's own id). Providers do not all type their access
 * tokens (RFC 9068 at+jwt), so the ID token's own claims tell: at_hash, c_hash and s_hash
 * exist only in ID tokens (OpenID Connect Core 3.1.3.6, 3.3.2.11, FAPI), Keycloak marks
 * them typ "ID", Cognito token_use "id", and a nonce without any scope is an ID token (the
 * proxy's own sign-ins send a nonce; Keycloak before 24 copies it into access tokens, which
 * carry scopes). ID tokens from a refresh have none of these (no nonce: OpenID Connect Core
 * 12.2; Entra ID and Google add no at_hash there), so a token whose audience is the proxy's
 * own client id (`ownClientId`, the audience every ID token for it has) must grant something.
 */
export function isIdToken(payload: JWTPayload, header: { typ?: string | undefined }, ownClientId?: string): boolean {
  const typ = header.typ?.toLowerCase().replace(/^application\//, "");
  if (typ === "at+jwt") return false;
  if (["at_hash", "c_hash", "s_hash"].some((claim) => claim in payload)) return true;
  if (payload.typ === "ID" || payload.token_use === "id") return true;
  if ("nonce" in payload && !isScopeClaim(payload.scope) && !isScopeClaim(payload.scp)) return true;
  const audience = typeof payload.aud === "string" ? [payload.aud] : (payload.aud ?? []);
  return ownClientId !== undefined && audience.includes(ownClientId) && !grantsAnything(payload);
}

function scopesOf(payload: JWTPayload): string[] {
  const scope = payload.scope ?? payload.scp;
  if (typeof scope === "string") return scope.split(" ").filter(Boolean);
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === "string");
  return [];
}

/** What checks an MCP client's bearer token: the provider's JWTs or the proxy's own tokens. */
export interface TokenVerifier {
  /** Rejects with a BearerError when the token is not genuine, current and about a user. */
  verify(token: string): Promise<VerifiedToken>;
}

export class BearerVerifier implements TokenVerifier {
  readonly #keys: ProviderKeys;
  readonly #issuer: string;
  readonly #ownClientId: string | undefined;
  readonly #mapping: ClaimsMapping;
  readonly #cache: TtlCache<VerifiedToken>;
  readonly #now: () => number;

  constructor(options: {
    jwksUri: URL;
    issuer: string;
    /** oidc.client_id: a token for it that grants nothing is an ID token (isIdToken). */
    ownClientId?: string | undefined;
    /** How the token's claims become the user (the same mapping as browser sessions'). */
    mapping: ClaimsMapping;
    cacheTtlMs: number;
    jwksCooldownMs: number;
    fetch?: ProviderFetch | undefined;
    logger?: Logger | undefined;
    now?: () => number;
  }) {
    this.#keys = new ProviderKeys({
      jwksUri: options.jwksUri,
      cooldownMs: options.jwksCooldownMs,
      fetch: options.fetch,
      logger: options.logger,
      now: () => this.#now(),
    });
    this.#issuer = options.issuer;
    this.#ownClientId = options.ownClientId;
    this.#mapping = options.mapping;
    // Read from Date each time, not kept as a reference: a test that mocks Date moves this clock too.
    this.#now = options.now ?? (() => Date.now());
    this.#cache = new TtlCache({ ttlMs: options.cacheTtlMs, now: this.#now });
  }

  async verify(token: string): Promise<VerifiedToken> {
    const now = this.#now();
    const cached = this.#cache.get(token);
    if (cached) return cached;
    let payload: JWTPayload;
    let header: { typ?: string | undefined };
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(token, this.#keys.key, {
        issuer: this.#issuer,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(now),
      }));
    } catch (error) {
      // jose's errors are the token's; anything else (the provider's keys not to be had: a
      // 503 ProxyError) says nothing about it, so the client keeps its token and retries.
      if (!(error instanceof joseErrors.JOSEError)) throw error;
      throw new BearerError("invalid_token", this.#reason(error), error);
    }
    if (typeof payload.sub !== "string" || payload.sub === "" || typeof payload.exp !== "number") {
      throw new BearerError("invalid_token", "The access token names no subject or expiry");
    }
    if (isIdToken(payload, header, this.#ownClientId)) {
      throw new BearerError("invalid_token", "An ID token is not an access token; send the access token");
    }
    // jose checks iat only with maxTokenAge: a token "issued" in the future is refused here.
    if (typeof payload.iat === "number" && payload.iat > now / 1000 + CLOCK_TOLERANCE_SECONDS) {
      throw new BearerError("invalid_token", "The access token's iat is not accepted");
    }
    const clientId = typeof payload.client_id === "string" ? payload.client_id : payload.azp;
    const verified: VerifiedToken = {
      user: userFromClaims(payload, { ...this.#mapping, provider: this.#issuer }),
      scopes: scopesOf(payload),
      audience: typeof payload.aud === "string" ? [payload.aud] : (payload.aud ?? []),
      expiresAt: payload.exp,
      ...(typeof clientId === "string" ? { clientId } : {}),
    };
    this.#cache.set(token, verified, verified.expiresAt * 1000);
    return verified;
  }

  #reason(error: unknown): string {
    if (error instanceof joseErrors.JWTExpired) return "The access token has expired";
    if (error instanceof joseErrors.JWTClaimValidationFailed)
      return `The access token's ${error.claim} is not accepted`;
    if (error instanceof joseErrors.JWKSNoMatchingKey) return "The access token is signed by an unknown key";
    return "The access token is not valid";
  }
}
