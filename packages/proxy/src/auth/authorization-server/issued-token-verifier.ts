// Validates the access tokens the proxy's own authorization server issued to MCP clients.
// They are opaque and looked up in the store on use, so a revoked token or grant stops
// working at once (within the cache time on other replicas); the lookup checks the expiry
// and yields the user, scopes, audience and client (the authenticator checks the latter).
// One lookup per token at a time: checks of one token arriving together (the stream recheck
// of streams that share it) wait for the same lookup.
// A token is good only while its grant is: a grant ended by a reused code or refresh token
// takes with it a token its racing twin saved a moment after the revocation. A token bound
// to a key (DPoP's jkt, mTLS's x5t#S256) is refused: it comes as a plain Bearer token here
// and the server issues none (decision 033), so one can only be left from elsewhere.
import type Provider from "oidc-provider";
import { TtlCache } from "../../ttl-cache.ts";
import { BearerError, type TokenVerifier, type VerifiedToken } from "../bearer-verifier.ts";
import type { SessionUser } from "../session-user.ts";

export class IssuedTokenVerifier implements TokenVerifier {
  readonly #provider: Provider;
  readonly #cache: TtlCache<{ token: VerifiedToken; grantId: string }>;

  constructor(options: { provider: Provider; cacheTtlMs: number }) {
    this.#provider = options.provider;
    this.#cache = new TtlCache({ ttlMs: options.cacheTtlMs });
  }

  async verify(token: string): Promise<VerifiedToken> {
    const cached = this.#cache.get(token);
    if (cached) return cached.token;
    // Opaque tokens are URL-safe random strings; anything else is not one of ours.
    if (!/^[A-Za-z0-9_-]{20,200}$/.test(token)) throw new BearerError("invalid_token", "The access token is not valid");
    return (await this.#cache.getOrLoad(token, () => this.#lookup(token))).token;
  }

  /** The token as the store holds it, checked; kept (by getOrLoad) until its expiry at most. */
  async #lookup(token: string): Promise<{ value: { token: VerifiedToken; grantId: string }; expiresAt: number }> {
    const stored = await this.#provider.AccessToken.find(token);
    if (!stored || stored.isExpired)
      throw new BearerError("invalid_token", "The access token is not valid or has expired");
    if (stored.jkt !== undefined || stored["x5t#S256"] !== undefined)
      throw new BearerError("invalid_token", "The access token is bound to a key and cannot be used as a Bearer token");
    const grant = stored.grantId ? await this.#provider.Grant.find(stored.grantId) : undefined;
    if (!grant) throw new BearerError("invalid_token", "The access token's grant has ended");
    const audience = (Array.isArray(stored.aud) ? stored.aud : [stored.aud]).filter(
      (aud): aud is string => typeof aud === "string",
    );
    const user = stored.extra?.user as SessionUser | undefined;
    if (!user) throw new BearerError("invalid_token", "The access token names no user");
    const verified: VerifiedToken = {
      user,
      scopes: (stored.scope ?? "").split(" ").filter(Boolean),
      audience,
      expiresAt: stored.exp ?? 0,
      ...(stored.clientId ? { clientId: stored.clientId } : {}),
    };
    return { value: { token: verified, grantId: stored.grantId }, expiresAt: verified.expiresAt * 1000 };
  }

  /** This replica forgets a revoked grant's tokens at once (others within the cache time). */
  forgetGrant(grantId: string): void {
    this.#cache.deleteWhere((entry) => entry.grantId === grantId);
  }

  forgetToken(token: string): void {
    this.#cache.delete(token);
  }
}
