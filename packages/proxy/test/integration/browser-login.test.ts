// Browser sign-in through a real OpenID provider, then MCP over the signed-in session.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestBrowser } from "../support/browser.ts";
import { ALICE, assertIdentity, whoamiIdentity } from "../support/identity.ts";
import { connectMcpClient, type Stack, startStack } from "../support/stack.ts";

describe("browser sign-in with the memory store", () => {
  let stack: Stack;
  let proxyUrl: string;
  const alice = new TestBrowser();

  before(async () => {
    stack = await startStack();
    proxyUrl = `http://127.0.0.1:${stack.ports[0]}`;
    const page = await alice.signIn(`${proxyUrl}/`, "alice");
    assert.equal(page.status, 200, page.text);
  });
  after(() => stack.close());

  it("lands on the page first asked for, with the identity the MCP server received", async () => {
    const page = await alice.navigate(`${proxyUrl}/`);
    assert.equal(page.status, 200);
    assert.match(page.text, /Signed in through mcp-oidc-proxy/);
    assert.match(page.text, /alice@example\.com/);
  });

  it("returns the session's user at /api/v1/session", async () => {
    const response = await alice.fetch(`${proxyUrl}/api/v1/session`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { user: { id: string; email: string; groups: string[] } };
    assert.equal(body.user.id, "alice");
    assert.equal(body.user.email, "alice@example.com");
    assert.deepEqual(body.user.groups, ["mcp-users", "admins"]);
    assert.equal(response.headers.get("cache-control"), "no-store", "no cache keeps a person's identity");
  });

  it("carries an MCP session: initialize, tools/list, a streamed tool call", async () => {
    const { client } = await connectMcpClient(`${proxyUrl}/mcp`, alice.fetch);
    try {
      const tools = await client.listTools();
      assert.deepEqual(tools.tools.map((t) => t.name).sort(), ["admin_report", "count", "echo", "whoami"]);
      const progress: number[] = [];
      const result = await client.callTool({ name: "count", arguments: { n: 3 } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
      });
      assert.deepEqual(progress, [1, 2, 3]);
      assert.deepEqual(result.content, [{ type: "text", text: "counted to 3" }]);
      const who = await client.callTool({ name: "whoami", arguments: {} });
      assertIdentity(whoamiIdentity(who), { ...ALICE, "x-auth-provider": stack.idp.issuer });
    } finally {
      await client.close();
    }
  });

  it("replaces client-sent identity headers and never forwards the client's credentials", async () => {
    await alice.jar.setCookie("theme=dark", proxyUrl);
    const response = await alice.fetch(`${proxyUrl}/spoof-check`, {
      headers: {
        "X-User-ID": "mallory",
        "x-user-email": "mallory@evil.example",
        "X-User-Groups": "admins",
        "X-Auth-Provider": "evil",
        Authorization: "Bearer stolen-token",
      },
    });
    await response.body?.cancel();
    const seen = stack.mcp.requests.findLast((r) => r.url === "/spoof-check");
    assert.ok(seen, "the request reached the MCP server");
    assertIdentity(seen.headers, { ...ALICE, "x-auth-provider": stack.idp.issuer });
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers.cookie, "theme=dark");
    assert.match(String(seen.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
  });

  it("answers a client without a session with 401 JSON, never a redirect", async () => {
    const response = await fetch(`${proxyUrl}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer /);
    const body = (await response.json()) as { error: { code: string }; request_id: string; timestamp: string };
    assert.equal(body.error.code, "UNAUTHORIZED");
    assert.ok(body.request_id);
    assert.ok(Date.parse(body.timestamp));
  });

  it("refuses a forged session cookie", async () => {
    const response = await fetch(`${proxyUrl}/mcp`, {
      method: "POST",
      headers: { cookie: "mcp_session=s%3Aalice.forgedsignature", "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "INVALID_SESSION");
  });

  it("refuses a callback whose state it did not issue, and a provider error, with JSON", async () => {
    const unknown = await fetch(`${proxyUrl}/callback?code=abc&state=not-issued-here`);
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, "INVALID_SESSION");
    const refused = await fetch(`${proxyUrl}/callback?error=access_denied&state=x`);
    assert.equal(refused.status, 401);
    const body = (await refused.json()) as { error: { code: string; details: { error: string } } };
    assert.equal(body.error.code, "OIDC_ERROR");
    assert.equal(body.error.details.error, "access_denied");
  });

  // People sign out on the sign-out page (browser-pages.test.ts, in Chromium); programs
  // holding a session cookie post, and a GET changes nothing.
  it("signs a program out with POST /logout: the session is gone server-side", async () => {
    const bob = new TestBrowser();
    await bob.signIn(`${proxyUrl}/`, "bob");
    const cookieBefore = await bob.jar.getCookieString(proxyUrl);
    const get = await bob.fetch(`${proxyUrl}/logout`);
    assert.equal(get.status, 405);
    assert.equal(((await get.json()) as { error: { code: string } }).error.code, "BAD_REQUEST");
    assert.equal((await bob.fetch(`${proxyUrl}/api/v1/session`)).status, 200, "a GET ends nothing");
    // What a form on another site sends from a browser that names neither Origin nor Sec-Fetch-Site.
    for (const type of ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"]) {
      const forged = await bob.fetch(`${proxyUrl}/logout`, {
        method: "POST",
        headers: { "content-type": type },
        body: type.startsWith("multipart") ? "--x--\r\n" : "a=b",
      });
      assert.equal(forged.status, 403, type);
      assert.equal((await bob.fetch(`${proxyUrl}/api/v1/session`)).status, 200, `${type}: nothing ended`);
    }
    const logout = await bob.fetch(`${proxyUrl}/logout`, { method: "POST" });
    assert.equal(logout.status, 200);
    const body = (await logout.json()) as { logged_out: boolean; end_session_url: string };
    assert.equal(body.logged_out, true);
    assert.equal(new URL(body.end_session_url).origin, stack.idp.issuer, "RP-initiated logout at the provider");
    assert.ok(new URL(body.end_session_url).searchParams.get("id_token_hint"));
    // Replaying the old cookie does not bring the session back.
    const replay = await fetch(`${proxyUrl}/api/v1/session`, { headers: { cookie: cookieBefore } });
    assert.equal(replay.status, 401);
  });
});

describe("access rules", () => {
  let stack: Stack;
  let proxyUrl: string;
  before(async () => {
    stack = await startStack({ env: { ACCESS_REQUIRED_GROUPS: "admins", ACCESS_PUBLIC_PATHS: "/public/*" } });
    proxyUrl = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());

  it("lets a member of a required group through and answers others 403: a page for people, JSON for programs", async () => {
    const alice = await new TestBrowser().signIn(`${proxyUrl}/`, "alice");
    assert.equal(alice.status, 200);
    const bobsBrowser = new TestBrowser();
    const bob = await bobsBrowser.signIn(`${proxyUrl}/`, "bob");
    assert.equal(bob.status, 403);
    assert.match(bob.text, /data-error-code="FORBIDDEN"/, "a person sees the HTML error page");
    // A program with Bob's session gets the JSON error.
    const api = await bobsBrowser.fetch(`${proxyUrl}/`);
    assert.equal(api.status, 403);
    const body = (await api.json()) as { error: { code: string; details: { reason: string } } };
    assert.equal(body.error.code, "FORBIDDEN");
    assert.match(body.error.details.reason, /required group/);
  });

  it("serves public paths without a session and without identity headers", async () => {
    const response = await fetch(`${proxyUrl}/public/info`, { headers: { "x-user-id": "mallory" } });
    assert.equal(response.status, 404); // the demo server's own answer: the proxy let it through
    const seen = stack.mcp.requests.findLast((r) => r.url === "/public/info");
    assert.ok(seen);
    assert.equal(seen.headers["x-user-id"], undefined);
  });
});
