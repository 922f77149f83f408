// The upstream OpenID provider, through openid-client. Discovery starts with the proxy and
// is retried with backoff in the background while the provider is unreachable or silent; until it
// succeeds the proxy is not ready and logins answer 503 (fail closed).
import * as oidc from "openid-client";
import type { OidcSettings } from "../config/resolve.ts";
import { isLoopbackHost } from "../config/validate.ts";
import { ProxyError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { type ProviderFetch, providerFetch } from "./provider-fetch.ts";

const MAX_RETRY_DELAY_MS = 30_000;

/**
 * Why discovery failed, in words an operator can act on: a network failure arrives worded
 * (provider-failure.ts, through provider-fetch.ts, as every provider call's does);
 * openid-client's "issuer does not match" names neither issuer, so both are added here.
 */
export function discoveryFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { attribute?: string; expected?: string; body?: unknown } | undefined;
  if (cause?.attribute === "issuer" && cause.expected !== undefined) {
    const declared = (cause.body as { issuer?: unknown } | undefined)?.issuer;
    return `${error.message}: expected ${cause.expected}, the provider declares ${JSON.stringify(declared)}; set oidc.discovery_url to the issuer the provider declares`;
  }
  return error.message;
}

export class UpstreamOidc {
  readonly issuerUrl: URL;
  /** fetch trusting oidc.ca_file, when set, and naming why a call failed; also used for the provider's JWKS. */
  readonly fetch: ProviderFetch;
  #configuration: oidc.Configuration | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** The proxy's client id at the provider. */
  readonly clientId: string;
  readonly #settings: OidcSettings;
  readonly #logger: Logger;

  constructor(settings: OidcSettings, logger: Logger) {
    this.#settings = settings;
    this.#logger = logger;
    this.issuerUrl = new URL(settings.discovery_url);
    this.clientId = settings.client_id;
    this.fetch = providerFetch(settings.ca_file);
  }

  #firstAttempt: Promise<void> | undefined;

  /** Starts discovery in the background: the first attempt may wait for its timeout on a silent provider. */
  start(): void {
    this.#firstAttempt ??= this.#discover(0);
  }

  /** Settles after discovery's first attempt (started by start()), whatever its outcome. */
  firstAttempt(): Promise<void> {
    return this.#firstAttempt ?? Promise.resolve();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
  }

  isReady(): boolean {
    return this.#configuration !== undefined;
  }

  /** The discovered provider; a 503 OIDC_ERROR while discovery has not succeeded. */
  configuration(): oidc.Configuration {
    if (!this.#configuration) {
      throw new ProxyError("OIDC_ERROR", 503, "The identity provider is not reachable yet; try again shortly");
    }
    return this.#configuration;
  }

  /**
   * The issuer identifier the provider declared (stable name for X-Auth-Provider). Until
   * discovery succeeds (the proxy listens before, decision 040): the configured issuer as
   * written, since clients compare issuers as strings and URL.href would add a slash.
   */
  issuer(): string {
    return (
      this.#configuration?.serverMetadata().issuer ??
      this.#settings.discovery_url.replace(/\/\.well-known\/openid-configuration\/?$/, "")
    );
  }

  async #discover(attempt: number): Promise<void> {
    const { client_id, client_secret } = this.#settings;
    const insecure =
      this.issuerUrl.protocol === "http:" &&
      (isLoopbackHost(this.issuerUrl.hostname) || this.#settings.allow_insecure_issuer);
    try {
      this.#configuration = await oidc.discovery(
        this.issuerUrl,
        client_id,
        client_secret ? { client_secret } : undefined,
        client_secret ? oidc.ClientSecretPost(client_secret) : oidc.None(),
        {
          execute: insecure ? [oidc.allowInsecureRequests] : [],
          timeout: 10,
          // Kept by the Configuration for every later request (token, refresh, userinfo).
          [oidc.customFetch]: this.fetch as oidc.CustomFetch,
        },
      );
      this.#logger.info("identity provider discovered", { issuer: this.issuer() });
    } catch (error) {
      if (this.#stopped) return;
      const delay = Math.min(1000 * 2 ** attempt, MAX_RETRY_DELAY_MS);
      this.#logger.warn("identity provider discovery failed; retrying", {
        issuer: this.issuerUrl.href,
        error: discoveryFailure(error),
        retry_in_ms: delay,
      });
      this.#retryTimer = setTimeout(() => void this.#discover(attempt + 1), delay);
      this.#retryTimer.unref();
    }
  }
}
