// ID tokens are no bearer tokens (mcp_auth.mode provider, decision 039): when an admin lists
// the proxy's own client id among the accepted audiences (as Entra ID setups whose API is the
// client's own id do), the provider's ID tokens for that client must still be refused, while
// its access tokens pass. Both come from one real sign-in at the development provider, and
// from a sign-in without nonce and its refresh: such ID tokens (as refreshed ones are at most
// providers) carry neither nonce nor at_hash, only the client id as audience (decision 050).
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { decodeJwt } from "jose";
import { TestBrowser } from "../support/browser.ts";
import { initializeWithToken } from "../support/mcp-oauth-client.ts";
import { CLIENT_ID, CLIENT_SECRET, type Stack, startStack } from "../support/stack.ts";

const RESOURCE = "https://mcp.example.test";

/** The tokens the provider issues to the proxy's own client for one sign-in of `user`. */
async function signInAtProvider(stack: Stack, proxyUrl: string, user: string, withNonce = true) {
  const verifier = randomBytes(32).toString("base64url");
  const redirectUri = `${proxyUrl}/callback`;
  const authorize = new URL(`${stack.idp.issuer}/auth`);
  authorize.search = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: redirectUri,
    scope: "openid email mcp:tools",
    resource: RESOURCE,
    ...(withNonce ? { nonce: randomBytes(16).toString("base64url") } : {}),
    state: "state-1",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }).toString();
  // The browser stops at the proxy's callback: the test, not the proxy, redeems the code.
  const landing = await new TestBrowser().signIn(authorize.href, user, redirectUri);
  const code = new URL(landing.url).searchParams.get("code");
  assert.ok(code, `no code: ${landing.url}`);
  const response = await fetch(`${stack.idp.issuer}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
    },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      resource: RESOURCE,
    }).toString(),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as { access_token: string; id_token: string; refresh_token?: string };
}

/** The tokens a refresh returns, with `resource` as at the sign-in (the access token is for this server again). */
async function refreshAtProvider(stack: Stack, refreshToken: string) {
  const response = await fetch(`${stack.idp.issuer}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
    },
    body: new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: refreshToken,
      resource: RESOURCE,
    }).toString(),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as { access_token: string; id_token: string };
}

describe("ID tokens sent as bearer tokens (provider mode, the client id among the audiences)", () => {
  let stack: Stack;
  let proxyUrl: string;

  before(async () => {
    stack = await startStack({
      idp: { mcpResourceScope: "mcp:tools" },
      env: { MCP_AUTH_MODE: "provider", MCP_RESOURCE: RESOURCE, MCP_TOKEN_AUDIENCES: `${RESOURCE},${CLIENT_ID}` },
    });
    proxyUrl = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(async () => {
    await stack.close();
  });

  it("refuses the provider's ID token with 401 invalid_token and accepts the access token of the same sign-in", async () => {
    const tokens = await signInAtProvider(stack, proxyUrl, "alice");
    assert.equal(decodeJwt(tokens.id_token).aud, CLIENT_ID, "the ID token names an accepted audience");
    const refused = await initializeWithToken(`${proxyUrl}/mcp`, tokens.id_token);
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
    const body = (await refused.json()) as { error: { message: string } };
    assert.match(body.error.message, /ID token is not an access token/);
    const accepted = await initializeWithToken(`${proxyUrl}/mcp`, tokens.access_token);
    assert.equal(accepted.status, 200);
    await accepted.body?.cancel();
  });

  it("refuses the ID tokens of a sign-in without nonce and of its refresh (no nonce, no at_hash) and accepts their access tokens", async () => {
    const signedIn = await signInAtProvider(stack, proxyUrl, "alice", false);
    assert.ok(signedIn.refresh_token, "the provider issued a refresh token");
    const refreshed = await refreshAtProvider(stack, signedIn.refresh_token);
    for (const tokens of [signedIn, refreshed]) {
      const claims = decodeJwt(tokens.id_token);
      assert.equal(claims.aud, CLIENT_ID);
      assert.ok(
        !("nonce" in claims) && !("at_hash" in claims),
        `a shape decision 039 let through: ${JSON.stringify(claims)}`,
      );
      const refused = await initializeWithToken(`${proxyUrl}/mcp`, tokens.id_token);
      assert.equal(refused.status, 401);
      assert.match(refused.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
      const accepted = await initializeWithToken(`${proxyUrl}/mcp`, tokens.access_token);
      assert.equal(accepted.status, 200);
      await accepted.body?.cancel();
    }
  });
});
