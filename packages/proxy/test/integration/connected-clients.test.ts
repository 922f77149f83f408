// The MCP clients a person connected, and how their access ends (mcp_auth.mode proxy): the
// connected-clients page in Chromium, where a click on Revoke ends that client's grant and
// no other; sign-out, which ends every grant of the person (decision 037); and the revoke
// endpoint refusing another user's client, unknown ones, forged or oversized forms; and all
// of it on two instances sharing Redis. The MCP clients are the official SDK's, signed in
// through the scripted browser.
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import type { OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { TestBrowser } from "../support/browser.ts";
import { chromiumSignIn, clickAndWait, launchChromium, openSignedIn, startLoopbackSite } from "../support/chromium.ts";
import {
  CLIENT_REDIRECT,
  connectWithOAuth,
  InMemoryOAuthClient,
  initializeWithToken,
  type SignsIn,
} from "../support/mcp-oauth-client.ts";
import { freePort } from "../support/ports.ts";
import { type RoundRobin, startRoundRobin } from "../support/round-robin.ts";
import { type RedisStack, type Stack, startStack, startStackWithRedis } from "../support/stack.ts";

/** An SDK client that registers under its own name. */
class NamedClient extends InMemoryOAuthClient {
  readonly name: string;
  readonly #redirects: [string, ...string[]];
  /** `redirects`: where the browser may be sent back with the code (served ones, for Chromium), the first used. */
  constructor(name: string, ...redirects: string[]) {
    super();
    this.name = name;
    this.#redirects = [redirects[0] ?? CLIENT_REDIRECT, ...redirects.slice(1)];
  }
  override get redirectUrl() {
    return this.#redirects[0];
  }
  override get clientMetadata() {
    return { ...super.clientMetadata, client_name: this.name, redirect_uris: this.#redirects };
  }
}

/** An SDK client signed in, and the proxy (or balancer) it talks to. */
type Connected = Awaited<ReturnType<typeof connectWithOAuth>> & { base: string };

/** A browser client's origin the configuration allows (CORS for MCP requests, none for pages). */
const ALLOWED_ORIGIN = "http://localhost:6274";

let browser: Browser;
let stack: Stack;
let base: string;
const open: Connected[] = [];

before(async () => {
  [browser, stack] = await Promise.all([
    launchChromium(),
    startStack({
      env: { MCP_AUTH_MODE: "proxy", MCP_REQUIRED_SCOPES: "mcp:tools", MCP_ALLOWED_ORIGINS: ALLOWED_ORIGIN },
    }),
  ]);
  base = `http://127.0.0.1:${stack.ports[0]}`;
});
after(async () => {
  for (const connected of open) await connected.client.close();
  await browser.close();
  await stack.close();
});

async function connect(
  user: string,
  name: string | NamedClient,
  as: SignsIn = new TestBrowser(),
  at = base,
): Promise<Connected> {
  const oauth = typeof name === "string" ? new NamedClient(name) : name;
  const connected = { ...(await connectWithOAuth(`${at}/mcp`, user, oauth, as)), base: at };
  open.push(connected);
  return connected;
}

const tokensOf = (connected: Connected) => connected.oauth.savedTokens as OAuthTokens;

/** The client's refresh token at the token endpoint: the OAuth error, or "" when it got new tokens. */
async function refreshError(connected: Connected): Promise<string> {
  const response = await fetch(`${connected.base}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "refresh_token",
      client_id: connected.oauth.client?.client_id as string,
      refresh_token: tokensOf(connected).refresh_token as string,
    }).toString(),
  });
  if (response.status === 200) return "";
  return ((await response.json()) as { error: string }).error;
}

/** The client's access token at /mcp (of `at`, by default the proxy it talks to): the status. */
async function accessStatus(connected: Connected, at = connected.base): Promise<number> {
  const response = await initializeWithToken(`${at}/mcp`, tokensOf(connected).access_token);
  await response.body?.cancel();
  return response.status;
}

/** The SDK client calls a tool, refreshing first: its access token is made to look expired. */
async function stillWorksAfterRefresh(connected: Connected): Promise<void> {
  const before = tokensOf(connected);
  connected.oauth.savedTokens = { ...before, access_token: "an-expired-access-token-0123456789" };
  await connected.client.callTool({ name: "whoami", arguments: {} });
  assert.notEqual(tokensOf(connected).refresh_token, before.refresh_token, "it refreshed");
}

/** Its access is over: the access token is refused, the refresh token too, and the SDK client fails. */
async function assertEnded(connected: Connected, label: string): Promise<void> {
  assert.equal(await accessStatus(connected), 401, `${label}: the access token is refused`);
  assert.equal(await refreshError(connected), "invalid_grant", `${label}: the refresh token is refused`);
  await assert.rejects(connected.client.callTool({ name: "whoami", arguments: {} }), (error: Error) => {
    assert.match(error.name, /InvalidGrant|Unauthorized/, label);
    return true;
  });
}

describe("the connected-clients page, in Chromium", () => {
  let context: BrowserContext;
  let page: Page;
  beforeEach(async () => {
    context = await browser.newContext();
    page = await context.newPage();
  });
  afterEach(() => context.close());

  const listed = () => page.locator("[data-mcp-client]");
  const itemOf = (connected: Connected) =>
    page.locator(`[data-mcp-client="${connected.oauth.client?.client_id as string}"]`);

  it("lists the person's clients, and Revoke ends that client's tokens while the others keep working", async () => {
    const editor = await connect("alice", "Editor <one>");
    const terminal = await connect("alice", "Terminal");
    const bobs = await connect("bob", "Bob's agent");

    await openSignedIn(page, `${base}/connected-clients`, "alice", stack.idp.issuer);
    assert.equal(page.url(), `${base}/connected-clients`);
    const names = await listed().locator("strong").allTextContents();
    assert.deepEqual(names.sort(), ["Editor <one>", "Terminal"], "alice's clients, not bob's");
    const editorText = (await itemOf(editor).textContent()) ?? "";
    assert.match(editorText, /Answers go to 127\.0\.0\.1:33418/);
    assert.match(editorText, /Approved \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    assert.match(editorText, /last used \d{4}-\d\d-\d\d \d\d:\d\d UTC/, "its code was redeemed");

    const posted = page.waitForRequest((request) => request.method() === "POST");
    await itemOf(editor).getByRole("button", { name: "Revoke" }).click();
    await page.waitForLoadState("load");
    const headers = await (await posted).allHeaders();
    assert.equal(headers.origin, base, "the form is posted with the page's Origin");
    assert.equal(headers["sec-fetch-site"], "same-origin");
    assert.equal(page.url(), `${base}/connected-clients`);
    assert.match((await page.locator("[data-mcp-revoked]").textContent()) ?? "", /Revoked Editor <one>/);
    assert.deepEqual(await listed().locator("strong").allTextContents(), ["Terminal"]);

    await assertEnded(editor, "the revoked client");
    await stillWorksAfterRefresh(terminal);
    await stillWorksAfterRefresh(bobs);
    await page.reload();
    assert.equal(await page.locator("[data-mcp-revoked]").count(), 0, "the notice is shown once");
    assert.deepEqual(await listed().locator("strong").allTextContents(), ["Terminal"]);
  });

  it("a revoked client that asks again gets the consent page again", async () => {
    const agent = await connect("alice", "Asks again");
    await openSignedIn(page, `${base}/connected-clients`, "alice", stack.idp.issuer);
    await itemOf(agent).getByRole("button", { name: "Revoke" }).click();
    await page.waitForLoadState("load");
    // The same client authorizes again in a browser where alice is signed in: the page, not a code.
    const again = new URL(`${base}/oauth/authorize`);
    const sdkUrl = agent.oauth.authorizationUrl as URL;
    again.search = sdkUrl.search;
    await page.goto(again.href);
    assert.equal(await page.locator("[data-mcp-consent]").count(), 1, `the consent page: ${page.url()}`);
  });

  it("sign-out ends every MCP client grant of the person, refresh tokens too; other people's stay", async () => {
    const first = await connect("alice", "First");
    const second = await connect("alice", "Second");
    const bobs = await connect("bob", "Bob's other agent");
    await openSignedIn(page, `${base}/connected-clients`, "alice", stack.idp.issuer);
    assert.ok((await listed().count()) >= 2, "alice's clients are listed");
    await page.goto(`${base}/logout`);
    assert.match((await page.locator("body").textContent()) ?? "", /MCP clients you connected .* disconnected too/);
    await clickAndWait(page, "Sign out");

    await assertEnded(first, "the first client");
    await assertEnded(second, "the second client");
    await stillWorksAfterRefresh(bobs);
    // Signed in again: nothing is connected in alice's name any more; what she approved is
    // listed as such (it would connect again without asking), to revoke.
    await openSignedIn(page, `${base}/connected-clients`, "alice", stack.idp.issuer);
    assert.equal(page.url(), `${base}/connected-clients`);
    assert.ok((await listed().count()) >= 2);
    assert.equal(await listed().count(), await page.locator("[data-mcp-approved-only]").count(), "approved only");
  });
  it("after a sign-out, here or in another browser, clients connect again in this one: a code, never an error", async () => {
    // One browser throughout: oidc-provider's own session cookie of the first connection stays in it.
    const app = await startLoopbackSite("<p>back in the app</p>");
    const callback = `${app.url}/callback`;
    const providerSession = async () => (await context.cookies(base)).some((cookie) => cookie.name === "mcp_oauth");
    /** The client's authorization request again, in this browser: where it landed. */
    const askAgain = (connected: Connected) => {
      const again = new URL(`${base}/oauth/authorize`);
      again.search = (connected.oauth.authorizationUrl as URL).search;
      return person.signIn(again.href, "alice", callback);
    };
    const person = chromiumSignIn(page, stack.idp.issuer);
    try {
      const before = await connect("alice", new NamedClient("Before sign-out", callback), person);
      assert.ok(await providerSession(), "the authorization server's own session cookie");
      // alice signs out in another browser (a program): her grants end; this browser stays signed in.
      const elsewhere = new TestBrowser();
      await elsewhere.signIn(`${base}/`, "alice");
      assert.equal((await elsewhere.fetch(`${base}/logout`, { method: "POST" })).status, 200);
      await assertEnded(before, "the client, after the sign-out elsewhere");
      const landing = await askAgain(before);
      assert.ok(new URL(landing.url).searchParams.get("code"), `a code: ${landing.url} ${landing.text.slice(0, 300)}`);

      // Signed out here: the authorization server's session of this browser ends too.
      await page.goto(`${base}/logout`);
      await clickAndWait(page, "Sign out");
      assert.equal(await providerSession(), false, "the sign-out ended it too");
      // The same client asks again: alice signs in again and, her approval kept, it gets a code.
      const afterOwn = await askAgain(before);
      assert.ok(
        new URL(afterOwn.url).searchParams.get("code"),
        `a code: ${afterOwn.url} ${afterOwn.text.slice(0, 300)}`,
      );
      // Another client connects in the same browser, through the consent page, and works.
      const after = await connect("alice", new NamedClient("After sign-out", callback), person);
      await stillWorksAfterRefresh(after);
    } finally {
      await app.close();
    }
  });

  it("Revoke forgets the client's approvals at every redirect URI, and lists and revokes a client approved before a sign-out", async () => {
    const app = await startLoopbackSite("<p>back in the app</p>");
    const [atA, atB] = [`${app.url}/a`, `${app.url}/b`];
    /** The client's authorization request, sent back to `redirect`. */
    const askAt = (connected: Connected, redirect: string) => {
      const url = new URL(connected.oauth.authorizationUrl as URL);
      url.searchParams.set("redirect_uri", redirect);
      return url.href;
    };
    try {
      const person = chromiumSignIn(page, stack.idp.issuer);
      const twoUris = await connect("alice", new NamedClient("Two redirect URIs", atA, atB), person);
      const signedOutOnly = await connect("alice", new NamedClient("Approved, then signed out", atA), person);
      await page.goto(`${base}/logout`);
      await clickAndWait(page, "Sign out");

      // Signed in again: both are listed though no grant of theirs is live, as approved ones.
      await openSignedIn(page, `${base}/connected-clients`, "alice", stack.idp.issuer);
      assert.equal(await itemOf(signedOutOnly).locator("[data-mcp-approved-only]").count(), 1, await page.content());
      await itemOf(signedOutOnly).getByRole("button", { name: "Revoke" }).click();
      await page.waitForLoadState("load");
      assert.match((await page.locator("[data-mcp-revoked]").textContent()) ?? "", /Approved, then signed out/);
      assert.equal(await itemOf(signedOutOnly).count(), 0);
      await page.goto(askAt(signedOutOnly, atA));
      assert.equal(await page.locator("[data-mcp-consent]").count(), 1, `asked again: ${page.url()}`);

      // Approved at B now, then revoked: its approval at A (kept by the sign-out) is forgotten too.
      const atBLanding = await person.signIn(askAt(twoUris, atB), "alice", atB);
      assert.ok(new URL(atBLanding.url).searchParams.get("code"), atBLanding.url);
      await page.goto(`${base}/connected-clients`);
      await itemOf(twoUris).getByRole("button", { name: "Revoke" }).click();
      await page.waitForLoadState("load");
      assert.equal(await itemOf(twoUris).count(), 0, "it is not listed any more");
      await page.goto(askAt(twoUris, atA));
      assert.ok(!page.url().startsWith(atA), `no code at A without asking: ${page.url()}`);
      assert.equal(await page.locator("[data-mcp-consent]").count(), 1, "the consent page");
    } finally {
      await app.close();
    }
  });
});

describe("the revoke endpoint refuses what a person's click would not send", () => {
  it("another user's client, an unknown id, a missing or foreign CSRF token, another site, an oversized form: 4xx, nothing changed", async () => {
    const alice = new TestBrowser();
    const bob = new TestBrowser();
    const alices = await connect("alice", "Alice's agent", alice);
    const bobs = await connect("bob", "Bob's agent", bob);
    const aliceId = alices.oauth.client?.client_id as string;
    const bobId = bobs.oauth.client?.client_id as string;

    const alicePage = await alice.navigate(`${base}/connected-clients`);
    assert.equal(alicePage.status, 200);
    assert.ok(alicePage.text.includes(aliceId));
    assert.ok(!alicePage.text.includes(bobId), "bob's client is not on alice's page");
    const csrf = /name="csrf" value="([^"]+)"/.exec(alicePage.text)?.[1] as string;
    const bobPage = await bob.navigate(`${base}/connected-clients`);
    assert.ok(!bobPage.text.includes(aliceId), "nor alice's on bob's");
    const bobCsrf = /name="csrf" value="([^"]+)"/.exec(bobPage.text)?.[1] as string;

    const revoke = `${base}/connected-clients/revoke`;
    // What Chromium sends with the page's form (the test above checks it).
    const formHeaders = {
      "content-type": "application/x-www-form-urlencoded",
      origin: base,
      "sec-fetch-site": "same-origin",
    };
    const post = (as: TestBrowser, form: Record<string, string>, headers: Record<string, string> = {}) =>
      as.request(revoke, {
        method: "POST",
        body: new URLSearchParams(form).toString(),
        headers: { ...formHeaders, ...headers },
      });

    const refusals: [string, Promise<{ status: number }>, number][] = [
      ["bob's client with alice's form", post(alice, { csrf, client_id: bobId }), 404],
      ["an unknown client id", post(alice, { csrf, client_id: "no-such-client" }), 404],
      ["no client id", post(alice, { csrf }), 400],
      ["no CSRF token", post(alice, { client_id: aliceId }), 403],
      ["bob's CSRF token in alice's session", post(alice, { csrf: bobCsrf, client_id: aliceId }), 403],
      ["another site's form", post(alice, { csrf, client_id: aliceId }, { "sec-fetch-site": "cross-site" }), 403],
      ["a foreign Origin", post(alice, { csrf, client_id: aliceId }, { origin: "http://localhost:1" }), 403],
      ["an oversized form", post(alice, { csrf, client_id: aliceId, padding: "x".repeat(8000) }), 413],
      ["no session", post(new TestBrowser(), { csrf, client_id: aliceId }), 401],
    ];
    for (const [label, response, status] of refusals) assert.equal((await response).status, status, label);

    // Nothing changed: both clients work, refresh included, and alice's page still lists hers.
    await stillWorksAfterRefresh(alices);
    await stillWorksAfterRefresh(bobs);
    assert.ok((await alice.navigate(`${base}/connected-clients`)).text.includes(aliceId));
    // The same form, as sent from the page: it works (the refusals above were not for want of a real form).
    assert.equal((await post(alice, { csrf, client_id: aliceId })).status, 303);
    await assertEnded(alices, "alice's revoked client");
    await stillWorksAfterRefresh(bobs);
  });
});

describe("the person's pages answer no other origin, an allowed one neither", () => {
  it("no CORS on the connected-clients page, its revoke or the sign-out page; the session API and MCP keep theirs", async () => {
    const alice = new TestBrowser();
    await connect("alice", "Seen from another origin", alice);
    const fromOrigin = (path: string, init: { method?: string; headers?: Record<string, string> } = {}) =>
      alice.fetch(`${base}${path}`, { ...init, headers: { origin: ALLOWED_ORIGIN, ...init.headers } });
    const preflight = (path: string) =>
      fromOrigin(path, { method: "OPTIONS", headers: { "access-control-request-method": "POST" } });
    const page = await fromOrigin("/connected-clients", { headers: { accept: "text/html" } });
    assert.match(await page.text(), /name="csrf"/, "the page (with its token) is served");
    for (const [label, response] of [
      ["the page", page],
      ["a preflight of the revoke", await preflight("/connected-clients/revoke")],
      [
        "the sign-out page",
        await fromOrigin("/logout", { headers: { accept: "text/html", "sec-fetch-mode": "navigate" } }),
      ],
      ["a preflight of the sign-out", await preflight("/logout")],
    ] as const) {
      assert.equal(response.headers.get("access-control-allow-origin"), null, label);
      assert.equal(response.headers.get("access-control-allow-credentials"), null, label);
    }
    assert.equal((await fromOrigin("/api/v1/session")).headers.get("access-control-allow-origin"), ALLOWED_ORIGIN);
    assert.equal((await preflight("/mcp")).headers.get("access-control-allow-origin"), ALLOWED_ORIGIN);
  });
});

describe("on two instances sharing Redis, behind a round robin", () => {
  let pair: RedisStack;
  let balancer: RoundRobin;
  let instances: string[];

  before(async () => {
    const port = await freePort();
    pair = await startStackWithRedis({
      proxies: 2,
      publicUrl: `http://127.0.0.1:${port}`,
      // No reuse of a verified token on either instance: what ended is refused at once on both.
      env: { MCP_AUTH_MODE: "proxy", MCP_REQUIRED_SCOPES: "mcp:tools", SESSION_CACHE_TTL: "0s" },
    });
    instances = pair.stack.ports.map((p) => `http://127.0.0.1:${p}`);
    balancer = await startRoundRobin(port, () => instances);
  });
  after(async () => {
    await balancer.close();
    await pair.close();
  });

  it("a revoke answered by one instance and a sign-out by the other end the grants on both", async () => {
    const alice = new TestBrowser();
    const kept = await connect("alice", "Kept until sign-out", alice, balancer.url);
    const revoked = await connect("alice", "Revoked first", alice, balancer.url);
    const page = await alice.navigate(`${balancer.url}/connected-clients`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] as string;
    assert.ok(page.text.includes("Kept until sign-out") && page.text.includes("Revoked first"), page.text);
    const formHeaders = {
      "content-type": "application/x-www-form-urlencoded",
      origin: balancer.url,
      "sec-fetch-site": "same-origin",
    };
    // Straight to one instance, then the other (the browser's cookie ignores the port).
    const [first, second] = instances as [string, string];
    const revoke = await alice.request(`${first}/connected-clients/revoke`, {
      method: "POST",
      body: new URLSearchParams({ csrf, client_id: revoked.oauth.client?.client_id as string }).toString(),
      headers: formHeaders,
    });
    assert.equal(revoke.status, 303);
    for (const instance of instances) assert.equal(await accessStatus(revoked, instance), 401, instance);
    assert.equal(await refreshError(revoked), "invalid_grant");
    await stillWorksAfterRefresh(kept);

    // Sign-out as the sign-out page's form posts it.
    const signOut = await alice.navigate(`${second}/logout`);
    const signOutCsrf = /name="csrf" value="([^"]+)"/.exec(signOut.text)?.[1] as string;
    const posted = await alice.request(`${second}/logout`, {
      method: "POST",
      body: new URLSearchParams({ csrf: signOutCsrf }).toString(),
      headers: formHeaders,
    });
    assert.equal(posted.status, 303);
    for (const instance of instances) assert.equal(await accessStatus(kept, instance), 401, instance);
    await assertEnded(kept, "the client kept until sign-out");
  });
});
