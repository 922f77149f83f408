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
    const result = await refreshUpstreamTokens(this.#upstream, { ...tokens, refreshToken: tokens.refreshToken });
    if (result.kind === "deferred") {
      if (result.error) this.#logger.warn("token refresh deferred: provider unreachable", { error: result.error });
      return "deferred";
    }
    if (result.kind === "refused") {
      this.#metrics.sessionEvents.inc({ event: "refresh_failed" });
      this.#logger.info("provider refused the refresh; ending the session", {
        user_id: session.data.user?.id,
        error: result.error,
      });
      await this.#sessions.destroy(session.id);
      return "ended";
    }
    session.data.tokens = result.tokens;
    const user: SessionUser | undefined = session.data.user;
    if (result.claims && user) {
      session.data.user = userFromClaims(result.claims, { groupsClaim: this.#groupsClaim, provider: user.provider });
    }
    await this.#sessions.save(session);
    this.#metrics.sessionEvents.inc({ event: "refreshed" });
    return "refreshed";
  }
}

export type UpstreamRefresh =
  | { kind: "refreshed"; tokens: UpstreamTokens; claims: oidc.IDToken | undefined }
  /** The provider said no (invalid_grant): the user's sign-in there is over. */
  | { kind: "refused"; error: string }
  /** The provider could not be asked; try again later. */
  | { kind: "deferred"; error?: string };

/** One refresh of the provider's tokens, for browser sessions and MCP clients' grants alike. */
export async function refreshUpstreamTokens(
  upstream: UpstreamOidc,
  tokens: UpstreamTokens & { refreshToken: string },
): Promise<UpstreamRefresh> {
  if (!upstream.isReady()) return { kind: "deferred" };
  let fresh: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
  try {
    fresh = await oidc.refreshTokenGrant(upstream.configuration(), tokens.refreshToken);
  } catch (error) {
    if (error instanceof oidc.ResponseBodyError) return { kind: "refused", error: error.error };
    return { kind: "deferred", error: (error as Error).message };
  }
  const expiresIn = fresh.expiresIn();
  const idToken = fresh.id_token ?? tokens.idToken;
  // Providers that rotate refresh tokens return a new one; others keep the old one valid.
  const refreshToken = fresh.refresh_token ?? tokens.refreshToken;
  return {
    kind: "refreshed",
    tokens: {
      ...(idToken ? { idToken } : {}),
      refreshToken,
      ...(expiresIn !== undefined ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
    },
    claims: fresh.claims(),
  };
}
