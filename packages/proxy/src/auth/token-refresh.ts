// Keeps a browser session's provider tokens fresh. A refresh the provider refuses ends the
// session (the user was disabled or logged out there); a provider that cannot be reached
// leaves the session alone and the next request tries again, so a provider restart loses
// no session. Concurrent requests of one session share one refresh.
import * as oidc from "openid-client";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import type { SessionReader, StoredSession } from "../session/session-reader.ts";
import { userFromTokenResponse } from "./provider-user.ts";
import type { ClaimsMapping, SessionUser, UpstreamTokens } from "./session-user.ts";
import type { UpstreamOidc } from "./upstream-oidc.ts";

export type RefreshOutcome = "fresh" | "refreshed" | "deferred" | "ended";

export class TokenRefresher {
  readonly #inFlight = new Map<string, Promise<RefreshOutcome>>();
  readonly #upstream: UpstreamOidc;
  readonly #sessions: SessionReader;
  readonly #metrics: ProxyMetrics;
  readonly #logger: Logger;
  readonly #refreshBeforeMs: number;
  readonly #mapping: (provider: string) => ClaimsMapping;

  constructor(options: {
    upstream: UpstreamOidc;
    sessions: SessionReader;
    metrics: ProxyMetrics;
    logger: Logger;
    refreshBeforeMs: number;
    /** How claims become the user, for users of a provider. */
    mapping: (provider: string) => ClaimsMapping;
  }) {
    this.#upstream = options.upstream;
    this.#sessions = options.sessions;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#refreshBeforeMs = options.refreshBeforeMs;
    this.#mapping = options.mapping;
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
    const user: SessionUser | undefined = session.data.user;
    const result = await refreshUpstreamTokens(
      this.#upstream,
      { ...tokens, refreshToken: tokens.refreshToken },
      this.#mapping(user?.provider ?? this.#upstream.issuer()),
    );
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
    // The user as the provider describes them now (groups change); same subject only.
    if (result.user && user && result.user.id === user.id) session.data.user = result.user;
    await this.#sessions.save(session);
    this.#metrics.sessionEvents.inc({ event: "refreshed" });
    return "refreshed";
  }
}

export type UpstreamRefresh =
  /** user: as the fresh ID token (and userinfo) describe them; undefined when there is none. */
  | { kind: "refreshed"; tokens: UpstreamTokens; user: SessionUser | undefined }
  /** The provider said no (invalid_grant): the user's sign-in there is over. */
  | { kind: "refused"; error: string }
  /** The provider could not be asked; try again later. */
  | { kind: "deferred"; error?: string };

/** One refresh of the provider's tokens, for browser sessions and MCP clients' grants alike. */
export async function refreshUpstreamTokens(
  upstream: UpstreamOidc,
  tokens: UpstreamTokens & { refreshToken: string },
  mapping: ClaimsMapping,
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
  // Userinfo not answering now keeps the user as they were (the tokens are fresh regardless).
  const user = await userFromTokenResponse(upstream, fresh, mapping).catch(() => undefined);
  return {
    kind: "refreshed",
    tokens: {
      ...(idToken ? { idToken } : {}),
      refreshToken,
      ...(expiresIn !== undefined ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
    },
    user,
  };
}
