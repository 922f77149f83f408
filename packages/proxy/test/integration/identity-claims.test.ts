// Who the proxy thinks a signed-in person is, against the development provider configured
// as real providers behave: no email_verified claim (Entra ID's default), claims only in the
// userinfo response (OpenID Connect Core §5.4; oidc-provider's own default).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestBrowser } from "../support/browser.ts";
import { type Stack, startStack } from "../support/stack.ts";

describe("a provider that sends no email_verified", () => {
  let stack: Stack;
  let proxyUrl: string;

  before(async () => {
    stack = await startStack({
      idp: { omitEmailVerified: true },
      env: { ACCESS_ALLOWED_EMAIL_DOMAINS: "example.com" },
    });
    proxyUrl = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());

  it("unverified e-mail no longer counts as verified: allowed_email_domains refuses the browser session", async () => {
    const page = await new TestBrowser().signIn(`${proxyUrl}/`, "alice");
    assert.equal(page.status, 403, page.text);
  });

  it("admits it with oidc.insecure_allow_unverified_email (OIDC_INSECURE_ALLOW_UNVERIFIED_EMAIL)", async () => {
    await stack.proxies[0]?.shutdown();
    await stack.startProxy(0, { OIDC_INSECURE_ALLOW_UNVERIFIED_EMAIL: "true" });
    const browser = new TestBrowser();
    const page = await browser.signIn(`${proxyUrl}/`, "alice");
    assert.equal(page.status, 200, page.text);
    const session = (await (await browser.fetch(`${proxyUrl}/api/v1/session`)).json()) as {
      user: { emailVerified: boolean };
    };
    assert.equal(session.user.emailVerified, true);
  });
});

describe("a provider that puts e-mail, name and groups only in userinfo", () => {
  let stack: Stack;
  let proxyUrl: string;

  before(async () => {
    stack = await startStack({
      idp: { claimsOnlyInUserinfo: true },
      // Refresh when less than 2 h are left of a 1 h token: every request refreshes.
      env: {
        ACCESS_REQUIRED_GROUPS: "admins",
        ACCESS_ALLOWED_EMAIL_DOMAINS: "example.com",
        OIDC_REFRESH_BEFORE_EXPIRY: "2h",
      },
    });
    proxyUrl = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());

  it("claims only in userinfo are read at sign-in: required_groups admits the member", async () => {
    const browser = new TestBrowser();
    const page = await browser.signIn(`${proxyUrl}/`, "alice");
    assert.equal(page.status, 200, page.text);
    const session = (await (await browser.fetch(`${proxyUrl}/api/v1/session`)).json()) as {
      user: { id: string; email: string; emailVerified: boolean; name: string; groups: string[] };
    };
    assert.deepEqual(session.user, {
      id: "alice",
      email: "alice@example.com",
      emailVerified: true,
      name: "Alice Example",
      groups: ["mcp-users", "admins"],
      provider: stack.idp.issuer,
    });
  });

  it("keeps the userinfo claims across refreshes of the provider's tokens", async () => {
    const browser = new TestBrowser();
    assert.equal((await browser.signIn(`${proxyUrl}/`, "alice")).status, 200);
    const metrics = async () =>
      (await (await fetch(`${proxyUrl}/metrics`)).text()).match(/event="refreshed"\} (\d+)/)?.[1];
    const before = Number(await metrics());
    const page = await browser.navigate(`${proxyUrl}/`);
    assert.equal(page.status, 200, page.text);
    assert.ok(Number(await metrics()) > before, "the tokens were refreshed");
    const session = (await (await browser.fetch(`${proxyUrl}/api/v1/session`)).json()) as {
      user: { groups: string[] };
    };
    assert.deepEqual(session.user.groups, ["mcp-users", "admins"]);
  });

  it("and still refuses a signed-in user outside the group", async () => {
    const page = await new TestBrowser().signIn(`${proxyUrl}/`, "bob");
    assert.equal(page.status, 403, page.text);
  });
});
