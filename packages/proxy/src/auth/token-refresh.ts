// Keeps a browser session's provider tokens fresh. A refresh the provider refuses ends the
// session (the user was disabled or logged out there); a provider that cannot be reached
// leaves the session alone and the next request tries again, so a provider restart loses
// no session. Concurrent requests of one session share one refresh.
import * as oidc from "openid-client";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import type { SessionReader, StoredSession } from "../session/session-reader.ts";
import type { SessionUser, UpstreamTokens } from "./session-user.ts";
import { userFromClaims } from "./session-user.ts";
import type { UpstreamOidc } from "./upstream-oidc.ts";

export type RefreshOutcome = "fresh" | "refreshed" | "deferred" | "ended";

export class TokenRefresher {
  readonly #inFlight = new Map<string, Promise<RefreshOutcome>>();
  readonly #upstream: UpstreamOidc;
  readonly #sessions: SessionReader;
  readonly #metrics: ProxyMetrics;
  readonly #logger: Logger;
  readonly #refreshBeforeMs: number;
  readonly #groupsClaim: string;

  constructor(options: {
    upstream: UpstreamOidc;
    sessions: SessionReader;
    metrics: ProxyMetrics;
    logger: Logger;
    refreshBeforeMs: number;
    groupsClaim: string;
  }) {
    this.#upstream = options.upstream;
    this.#sessions = options.sessions;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#refreshBeforeMs = options.refreshBeforeMs;
    this.#groupsClaim = options.groupsClaim;
  }

  needsRefresh(tokens: UpstreamTokens | undefined, now = Date.now()): boolean {
    return Boolean(
      tokens?.refreshToken && tokens.expiresAt !== undefined && tokens.expiresAt - now <= this.#refreshBeforeMs,
    );
  }

  /** Refreshes in place (session.data is updated and saved) unless the session ends. */
  refresh(session: StoredSession): Promise<RefreshOutcome> {
    const running = this.#inFlight.get(session.id);
    if (running) return running;
    const attempt = this.#refresh(session).finally(() => this.#inFlight.delete(session.id));
    this.#inFlight.set(session.id, attempt);
    return attempt;
  }

  async #refresh(session: StoredSession): Promise<RefreshOutcome> {
    const tokens = session.data.tokens;
    if (!tokens?.refreshToken) return "fresh";
    if (!this.#upstream.isReady()) return "deferred";
    let fresh: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
    try {
      fresh = await oidc.refreshTokenGrant(this.#upstream.configuration(), tokens.refreshToken);
    } catch (error) {
      if (error instanceof oidc.ResponseBodyError) {
        this.#metrics.sessionEvents.inc({ event: "refresh_failed" });
        this.#logger.info("provider refused the refresh; ending the session", {
          user_id: session.data.user?.id,
          error: error.error,
        });
        await this.#sessions.destroy(session.id);
        return "ended";
      }
      this.#logger.warn("token refresh deferred: provider unreachable", { error: (error as Error).message });
      return "deferred";
    }
    const expiresIn = fresh.expiresIn();
    const idToken = fresh.id_token ?? tokens.idToken;
    // Providers that rotate refresh tokens return a new one; others keep the old one valid.
    const refreshToken = fresh.refresh_token ?? tokens.refreshToken;
    session.data.tokens = {
      ...(idToken ? { idToken } : {}),
      refreshToken,
      ...(expiresIn !== undefined ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
    };
    const claims = fresh.claims();
    const user: SessionUser | undefined = session.data.user;
    if (claims && user) {
      session.data.user = userFromClaims(claims, { groupsClaim: this.#groupsClaim, provider: user.provider });
    }
    await this.#sessions.save(session);
    this.#metrics.sessionEvents.inc({ event: "refreshed" });
    return "refreshed";
  }
}
