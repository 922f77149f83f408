// The identity provider's signing keys (its JWKS), for the bearer tokens of mcp_auth.mode
// provider. A failure to get them is the provider's, not the token's: it is a 503 (retry),
// never a 401 that tells an MCP client to drop a good token, and never a stream ended by the
// recheck (decision 042). So the last key set fetched stays in use while a refetch fails,
// a refetch is due every KEYS_MAX_AGE_MS but runs behind the requests (none waits for it),
// and while the provider does not answer, a request that needs keys the proxy lacks (first
// use, an unknown key id) gets its 503 at once rather than after a timeout of its own: see
// docs/decisions/050-provider-keys-outlive-an-outage.md.
import { createLocalJWKSet, type FlattenedJWSInput, type JWSHeaderParameters, errors as joseErrors } from "jose";
import type { Logger } from "../observability/logger.ts";
import { ProviderUnreachable, providerUnavailable } from "./provider-failure.ts";
import type { ProviderFetch } from "./provider-fetch.ts";

/** A key set older than this is fetched again (behind the requests that use it meanwhile). */
export const KEYS_MAX_AGE_MS = 10 * 60_000;
/** A JWKS request unanswered this long has failed: well under any client's patience. */
export const KEYS_TIMEOUT_MS = 3_000;
/** After a failed fetch, the next is tried no sooner than this (the 503's Retry-After, 5 s). */
export const KEYS_RETRY_MS = 5_000;

type KeySet = ReturnType<typeof createLocalJWKSet>;

export interface ProviderKeysOptions {
  jwksUri: URL;
  /** A token signed by an unknown key fetches the keys again at most this often (mcp_auth.jwks_refresh_cooldown). */
  cooldownMs: number;
  fetch?: ProviderFetch | undefined;
  logger?: Logger | undefined;
  now?: () => number;
}

export class ProviderKeys {
  readonly #options: ProviderKeysOptions;
  readonly #now: () => number;
  #keys: KeySet | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  /** Set by a failed fetch, cleared by a good one: while set, nobody waits for the provider. */
  #failure: { at: number; error: ProviderUnreachable } | undefined;
  /** The one fetch under way: requests arriving meanwhile share it. */
  #pending: Promise<void> | undefined;

  constructor(options: ProviderKeysOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => Date.now());
  }

  /** The key lookup jose's jwtVerify calls: jose's own errors mean the token, a ProxyError the provider. */
  readonly key = async (header: JWSHeaderParameters, token: FlattenedJWSInput): ReturnType<KeySet> => {
    const keys = this.#keys ?? (await this.#fetchAwaited());
    if (this.#now() - this.#fetchedAt >= KEYS_MAX_AGE_MS) this.#fetchBehind();
    try {
      return await keys(header, token);
    } catch (error) {
      // An unknown key id may be a rotation: the keys are fetched again (once per cooldown).
      const coolingDown = this.#now() - this.#fetchedAt < this.#options.cooldownMs;
      if (!(error instanceof joseErrors.JWKSNoMatchingKey) || coolingDown) throw error;
      return (await this.#fetchAwaited())(header, token);
    }
  };

  /** Fresh keys, waited for; while the provider is failing a 503 at once (the fetch goes on behind). */
  async #fetchAwaited(): Promise<KeySet> {
    if (this.#failure) {
      this.#fetchBehind();
      throw providerUnavailable(this.#failure.error);
    }
    await this.#fetch();
    // Read again: the fetch just awaited set or cleared it.
    const failure = this.#failure as { error: ProviderUnreachable } | undefined;
    if (failure) throw providerUnavailable(failure.error);
    return this.#keys as KeySet;
  }

  /** Starts a fetch nobody waits for, unless one is under way or the last failed too recently. */
  #fetchBehind(): void {
    if (this.#failure && this.#now() - this.#failure.at < KEYS_RETRY_MS) return;
    void this.#fetch();
  }

  /** Fetches the key set once (concurrent callers share it); never rejects: the outcome is in #failure. */
  #fetch(): Promise<void> {
    this.#pending ??= this.#load().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #load(): Promise<void> {
    const { jwksUri, logger } = this.#options;
    try {
      const keys = createLocalJWKSet(await this.#download());
      const recovered = this.#failure !== undefined;
      this.#keys = keys;
      this.#fetchedAt = this.#now();
      this.#failure = undefined;
      if (recovered) logger?.info("identity provider's signing keys fetched again", { jwks_uri: jwksUri.href });
    } catch (failure) {
      // Worded as every provider call's failure is (provider-failure.ts): no answer, not 200, not a key set.
      const error = failure instanceof ProviderUnreachable ? failure : new ProviderUnreachable(jwksUri, failure);
      if (!this.#failure) {
        logger?.warn("identity provider's signing keys could not be fetched", {
          jwks_uri: jwksUri.href,
          error: error.message,
          // What bearer tokens meet meanwhile: the keys held, or a 503.
          keys_held: this.#keys !== undefined,
        });
      }
      this.#failure = { at: this.#now(), error };
    }
  }

  /** The provider's JWKS document; any failure (no answer, not 200, not JSON) rejects. */
  async #download(): Promise<Parameters<typeof createLocalJWKSet>[0]> {
    const fetchKeys = this.#options.fetch ?? fetch;
    const response = await fetchKeys(this.#options.jwksUri, {
      headers: { accept: "application/jwk-set+json, application/json" },
      // A redirect elsewhere is not the provider's key set.
      redirect: "manual",
      signal: AbortSignal.timeout(KEYS_TIMEOUT_MS),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`the JWKS request was answered ${response.status}`);
    }
    return (await response.json()) as Parameters<typeof createLocalJWKSet>[0];
  }
}
