// Refreshing a browser session's provider tokens (auth/token-refresh.ts), with the provider's
// token endpoint answered by an injected fetch (openid-client's customFetch) and the session
// kept in express-session's memory store: who decides when to refresh, what a refusal or an
// unreachable provider does to the session, and that concurrent requests share one refresh.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryStore, type SessionData } from "express-session";
import * as oidc from "openid-client";
import { TokenRefresher } from "../../../src/auth/token-refresh.ts";
import type { UpstreamOidc } from "../../../src/auth/upstream-oidc.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { createMetrics } from "../../../src/observability/metrics.ts";
import { SessionReader, type StoredSession } from "../../../src/session/session-reader.ts";

const ISSUER = "https://idp.test";
const MINUTE = 60_000;

/** A provider whose token endpoint answers with `answer` and counts the calls. */
function provider(answer: () => Promise<Response>, ready = true) {
  const calls = { count: 0 };
  const configuration = new oidc.Configuration(
    { issuer: ISSUER, token_endpoint: `${ISSUER}/token` },
    "mcp-oidc-proxy",
    "client-secret",
  );
  configuration[oidc.customFetch] = async () => {
    calls.count++;
    return answer();
  };
  const upstream = {
    isReady: () => ready,
    configuration: () => configuration,
    issuer: () => ISSUER,
  } as unknown as UpstreamOidc;
  return { upstream, calls };
}

async function setUp(upstream: UpstreamOidc) {
  const store = new MemoryStore();
  const sessions = new SessionReader({ cookieName: "mcp_session", secrets: ["s".repeat(32)], store });
  const metrics = createMetrics({ countSessions: async () => 0 });
  const refresher = new TokenRefresher({
    upstream,
    sessions,
    metrics,
    logger: createLogger("error"),
    refreshBeforeMs: MINUTE,
    mapping: () => ({ groupsClaim: "groups", provider: ISSUER, trustEmailWithoutVerifiedClaim: false }),
  });
  const data = {
    cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000) },
    user: { id: "alice", provider: ISSUER, groups: [] },
    tokens: { refreshToken: "refresh-1", idToken: "id-1", expiresAt: Date.now() + 10_000 },
  } as unknown as SessionData;
  const session: StoredSession = { id: "sid-1", data };
  await sessions.save(session);
  const stored = () =>
    new Promise<SessionData | null | undefined>((resolve, reject) =>
      store.get("sid-1", (err, value) => (err ? reject(err) : resolve(value))),
    );
  const refreshFailed = async () =>
    (await metrics.sessionEvents.get()).values.find((v) => v.labels.event === "refresh_failed")?.value ?? 0;
  return { refresher, session, stored, refreshFailed };
}

const oauthError = (error: string) =>
  Promise.resolve(Response.json({ error }, { status: 400, headers: { "content-type": "application/json" } }));

describe("token refresh", () => {
  it("refreshes only sessions with a refresh token whose tokens expire within the window", async () => {
    const { refresher } = await setUp(provider(() => oauthError("invalid_grant")).upstream);
    const now = 1_000_000;
    assert.equal(refresher.needsRefresh({ refreshToken: "r", expiresAt: now + MINUTE }, now), true);
    assert.equal(refresher.needsRefresh({ refreshToken: "r", expiresAt: now - 1 }, now), true);
    assert.equal(refresher.needsRefresh({ refreshToken: "r", expiresAt: now + MINUTE + 1 }, now), false);
    assert.equal(refresher.needsRefresh({ expiresAt: now }, now), false, "nothing to refresh with");
    assert.equal(refresher.needsRefresh({ refreshToken: "r" }, now), false, "no expiry known");
    assert.equal(refresher.needsRefresh(undefined, now), false);
  });

  it("ends the session when the provider refuses the refresh (invalid_grant)", async () => {
    const { upstream, calls } = provider(() => oauthError("invalid_grant"));
    const { refresher, session, stored, refreshFailed } = await setUp(upstream);
    assert.equal(await refresher.refresh(session), "ended");
    assert.equal(calls.count, 1);
    assert.equal(await stored(), undefined, "the session is gone from the store");
    assert.equal(await refreshFailed(), 1);
  });

  it("keeps the session while the provider cannot be reached, and while it is not discovered yet", async () => {
    const unreachable = provider(() => Promise.reject(new TypeError("fetch failed")));
    const first = await setUp(unreachable.upstream);
    assert.equal(await first.refresher.refresh(first.session), "deferred");
    assert.equal((await first.stored())?.tokens?.refreshToken, "refresh-1", "kept as it was");
    assert.equal(await first.refreshFailed(), 0);

    const undiscovered = provider(() => oauthError("invalid_grant"), false);
    const second = await setUp(undiscovered.upstream);
    assert.equal(await second.refresher.refresh(second.session), "deferred");
    assert.equal(undiscovered.calls.count, 0, "the provider is not asked before discovery");
  });

  it("lets concurrent requests of one session share one refresh", async () => {
    const { upstream, calls } = provider(() => oauthError("invalid_grant"));
    const { refresher, session } = await setUp(upstream);
    const outcomes = await Promise.all([refresher.refresh(session), refresher.refresh(session)]);
    assert.deepEqual(outcomes, ["ended", "ended"]);
    assert.equal(calls.count, 1, "one request to the provider");
  });
});
