// Provider tokens refreshed before they expire; a provider that is away keeps the session,
// a provider that refuses the refresh ends it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestBrowser } from "../support/browser.ts";
import { type Stack, startStack } from "../support/stack.ts";

function counter(metrics: string, event: string): number {
  const match = new RegExp(`^mcp_proxy_session_events_total\\{event="${event}"\\} (\\d+)$`, "m").exec(metrics);
  return match ? Number(match[1]) : 0;
}

describe("token refresh", () => {
  let stack: Stack;
  let proxyUrl: string;
  const alice = new TestBrowser();

  before(async () => {
    // Refresh when less than 2 h are left of a 1 h token: every request refreshes.
    stack = await startStack({ env: { OIDC_REFRESH_BEFORE_EXPIRY: "2h" } });
    proxyUrl = `http://127.0.0.1:${stack.ports[0]}`;
    assert.equal((await alice.signIn(`${proxyUrl}/`, "alice")).status, 200);
  });
  after(async () => {
    await stack.close();
  });

  it("refreshes the provider's tokens when they are due and keeps the session", async () => {
    const before = counter(await (await fetch(`${proxyUrl}/metrics`)).text(), "refreshed");
    const page = await alice.navigate(`${proxyUrl}/`);
    assert.equal(page.status, 200);
    const afterRefresh = counter(await (await fetch(`${proxyUrl}/metrics`)).text(), "refreshed");
    assert.equal(afterRefresh, before + 1);
  });

  it("keeps the session while the provider is unreachable, ends it when the provider refuses", async () => {
    await stack.idp.close();
    const during = await alice.navigate(`${proxyUrl}/`);
    assert.equal(during.status, 200, "a provider restart must not sign users out");

    // The provider comes back without any memory of the grant: the refresh is refused.
    await stack.reviveProvider();
    const response = await alice.fetch(`${proxyUrl}/mcp`, { method: "POST", body: "{}" });
    assert.equal(response.status, 401);
    const metrics = await (await fetch(`${proxyUrl}/metrics`)).text();
    assert.equal(counter(metrics, "refresh_failed"), 1);
  });
});
