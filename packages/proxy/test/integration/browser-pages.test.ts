// Every page a person sees, in a real browser (Chromium): the sign-in start and the
// provider's sign-in form, the return after sign-in, the sign-out page, the error pages.
import assert from "node:assert/strict";
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
import { type Stack, startStack } from "../support/stack.ts";

describe("the pages of the browser sign-in, in Chromium", () => {
  let stack: Stack;
  let proxyUrl: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    [stack, browser] = await Promise.all([
      startStack({ env: { ACCESS_REQUIRED_GROUPS: "mcp-users" } }),
      launchChromium(),
    ]);
    proxyUrl = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(async () => {
    await browser.close();
    await stack.close();
  });
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

  it("shows a short HTML page, not JSON, when the access rules refuse a person", async () => {
    await openSignedIn(page, `${proxyUrl}/`, "bob", stack.idp.issuer);
    assert.equal(await page.locator("body").getAttribute("data-error-code"), "FORBIDDEN");
    assert.match(await page.locator("h1").innerText(), /Not allowed/);
    assert.match(await page.locator("body").innerText(), /required group/);
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
