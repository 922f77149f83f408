// Every page a person sees, in a real browser (Chromium): the sign-in start and the
// provider's sign-in form, the return after sign-in, the sign-out page, the error pages,
// and the consent page where a person approves an MCP client. One browser for the file,
// a fresh context (cookies) per test.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import {
  clickAndWait,
  type LoopbackSite,
  launchChromium,
  openSignedIn,
  sessionStatus,
  startLoopbackSite,
} from "../support/chromium.ts";
import { initializeWithToken } from "../support/mcp-oauth-client.ts";
import { type Stack, startStack } from "../support/stack.ts";

let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser.close());

describe("the pages of the browser sign-in, in Chromium", () => {
  let stack: Stack;
  let proxyUrl: string;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    stack = await startStack({ env: { ACCESS_REQUIRED_GROUPS: "mcp-users" } });
    proxyUrl = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());
  beforeEach(async () => {
    context = await browser.newContext();
    page = await context.newPage();
  });
  afterEach(() => context.close());

  it("sends a person to the provider's sign-in form and back to the page first asked for", async () => {
    await page.goto(`${proxyUrl}/deep/page?x=1`);
    assert.ok(page.url().startsWith(stack.idp.issuer), `at the provider: ${page.url()}`);
    await openSignedIn(page, page.url(), "alice", stack.idp.issuer);
    assert.equal(page.url(), `${proxyUrl}/deep/page?x=1`);
    assert.equal(await sessionStatus(context, proxyUrl), 200);
  });

  it("open redirect after sign-in: a return path that normalizes to //host stays on the proxy", async () => {
    await openSignedIn(page, `${proxyUrl}/`, "alice", stack.idp.issuer);
    // Signed in already: before the fix this was one click, no page, and a foreign site.
    for (const trick of ["/.//evil.example/x", "/%2e//evil.example", "/x/..//evil.example", "/\\evil.example"]) {
      await page.goto(`${proxyUrl}/login?rd=${encodeURIComponent(trick)}`);
      await openSignedIn(page, page.url(), "alice", stack.idp.issuer);
      assert.equal(page.url(), `${proxyUrl}/`, `rd=${trick}`);
    }
  });

  it("abandoned sign-ins locked the browser out with a raw 431: after 50 of them a normal sign-in works", async () => {
    // Each start of a sign-in left a transaction cookie for /callback; an attacker's popup
    // navigated to /login 40 times made /callback's request headers too large for 10 minutes.
    for (let i = 0; i < 50; i++) await page.goto(`${proxyUrl}/login?rd=/${i}`, { waitUntil: "commit" });
    const transactions = (await context.cookies(`${proxyUrl}/callback`)).filter((c) => /^mcp_login_/.test(c.name));
    assert.ok(transactions.length <= 6, `transaction cookies kept: ${transactions.length}`);
    await openSignedIn(page, `${proxyUrl}/deep/page`, "alice", stack.idp.issuer);
    assert.equal(page.url(), `${proxyUrl}/deep/page`);
    assert.equal(await sessionStatus(context, proxyUrl), 200);
  });

  it("request headers too large (431): a page load gets the short HTML error page, a program JSON", async () => {
    const url = new URL(proxyUrl);
    await context.addCookies(
      Array.from({ length: 20 }, (_, i) => ({
        name: `big${i}`,
        value: "x".repeat(1000),
        domain: url.hostname,
        path: "/",
      })),
    );
    const response = await page.goto(`${proxyUrl}/`);
    assert.equal(response?.status(), 431);
    assert.match(response?.headers()["content-type"] ?? "", /^text\/html/);
    assert.match((await page.locator("h1").textContent()) ?? "", /too large/i);
    const program = await context.request.get(`${proxyUrl}/api/v1/session`, { failOnStatusCode: false });
    assert.equal(program.status(), 431);
    assert.equal(((await program.json()) as { error: { code: string } }).error.code, "BAD_REQUEST");
  });

  it("shows a short HTML page, not JSON, when the access rules refuse a person", async () => {
    await openSignedIn(page, `${proxyUrl}/`, "bob", stack.idp.issuer);
    assert.equal(await page.locator("body").getAttribute("data-error-code"), "FORBIDDEN");
    assert.match((await page.locator("h1").textContent()) ?? "", /Not allowed/);
    assert.match((await page.locator("body").textContent()) ?? "", /required group/);
  });

  it("shows a short HTML page for a sign-in answer it did not ask for", async () => {
    const response = await page.goto(`${proxyUrl}/callback?code=abc&state=not-issued-here`);
    assert.equal(response?.status(), 400);
    assert.match(response?.headers()["content-type"] ?? "", /^text\/html/);
    assert.equal(await page.locator("body").getAttribute("data-error-code"), "INVALID_SESSION");
  });

  describe("sign-out", () => {
    let otherSite: LoopbackSite;
    before(async () => {
      // Another site (localhost, the proxy is 127.0.0.1) linking to and posting at /logout.
      const target = `http://127.0.0.1:${stack.ports[0]}/logout`;
      otherSite = await startLoopbackSite(
        `<a href="${target}">win a prize</a><form method="post" action="${target}"><button>claim</button></form>`,
        "localhost",
      );
    });
    after(() => otherSite.close());

    it("logout CSRF: a link on another site to /logout shows the sign-out page and ends nothing", async () => {
      await openSignedIn(page, `${proxyUrl}/`, "alice", stack.idp.issuer);
      await page.goto(otherSite.url);
      await page.getByRole("link", { name: "win a prize" }).click();
      await page.waitForLoadState("load");
      assert.equal(page.url(), `${proxyUrl}/logout`);
      assert.ok(await page.getByRole("button", { name: "Sign out" }).isVisible());
      assert.equal(await sessionStatus(context, proxyUrl), 200, "still signed in");
    });

    it("logout CSRF: a form on another site posting to /logout is refused and ends nothing", async () => {
      await openSignedIn(page, `${proxyUrl}/`, "alice", stack.idp.issuer);
      await page.goto(otherSite.url);
      await clickAndWait(page, "claim");
      assert.equal(await page.locator("body").getAttribute("data-error-code"), "FORBIDDEN");
      assert.equal(await sessionStatus(context, proxyUrl), 200, "still signed in");
    });

    it("signs out when the person clicks Sign out, and the provider ends its session too", async () => {
      await openSignedIn(page, `${proxyUrl}/`, "alice", stack.idp.issuer);
      await page.goto(`${proxyUrl}/logout`);
      await clickAndWait(page, "Sign out");
      assert.equal(await sessionStatus(context, proxyUrl), 401, "the proxy's session ended");
      // RP-initiated logout: the provider asks, the person confirms, and is back at the proxy,
      // which sends a person without a session to sign in again.
      assert.ok(page.url().startsWith(stack.idp.issuer), `at the provider: ${page.url()}`);
      await clickAndWait(page, /Yes, sign me out/);
      assert.ok(page.url().startsWith(stack.idp.issuer), `signing in again: ${page.url()}`);
      assert.equal(await page.locator('input[name="login"]').count(), 1, "the provider's session ended as well");
    });

    it("tells a person without a session that they are not signed in", async () => {
      await page.goto(`${proxyUrl}/logout`);
      assert.equal(await page.locator("body").getAttribute("data-mcp-signed-out"), "");
    });
  });
});

