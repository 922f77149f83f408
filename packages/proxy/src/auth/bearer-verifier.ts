// Validates bearer access tokens issued by the upstream provider for this MCP server: a JWT
// signed by a key of the provider's JWKS (fetched once, re-fetched when an unknown key id
// appears: key rotation), from the expected issuer, for this resource (audience), not
// expired, with the required scopes. Verified tokens are remembered briefly (never past
// their expiry) so a busy client does not cost a signature check per request.
import { createRemoteJWKSet, customFetch, type JWTPayload, errors as joseErrors, jwtVerify } from "jose";
import { ProxyError } from "../errors.ts";
import type { ProviderFetch } from "./provider-fetch.ts";
import { groupsFrom, type SessionUser } from "./session-user.ts";

export interface VerifiedToken {
  user: SessionUser;
  scopes: string[];
  /** Epoch seconds. */
  expiresAt: number;
}

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
  /** Rejects with a BearerError when the token is not accepted. */
  verify(token: string): Promise<VerifiedToken>;
}

export class BearerVerifier implements TokenVerifier {
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;
  readonly #issuer: string;
  readonly #audiences: string[];
  readonly #requiredScopes: string[];
  readonly #groupsClaim: string;
  readonly #cacheTtlMs: number;
  readonly #cache = new Map<string, { token: VerifiedToken; until: number }>();
  readonly #now: () => number;

  constructor(options: {
    jwksUri: URL;
    issuer: string;
    audiences: string[];
    requiredScopes: string[];
    groupsClaim: string;
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
    this.#audiences = options.audiences;
    this.#requiredScopes = options.requiredScopes;
    this.#groupsClaim = options.groupsClaim;
    this.#cacheTtlMs = options.cacheTtlMs;
    this.#now = options.now ?? Date.now;
  }

  async verify(token: string): Promise<VerifiedToken> {
    const now = this.#now();
    const cached = this.#cache.get(token);
    if (cached && cached.until > now) return this.#checkScopes(cached.token);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#jwks, {
        issuer: this.#issuer,
        audience: this.#audiences,
        clockTolerance: 30,
        currentDate: new Date(now),
      }));
    } catch (error) {
      throw new BearerError("invalid_token", this.#reason(error), error);
    }
    if (typeof payload.sub !== "string" || typeof payload.exp !== "number") {
      throw new BearerError("invalid_token", "The access token names no subject or expiry");
    }
    const email = typeof payload.email === "string" ? payload.email : undefined;
    const name = typeof payload.name === "string" ? payload.name : undefined;
    const verified: VerifiedToken = {
      user: {
        id: payload.sub,
        ...(email ? { email } : {}),
        emailVerified: payload.email_verified === true,
        ...(name ? { name } : {}),
        groups: groupsFrom(payload as Record<string, unknown>, this.#groupsClaim),
        provider: this.#issuer,
      },
      scopes: scopesOf(payload),
      expiresAt: payload.exp,
    };
    this.#remember(token, verified, now);
    return this.#checkScopes(verified);
  }

  #checkScopes(token: VerifiedToken): VerifiedToken {
    const missing = this.#requiredScopes.filter((scope) => !token.scopes.includes(scope));
    if (missing.length > 0)
      throw new BearerError("insufficient_scope", `The access token lacks the scope ${missing.join(" ")}`);
    return token;
  }

  #remember(token: string, verified: VerifiedToken, now: number): void {
    if (this.#cacheTtlMs <= 0) return;
    if (this.#cache.size >= 10_000) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(token, { token: verified, until: Math.min(now + this.#cacheTtlMs, verified.expiresAt * 1000) });
  }

  #reason(error: unknown): string {
    if (error instanceof joseErrors.JWTExpired) return "The access token has expired";
    if (error instanceof joseErrors.JWTClaimValidationFailed) {
      return error.claim === "aud"
        ? "The access token is not for this MCP server"
        : `The access token's ${error.claim} is not accepted`;
    }
    if (error instanceof joseErrors.JWKSNoMatchingKey) return "The access token is signed by an unknown key";
    return "The access token is not valid";
  }
}
