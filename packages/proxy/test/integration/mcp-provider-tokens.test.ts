// MCP authorization with tokens the upstream provider issues itself (mcp_auth.mode
// provider, as with Keycloak, Auth0 or Okta custom servers): the official SDK client finds
// the provider through the proxy's 401 and resource metadata, registers, signs the user in
// and calls tools with a JWT the proxy validates on every request.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { ALICE, assertIdentity, whoamiIdentity } from "../support/identity.ts";
import { connectWithOAuth, initializeWithToken, statusInSession } from "../support/mcp-oauth-client.ts";
import { type Stack, startStack } from "../support/stack.ts";

async function signingKey(kid: string) {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
  return { privateKey, jwk };
}

describe("MCP clients with the provider's access tokens", () => {
  let stack: Stack;
  let proxyUrl: string;
  let keyA: Awaited<ReturnType<typeof signingKey>>;

  /** A token as the provider would sign it, with `claims` overriding the defaults. */
  const mint = (claims: Record<string, unknown>, key = keyA, kid = "key-a") => {
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      iss: stack.idp.issuer,
      sub: "alice",
      aud: proxyUrl,
      iat: now,
      exp: now + 600,
      scope: "mcp:tools",
      email: "alice@example.com",
      groups: ["mcp-users"],
      ...claims,
    };
    return new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid }).sign(key.privateKey);
  };

  const call = (token: string) => initializeWithToken(`${proxyUrl}/mcp`, token);

  before(async () => {
    keyA = await signingKey("key-a");
    stack = await startStack({
      idp: { signingKeys: [keyA.jwk], mcpResourceScope: "mcp:tools" },
      env: { MCP_AUTH_MODE: "provider", MCP_REQUIRED_SCOPES: "mcp:tools", MCP_JWKS_REFRESH_COOLDOWN: "0s" },
    });
    proxyUrl = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(async () => {
    await stack.close();
  });

  it("answers 401 with a challenge naming the resource metadata, served at every well-known form", async () => {
    const response = await fetch(`${proxyUrl}/mcp`, { method: "POST", body: "{}" });
    assert.equal(response.status, 401);
    assert.equal(
      response.headers.get("www-authenticate"),
      `Bearer resource_metadata="${proxyUrl}/.well-known/oauth-protected-resource", scope="mcp:tools"`,
    );
    for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]) {
      const metadata = await fetch(`${proxyUrl}${path}`, { headers: { origin: "https://inspector.example" } });
      assert.equal(metadata.status, 200, path);
      assert.deepEqual(await metadata.json(), {
        resource: proxyUrl,
        authorization_servers: [stack.idp.issuer],
        bearer_methods_supported: ["header"],
        scopes_supported: ["mcp:tools"],
        resource_name: "MCP server behind mcp-oidc-proxy",
      });
    }
  });

  it("lets the official SDK client sign in through the provider and call tools", async () => {
    const { client } = await connectWithOAuth(`${proxyUrl}/mcp`, "alice");
    try {
      const tools = await client.listTools();
      assert.ok(tools.tools.some((t) => t.name === "whoami"));
      const who = await client.callTool({ name: "whoami", arguments: {} });
      assertIdentity(whoamiIdentity(who), ALICE);
      const seen = stack.mcp.requests.findLast((r) => r.url === "/mcp");
      assert.equal(seen?.headers.authorization, undefined, "the client's token never reaches the MCP server");
    } finally {
      await client.close();
    }
  });

  it("refuses tokens for another audience, expired, from another issuer or signed by an unknown key", async () => {
    const stranger = await signingKey("key-a");
    const cases: [string, string][] = [
      ["another audience", await mint({ aud: "https://other-mcp.example" })],
      ["expired", await mint({ exp: Math.floor(Date.now() / 1000) - 3600 })],
      ["another issuer", await mint({ iss: "https://evil.example" })],
      ["an unknown key", await mint({}, stranger)],
      ["not a JWT", "not-a-jwt"],
    ];
    for (const [name, token] of cases) {
      const response = await call(token);
      assert.equal(response.status, 401, name);
      assert.match(response.headers.get("www-authenticate") ?? "", /error="invalid_token"/, name);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, "UNAUTHORIZED", name);
    }
  });

  it("refuses a provider JWT whose iat is an hour in the future (beyond the clock tolerance)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const response = await call(await mint({ iat: now + 3600, exp: now + 7200 }));
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
    // A few seconds of clock skew stays accepted.
    assert.equal((await call(await mint({ iat: now + 5 }))).status, 200);
  });

  it("binds an MCP session to the user and the OAuth client of the token that initialized it", async () => {
    const initialized = await call(await mint({ client_id: "client-a" }));
    assert.equal(initialized.status, 200);
    await initialized.body?.cancel();
    const sessionId = initialized.headers.get("mcp-session-id");
    assert.ok(sessionId);
    const listTools = (token: string) => statusInSession(`${proxyUrl}/mcp`, token, sessionId, "tools/list");
    assert.equal(await listTools(await mint({ client_id: "client-a" })), 200);
    assert.equal(await listTools(await mint({ client_id: "client-b" })), 404, "same user, another client");
    assert.equal(await listTools(await mint({ client_id: "client-a", sub: "bob" })), 404, "another user");
  });

  it("answers 403 insufficient_scope to a token without the required scope", async () => {
    const response = await call(await mint({ scope: "profile" }));
    assert.equal(response.status, 403);
    assert.match(response.headers.get("www-authenticate") ?? "", /error="insufficient_scope"/);
    assert.match(response.headers.get("www-authenticate") ?? "", /scope="mcp:tools"/);
  });

  it("accepts a valid token and picks up a rotated signing key", async () => {
    assert.equal((await call(await mint({}))).status, 200);
    // The provider rotates: it signs with key B now and still publishes key A.
    const keyB = await signingKey("key-b");
    await stack.idp.close();
    await stack.reviveProvider({ signingKeys: [keyB.jwk, keyA.jwk] });
    assert.equal((await call(await mint({}, keyB, "key-b"))).status, 200);
    assert.equal((await call(await mint({}, keyA, "key-a"))).status, 200);
  });
});
