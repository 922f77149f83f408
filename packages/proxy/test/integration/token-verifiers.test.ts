// One suite, run against every kind of bearer token the proxy accepts: the provider's JWTs
// (mcp_auth.mode provider) and the proxy's own tokens (mcp_auth.mode proxy). Whatever
// verified the token, the same user reaches the MCP server, the same scope rules apply (they
// are checked once, in the authenticator) and MCP sessions are bound the same way.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { ALICE, assertIdentity } from "../support/identity.ts";
import { initializeWithToken, statusInSession } from "../support/mcp-oauth-client.ts";
import { HandClient } from "../support/oauth-hand-client.ts";
import { type Stack, startStack } from "../support/stack.ts";

/** Issues tokens the way the kind's issuer does; `client` names the OAuth client (a registration). */
interface TokenKind {
  name: string;
  start(configFile: string): Promise<Stack>;
  tokenFor(stack: Stack, user: string, scope: string, client: string): Promise<string>;
}

const configDir = mkdtempSync(path.join(tmpdir(), "token-verifiers-"));
const configFile = path.join(configDir, "config.yaml");
writeFileSync(configFile, "mcp_auth:\n  path_scopes:\n    /admin: [mcp:admin]\n");

const { privateKey } = await generateKeyPair("RS256", { extractable: true });
const jwk: JWK = { ...(await exportJWK(privateKey)), kid: "k1", alg: "RS256", use: "sig" };

const providerJwts: TokenKind = {
  name: "the provider's JWTs",
  start: (file) =>
    startStack({
      idp: { signingKeys: [jwk], mcpResourceScope: "mcp:tools mcp:admin" },
      env: { MCP_AUTH_MODE: "provider", MCP_REQUIRED_SCOPES: "mcp:tools" },
      configFile: file,
    }),
  // The claims the development provider puts in its access tokens (extraTokenClaims).
  tokenFor: async (stack, user, scope, client) => {
    const now = Math.floor(Date.now() / 1000);
    const known = { alice: ["alice@example.com", "Alice Example", ["mcp-users", "admins"]] } as const;
    const [email, name, groups] = known[user as "alice"] ?? [`${user}@example.com`, user, ["mcp-users"]];
    return new SignJWT({
      iss: stack.idp.issuer,
      sub: user,
      aud: `http://127.0.0.1:${stack.ports[0]}`,
      iat: now,
      exp: now + 600,
      scope,
      client_id: client,
      email,
      email_verified: true,
      name,
      groups: [...groups],
    })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .sign(privateKey);
  },
};

const clients = new Map<string, HandClient>();
const proxyTokens: TokenKind = {
  name: "the proxy's own tokens",
  start: (file) => startStack({ env: { MCP_AUTH_MODE: "proxy", MCP_REQUIRED_SCOPES: "mcp:tools" }, configFile: file }),
  tokenFor: async (stack, user, scope, client) => {
    const base = `http://127.0.0.1:${stack.ports[0]}`;
    // One registration per client; one browser per person (each signs in as themselves).
    let registered = clients.get(client);
    if (!registered) {
      registered = new HandClient(base);
      assert.equal((await registered.register()).status, 201);
      clients.set(client, registered);
    }
    const hand = new HandClient(base);
    hand.clientId = registered.clientId;
    const { code, verifier, landing } = await hand.authorize(user, { scope });
    assert.ok(code, landing);
    const tokens = (await (await hand.exchange(code, verifier)).json()) as { access_token: string };
    return tokens.access_token;
  },
};

for (const kind of [providerJwts, proxyTokens]) {
  describe(`every token verifier: ${kind.name}`, () => {
    let stack: Stack;
    let base: string;

    before(async () => {
      stack = await kind.start(configFile);
      base = `http://127.0.0.1:${stack.ports[0]}`;
    });
    after(() => stack.close());

    it("sends the MCP server the same identity as a browser session", async () => {
      const response = await initializeWithToken(`${base}/mcp`, await kind.tokenFor(stack, "alice", "mcp:tools", "a"));
      assert.equal(response.status, 200);
      await response.body?.cancel();
      const seen = stack.mcp.requests.findLast((r) => r.url === "/mcp");
      assertIdentity(seen?.headers, { ...ALICE, "x-user-name": "Alice Example" });
      assert.equal(seen?.headers["x-auth-provider"], stack.idp.issuer);
      assert.equal(seen?.headers.authorization, undefined);
    });

    it("answers 403 insufficient_scope on a path whose scope the token lacks, and passes with it", async () => {
      const plain = await initializeWithToken(
        `${base}/admin/mcp`,
        await kind.tokenFor(stack, "alice", "mcp:tools", "a"),
      );
      assert.equal(plain.status, 403);
      assert.match(plain.headers.get("www-authenticate") ?? "", /error="insufficient_scope"/);
      assert.match(plain.headers.get("www-authenticate") ?? "", /scope="mcp:admin"/);
      const token = await kind.tokenFor(stack, "alice", "mcp:tools mcp:admin", "a");
      const admin = await initializeWithToken(`${base}/admin/mcp`, token);
      await admin.body?.cancel();
      assert.notEqual(admin.status, 403);
      assert.notEqual(admin.status, 401);
    });

    it("answers 401 invalid_token to a token it did not issue", async () => {
      const response = await initializeWithToken(`${base}/mcp`, "Zm9yZ2VkLXRva2VuLWZvcmdlZC10b2tlbg");
      assert.equal(response.status, 401);
      assert.match(response.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
    });

    it("binds the MCP session to the user and client: the same user through another client gets 404", async () => {
      const initialized = await initializeWithToken(
        `${base}/mcp`,
        await kind.tokenFor(stack, "alice", "mcp:tools", "a"),
      );
      await initialized.body?.cancel();
      const sessionId = initialized.headers.get("mcp-session-id") ?? "";
      assert.ok(sessionId);
      const ping = (token: string) => statusInSession(`${base}/mcp`, token, sessionId, "ping");
      assert.equal(await ping(await kind.tokenFor(stack, "alice", "mcp:tools", "b")), 404);
      assert.equal(await ping(await kind.tokenFor(stack, "carol", "mcp:tools", "a")), 404);
      assert.equal(await ping(await kind.tokenFor(stack, "alice", "mcp:tools", "a")), 200);
    });
  });
}
