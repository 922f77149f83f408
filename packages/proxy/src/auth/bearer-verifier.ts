// Validates bearer access tokens issued by the upstream provider: a JWT signed by a key of
// the provider's JWKS (fetched once, re-fetched when an unknown key id appears: key
// rotation), from the expected issuer, not expired, not issued in the future. What it is
// for (audience) and what it allows (scopes) the authenticator checks, for every kind of
// token alike. Verified tokens are remembered briefly (never past their expiry) so a busy
// client does not cost a signature check per request.
import { createRemoteJWKSet, customFetch, type JWTPayload, errors as joseErrors, jwtVerify } from "jose";
import { ProxyError } from "../errors.ts";
import { TtlCache } from "../ttl-cache.ts";
import type { ProviderFetch } from "./provider-fetch.ts";
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
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;
  readonly #issuer: string;
  readonly #mapping: ClaimsMapping;
  readonly #cache: TtlCache<VerifiedToken>;
  readonly #now: () => number;

  constructor(options: {
    jwksUri: URL;
    issuer: string;
    /** How the token's claims become the user (the same mapping as browser sessions'). */
    mapping: ClaimsMapping;
    cacheTtlMs: number;
    jwksCooldownMs: number;
    fetch?: ProviderFetch | undefined;
    now?: () => number;
  }) {
    this.#jwks = createRemoteJWKSet(options.jwksUri, {
      cooldownDuration: options.jwksCooldownMs,
      cacheMaxAge: 10 * 60_000,
      ...(options.fetch ? { [customFetch]: options.fetch as never } : {}),
    });
    this.#issuer = options.issuer;
    this.#mapping = options.mapping;
    this.#now = options.now ?? Date.now;
    this.#cache = new TtlCache({ ttlMs: options.cacheTtlMs, now: this.#now });
  }

  async verify(token: string): Promise<VerifiedToken> {
    const now = this.#now();
    const cached = this.#cache.get(token);
    if (cached) return cached;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#jwks, {
        issuer: this.#issuer,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(now),
      }));
    } catch (error) {
      throw new BearerError("invalid_token", this.#reason(error), error);
    }
    if (typeof payload.sub !== "string" || payload.sub === "" || typeof payload.exp !== "number") {
      throw new BearerError("invalid_token", "The access token names no subject or expiry");
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
