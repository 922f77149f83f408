// The pieces behind the pages a person sees: who gets an HTML page, the error page's
// escaping, the CSRF comparison, and what a remembered consent covers.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { AccountDirectory } from "../../src/auth/authorization-server/accounts.ts";
import { renderConnectedClientsPage } from "../../src/auth/authorization-server/connected-clients-page.ts";
import { renderConsentPage } from "../../src/auth/authorization-server/consent-page.ts";
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

  // A security review showed a registered name with U+202E reading as another name.
  it("a client's name cannot be made to read as another's on the consent and connected-clients pages", () => {
    const name = "My \u202egnp.exe\u2066 App\u200b\u0007\u{e0041}\u00ad\u3164";
    const consent = renderConsentPage({
      uid: "u",
      csrfToken: "c",
      clientName: name,
      clientId: "id\u202e",
      redirectTarget: "localhost:1",
      redirectUri: "http://localhost:1/cb\u2067",
      scopes: ["mcp\u202e"],
      userLabel: "alice",
      resource: "http://proxy/mcp",
    });
    const connected = renderConnectedClientsPage({
      csrfToken: "c",
      userLabel: "alice",
      clients: [
        {
          clientId: "id",
          clientName: name,
          redirectUris: ["http://localhost:1/cb"],
          approvedAt: 0,
          lastUsedAt: undefined,
          grantIds: [],
        },
      ],
      revoked: name,
    });
    for (const html of [consent, connected]) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the controls are what it looks for.
      assert.doesNotMatch(html, /[\u202a-\u202e\u2066-\u2069\u200b\u0007]/u);
      assert.match(html, /My \ufffdgnp\.exe\ufffd App\ufffd\ufffd\ufffd\ufffd\ufffd/u);
    }
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
