// Keeps a browser session's provider tokens fresh. A refresh the provider refuses ends the
// session (the user was disabled or logged out there); a provider that cannot be reached
// leaves the session alone and the next request tries again, so a provider restart loses
// no session. Concurrent requests of one session share one refresh.
import type { Request } from "express";
import * as oidc from "openid-client";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import { userFromClaims } from "./session-user.ts";
import type { UpstreamOidc } from "./upstream-oidc.ts";

export type RefreshOutcome = "fresh" | "refreshed" | "deferred" | "ended";

export class TokenRefresher {
  readonly #inFlight = new Map<string, Promise<RefreshOutcome>>();
  readonly #upstream: UpstreamOidc;
  readonly #metrics: ProxyMetrics;
  readonly #logger: Logger;
  readonly #refreshBeforeMs: number;
  readonly #groupsClaim: string;

  constructor(options: {
    upstream: UpstreamOidc;
    metrics: ProxyMetrics;
    logger: Logger;
    refreshBeforeMs: number;
    groupsClaim: string;
  }) {
    this.#upstream = options.upstream;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#refreshBeforeMs = options.refreshBeforeMs;
    this.#groupsClaim = options.groupsClaim;
  }

  needsRefresh(req: Request, now = Date.now()): boolean {
    const tokens = req.session.tokens;
    return Boolean(
      tokens?.refreshToken && tokens.expiresAt !== undefined && tokens.expiresAt - now <= this.#refreshBeforeMs,
    );
  }

  refresh(req: Request): Promise<RefreshOutcome> {
    const running = this.#inFlight.get(req.sessionID);
    if (running) return running;
    const attempt = this.#refresh(req).finally(() => this.#inFlight.delete(req.sessionID));
    this.#inFlight.set(req.sessionID, attempt);
    return attempt;
  }

  async #refresh(req: Request): Promise<RefreshOutcome> {
    const tokens = req.session.tokens;
    if (!tokens?.refreshToken) return "fresh";
    if (!this.#upstream.isReady()) return "deferred";
    try {
      const fresh = await oidc.refreshTokenGrant(this.#upstream.configuration(), tokens.refreshToken);
      const expiresIn = fresh.expiresIn();
      req.session.tokens = {
        idToken: fresh.id_token ?? tokens.idToken,
        // Providers that rotate refresh tokens return a new one; others keep the old one valid.
        refreshToken: fresh.refresh_token ?? tokens.refreshToken,
        ...(expiresIn !== undefined ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
      } as typeof tokens;
      const claims = fresh.claims();
      if (claims && req.session.user) {
        req.session.user = userFromClaims(claims, {
          groupsClaim: this.#groupsClaim,
          provider: req.session.user.provider,
        });
      }
      this.#metrics.sessionEvents.inc({ event: "refreshed" });
      return "refreshed";
    } catch (error) {
      if (error instanceof oidc.ResponseBodyError) {
        this.#metrics.sessionEvents.inc({ event: "refresh_failed" });
        this.#logger.info("provider refused the refresh; ending the session", {
          user_id: req.session.user?.id,
          error: error.error,
        });
        await new Promise<void>((resolve) => req.session.destroy(() => resolve()));
        return "ended";
      }
      this.#logger.warn("token refresh deferred: provider unreachable", { error: (error as Error).message });
      return "deferred";
    }
  }
}