describe("the consent page of MCP clients, in Chromium", () => {
  let stack: Stack;
  let base: string;
  let app: LoopbackSite;
  let context: BrowserContext;
  let page: Page;
  /** Navigations the browser made to the attacker's redirect URI. */
  let attackerHits: string[];
  const ATTACKER = "https://attacker.example/steal";

  before(async () => {
    [stack, app] = await Promise.all([
      startStack({ env: { MCP_AUTH_MODE: "proxy", MCP_REQUIRED_SCOPES: "mcp:tools" } }),
      // The MCP client's own loopback listener, as VS Code and the SDKs run one.
      startLoopbackSite("<p>You can close this window.</p>"),
    ]);
    base = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(async () => {
    await app.close();
    await stack.close();
  });
  beforeEach(async () => {
    context = await browser.newContext();
    attackerHits = [];
    // attacker.example does not resolve here (the visit fails); the browser's request to it
    // is recorded (a redirect's target too, which routes would not see).
    context.on("request", (request) => {
      if (request.url().startsWith(new URL(ATTACKER).origin)) attackerHits.push(request.url());
    });
    page = await context.newPage();
  });
  afterEach(() => context.close());

  async function register(redirectUris: string[]): Promise<string> {
    const response = await fetch(`${base}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        client_name: "Chromium's <b>client</b>",
        redirect_uris: redirectUris,
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"],
      }),
    });
    assert.equal(response.status, 201, await response.clone().text());
    return ((await response.json()) as { client_id: string }).client_id;
  }

  function authorizeUrl(clientId: string, redirectUri: string, verifier: string, scope = "mcp:tools"): string {
    const url = new URL(`${base}/oauth/authorize`);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: clientId,
      redirect_uri: redirectUri,
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
      state: "s1",
      scope,
      resource: base,
    }).toString();
    return url.href;
  }

  async function redeem(clientId: string, code: string, redirectUri: string, verifier: string): Promise<string> {
    const response = await fetch(`${base}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: clientId,
        code,
        code_verifier: verifier,
        redirect_uri: redirectUri,
        resource: base,
      }).toString(),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { access_token: string }).access_token;
  }

  const isConsentPage = async () => (await page.locator("[data-mcp-consent]").count()) === 1;

  it("consent page unusable in a real browser: Allow posts with the page's Origin and the client gets a working code", async () => {
    const callback = `${app.url}/callback`;
    const clientId = await register([callback]);
    const verifier = randomBytes(32).toString("base64url");
    const shown = page.waitForResponse(
      (response) => response.url().startsWith(`${base}/interaction/`) && response.status() === 200,
    );
    await openSignedIn(page, authorizeUrl(clientId, callback, verifier), "alice", stack.idp.issuer);
    assert.ok(await isConsentPage(), `the consent page: ${page.url()}`);
    // The name the client registered, shown as text (escaped), with the exact redirect URI.
    assert.equal(await page.locator("h1").textContent(), "Allow Chromium's <b>client</b>?");
    assert.match((await page.locator("body").textContent()) ?? "", new RegExp(callback.replaceAll(".", "\\.")));
    const pageHeaders = (await shown).headers();
    assert.equal(pageHeaders["x-frame-options"], "DENY");
    assert.match(pageHeaders["content-security-policy"] ?? "", /frame-ancestors 'none'/);
    assert.equal(pageHeaders["referrer-policy"], "same-origin");
    const posted = page.waitForRequest((request) => request.method() === "POST");
    await clickAndWait(page, "Allow");
    // What a browser sends with the form (and what test/support/browser.ts copies).
    const headers = await (await posted).allHeaders();
    assert.equal(headers.origin, base);
    assert.equal(headers["sec-fetch-site"], "same-origin");
    const landing = new URL(page.url());
    assert.equal(landing.origin + landing.pathname, callback, `at the client: ${page.url()}`);
    assert.equal(landing.searchParams.get("state"), "s1");
    const token = await redeem(clientId, landing.searchParams.get("code") ?? "", callback, verifier);
    const initialized = await initializeWithToken(`${base}/mcp`, token);
    assert.equal(initialized.status, 200);
    await initialized.body?.cancel();
  });

  it("sends the client access_denied when the person clicks Deny", async () => {
    const callback = `${app.url}/callback`;
    const clientId = await register([callback]);
    await openSignedIn(page, authorizeUrl(clientId, callback, "v".repeat(43)), "alice", stack.idp.issuer);
    await clickAndWait(page, "Deny");
    const landing = new URL(page.url());
    assert.equal(landing.origin + landing.pathname, callback);
    assert.equal(landing.searchParams.get("error"), "access_denied");
    assert.equal(landing.searchParams.get("code"), null);
  });

  it("consent remembered per client, not per redirect URI: another redirect URI or more scopes show the page again", async () => {
    const callback = `${app.url}/callback`;
    const clientId = await register([callback, ATTACKER]);
    await openSignedIn(page, authorizeUrl(clientId, callback, "v".repeat(43)), "alice", stack.idp.issuer);
    await clickAndWait(page, "Allow");
    assert.ok(new URL(page.url()).searchParams.get("code"), "approved for the loopback URI");

    // The same client, the same person, its other redirect URI: no code without the page.
    await page.goto(authorizeUrl(clientId, ATTACKER, "w".repeat(43)));
    assert.ok(await isConsentPage(), `the consent page again, not ${page.url()}`);
    assert.deepEqual(attackerHits, []);
    assert.match((await page.locator("body").textContent()) ?? "", /attacker\.example\/steal/);
    await clickAndWait(page, "Deny");
    assert.equal(attackerHits.length, 1);
    assert.equal(new URL(attackerHits[0] ?? "").searchParams.get("code"), null, "no code for the attacker");

    // The approved URI is still remembered: straight back to the client (a new tab: the
    // failed visit of attacker.example still settles in the first one).
    page = await context.newPage();
    await page.goto(authorizeUrl(clientId, callback, "v".repeat(43)));
    assert.ok(new URL(page.url()).searchParams.get("code"), `no page for the approved URI: ${page.url()}`);
    // More scopes than were shown: the page again.
    await page.goto(authorizeUrl(clientId, callback, "v".repeat(43), "mcp:tools openid email"));
    assert.ok(await isConsentPage(), `the consent page for more scopes, not ${page.url()}`);
    assert.match((await page.locator("ul").textContent()) ?? "", /email/);
  });

  it("shows an HTML error page for an authorization request with an unregistered redirect URI", async () => {
    const clientId = await register([`${app.url}/callback`]);
    const response = await page.goto(authorizeUrl(clientId, `${app.url}/elsewhere`, "v".repeat(43)));
    assert.equal(response?.status(), 400);
    assert.equal(await page.locator("body").getAttribute("data-error-code"), "OIDC_ERROR");
  });
});
