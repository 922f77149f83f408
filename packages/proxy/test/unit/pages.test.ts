// The pieces behind the pages a person sees: who gets an HTML page, the error page's
// escaping, the CSRF comparison, and what a remembered consent covers.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { AccountDirectory } from "../../src/auth/authorization-server/accounts.ts";
import { isBrowserNavigation } from "../../src/auth/browser-login.ts";
import { newCsrfToken, sameCsrfToken } from "../../src/auth/csrf.ts";
import { isPageNavigation, renderErrorPage } from "../../src/error-page.ts";
import { memoryKeyValue } from "../../src/session/key-value.ts";

const request = (method: string, headers: Record<string, string>) => ({ method, headers }) as IncomingMessage;
const CHROMIUM_PAGE = { accept: "text/html,application/xhtml+xml,*/*;q=0.8", "sec-fetch-mode": "navigate" };

describe("who gets an HTML page", () => {
  it("a browser's page loads and form posts; never fetch calls, MCP clients or curl", () => {
    assert.equal(isPageNavigation(request("GET", CHROMIUM_PAGE)), true);
    assert.equal(isPageNavigation(request("POST", CHROMIUM_PAGE)), true, "a form post is a page load");
    assert.equal(isPageNavigation(request("GET", { accept: "text/html", "sec-fetch-mode": "cors" })), false);
    assert.equal(isPageNavigation(request("POST", { accept: "application/json, text/event-stream" })), false);
    assert.equal(isPageNavigation(request("GET", { accept: "*/*" })), false);
    assert.equal(isPageNavigation(request("GET", { accept: "text/html,*/*" })), true, "a browser without Sec-Fetch");
  });

  it("only GET and HEAD page loads are sent to sign in", () => {
    assert.equal(isBrowserNavigation(request("GET", CHROMIUM_PAGE)), true);
    assert.equal(isBrowserNavigation(request("POST", CHROMIUM_PAGE)), false);
    assert.equal(isBrowserNavigation(request("GET", { accept: "application/json" })), false);
  });

  it("the error page escapes what it shows", () => {
    const html = renderErrorPage(
      { code: "FORBIDDEN", status: 403, message: "<script>x</script>", details: { reason: '"><img>' } },
      "<id>",
    );
    assert.doesNotMatch(html, /<script>|<img>|<id>/);
    assert.match(html, /&lt;script&gt;x&lt;\/script&gt;/);
    assert.match(html, /data-error-code="FORBIDDEN"/);
  });
});

describe("CSRF tokens of the proxy's forms", () => {
  it("match only the same token", () => {
    const token = newCsrfToken();
    assert.equal(sameCsrfToken(token, token), true);
    assert.equal(sameCsrfToken(token, `${token}x`), false);
    assert.equal(sameCsrfToken(token, newCsrfToken()), false);
    assert.equal(sameCsrfToken(token, undefined), false);
    assert.equal(sameCsrfToken(undefined, token), false);
    assert.equal(sameCsrfToken(token, [token]), false);
  });
});

describe("remembered consent", () => {
  const loopback = "http://127.0.0.1:33418/callback";
  const attacker = "https://attacker.example/steal";

  it("covers one client, its exact redirect URI and at most the scopes shown", async () => {
    const accounts = new AccountDirectory(memoryKeyValue(), 3600, ["test-secret"]);
    await accounts.rememberConsent("alice", "c1", loopback, ["openid", "mcp:tools"]);
    assert.equal(await accounts.hasConsented("alice", "c1", loopback, ["mcp:tools"]), true);
    assert.equal(await accounts.hasConsented("alice", "c1", loopback, ["mcp:tools", "mcp:admin"]), false);
    assert.equal(await accounts.hasConsented("alice", "c1", attacker, ["mcp:tools"]), false);
    assert.equal(await accounts.hasConsented("alice", "c1", `${loopback}/`, ["mcp:tools"]), false);
    assert.equal(await accounts.hasConsented("alice", "c2", loopback, ["mcp:tools"]), false);
    assert.equal(await accounts.hasConsented("bob", "c1", loopback, ["mcp:tools"]), false);
  });

  it("replaces an approval of the same redirect URI: what was shown last counts", async () => {
    const accounts = new AccountDirectory(memoryKeyValue(), 3600, ["test-secret"]);
    await accounts.rememberConsent("alice", "c1", loopback, ["mcp:tools", "mcp:admin"]);
    await accounts.rememberConsent("alice", "c1", loopback, ["mcp:tools"]);
    assert.equal(await accounts.hasConsented("alice", "c1", loopback, ["mcp:admin"]), false);
  });
});
