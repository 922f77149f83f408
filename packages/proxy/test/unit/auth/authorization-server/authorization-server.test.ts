// The pure parts of the proxy's authorization server: its storage over the key-value
// store, the check of its access tokens, the signing key every replica derives alike, the consent page's escaping, and
// which scopes a path needs.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { importJWK, jwtVerify, SignJWT } from "jose";
import Provider from "oidc-provider";
import { AccessPolicy } from "../../../../src/auth/access-policy.ts";
import { Authenticator } from "../../../../src/auth/authenticator.ts";
import { AccountDirectory, type AccountRecord } from "../../../../src/auth/authorization-server/accounts.ts";
import {
  isPrivateAddress,
  literalAddress,
} from "../../../../src/auth/authorization-server/client-metadata-documents.ts";
import { redirectTargetOf, renderConsentPage } from "../../../../src/auth/authorization-server/consent-page.ts";
import { IssuedTokenVerifier } from "../../../../src/auth/authorization-server/issued-token-verifier.ts";
import { deriveSigningKey } from "../../../../src/auth/authorization-server/signing-key.ts";
import { sealedName, storageAdapterFactory } from "../../../../src/auth/authorization-server/storage-adapter.ts";
import { OAuthError } from "../../../../src/auth/oauth-error.ts";
import { loadConfig } from "../../../../src/config/load.ts";
import { createMetrics } from "../../../../src/observability/metrics.ts";
import { ProxyCookies } from "../../../../src/proxy-cookies.ts";
import { memoryKeyValue } from "../../../../src/session/key-value.ts";

describe("memory key-value store", () => {
  it("forgets values and sets at their expiry, keeps the rest", async () => {
    let now = 0;
    const store = memoryKeyValue(() => now);
    await store.set("short", "a", 10);
    await store.set("forever", "b");
    await store.addToSet("index", "x", 5);
    await store.addToSet("index", "y", 20);
    now = 9_999;
    assert.equal(await store.get("short"), "a");
    now = 10_000;
    assert.equal(await store.get("short"), undefined);
    assert.equal(await store.get("forever"), "b");
    assert.deepEqual((await store.members("index")).sort(), ["x", "y"], "a set lives as long as its longest member");
    now = 20_000;
    assert.deepEqual(await store.members("index"), []);
    await store.close();
  });
});

describe("client metadata documents: which addresses are never fetched", () => {
  it("refuses every private, loopback, link-local, unique-local and IPv4-carrying IPv6 address", () => {
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "::",
      "::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:a9fe:a9fe",
      "::7f00:1",
      "64:ff9b::7f00:1",
      "2002:7f00:1::",
      "2001:0:4136:e378::1",
      "fd00::1",
      "fe80::1",
      "ff02::1",
      "not-an-address",
    ]) {
      assert.equal(isPrivateAddress(address), true, address);
    }
    for (const address of ["93.184.215.14", "2606:4700::6810:84e5", "::ffff:93.184.215.14"]) {
      assert.equal(isPrivateAddress(address), false, address);
    }
  });

  it("reads the address of an IP-literal host in every spelling URL parsing accepts", () => {
    for (const host of ["127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0x7f000001"]) {
      assert.equal(literalAddress(new URL(`https://${host}:8443/c.json`)), "127.0.0.1", host);
    }
    assert.equal(literalAddress(new URL("https://[::ffff:127.0.0.1]/c.json")), "::ffff:7f00:1");
    assert.equal(literalAddress(new URL("https://[0:0::1]/c.json")), "::1");
    assert.equal(literalAddress(new URL("https://client.example.com/c.json")), undefined);
  });
});

describe("authorization server storage", () => {
  const adapters = () => {
    const store = memoryKeyValue();
    const factory = storageAdapterFactory({ store, secrets: ["test-secret"] });
    return { store, code: factory("AuthorizationCode"), token: factory("AccessToken"), session: factory("Session") };
  };

  it("marks a code consumed (how a replayed code is recognized) and keeps it", async () => {
    const { code } = adapters();
    await code.upsert("c1", { grantId: "g1", clientId: "app" }, 60);
    assert.equal((await code.find("c1"))?.consumed, undefined);
    await code.consume("c1");
    assert.equal(typeof (await code.find("c1"))?.consumed, "number");
  });

  it("lets one of two uses of a code at once through; the other is refused and ends the grant", async () => {
    const { store, code, token } = adapters();
    const grants = storageAdapterFactory({ store, secrets: ["test-secret"] })("Grant");
    await grants.upsert("g1", { accountId: "alice" }, 600);
    await code.upsert("c1", { grantId: "g1", clientId: "app" }, 60);
    await token.upsert("t1", { grantId: "g1" }, 600);
    const uses = await Promise.allSettled([code.consume("c1"), code.consume("c1")]);
    assert.deepEqual(uses.map((use) => use.status).sort(), ["fulfilled", "rejected"]);
    const refusal = uses.find((use) => use.status === "rejected")?.reason as { error?: string };
    assert.equal(refusal.error, "invalid_grant");
    assert.equal(await grants.find("g1"), undefined, "the grant is gone");
    assert.equal(await token.find("t1"), undefined, "and what was issued under it");
  });

  it("revokes everything issued under a grant, and only that", async () => {
    const { code, token } = adapters();
    await code.upsert("c1", { grantId: "g1" }, 60);
    await token.upsert("t1", { grantId: "g1" }, 600);
    await token.upsert("t2", { grantId: "g2" }, 600);
    await token.revokeByGrantId("g1");
    assert.equal(await code.find("c1"), undefined);
    assert.equal(await token.find("t1"), undefined);
    assert.ok(await token.find("t2"));
  });

  it("stores tokens under the hash of their id, sealed: the store's keys and values hold no token", async () => {
    const { store, token, session } = adapters();
    const raw = store as unknown as { get(key: string): Promise<string | undefined> };
    await token.upsert("access-token-value-1", { grantId: "g1", jti: "access-token-value-1", accountId: "alice" }, 60);
    await session.upsert("session-cookie-value", { uid: "session-uid-1", jti: "session-cookie-value" }, 60);
    assert.equal(await raw.get("AccessToken:access-token-value-1"), undefined);
    assert.deepEqual(await store.members("grant:g1"), [], "no key names the grant id");
    const [key] = await store.members(`grant:${sealedName("g1")}`);
    assert.ok(key && !key.includes("access-token-value-1"));
    const value = (await raw.get(key)) ?? "";
    assert.ok(value.length > 0 && !value.includes("access-token-value-1") && !value.includes("alice"));
    assert.equal((await token.find("access-token-value-1"))?.accountId, "alice");
    assert.equal(await token.find("access-token-value-2"), undefined);
    assert.equal((await session.findByUid("session-uid-1"))?.jti, "session-cookie-value");
  });

  it("keeps the provider's tokens of an account encrypted, readable after a secret rotation", async () => {
    const store = memoryKeyValue();
    const account: AccountRecord = {
      user: { id: "alice", emailVerified: true, groups: [], provider: "https://idp.example.com" },
      upstream: { idToken: "upstream-id-token-1", refreshToken: "upstream-refresh-token-1" },
    };
    await new AccountDirectory(store, 60, ["old-secret"]).save(account);
    const raw = (await store.get("account:alice")) ?? "";
    assert.ok(raw.length > 0 && !raw.includes("upstream-refresh-token-1") && !raw.includes("alice"));
    const rotated = new AccountDirectory(store, 60, ["new-secret", "old-secret"]);
    assert.equal((await rotated.find("alice"))?.upstream?.refreshToken, "upstream-refresh-token-1");
    assert.equal(await new AccountDirectory(store, 60, ["another-secret"]).find("alice"), undefined);
  });

  it("keeps a registered client's secret encrypted, readable after a secret rotation", async () => {
    const store = memoryKeyValue();
    const client = { client_id: "app", client_secret: "registered-client-secret-1", client_name: "App" };
    await storageAdapterFactory({ store, secrets: ["old-secret"] })("Client").upsert("app", client);
    const raw = (await store.get("Client:app")) ?? "";
    assert.ok(raw.includes('"client_name":"App"') && !raw.includes("registered-client-secret-1"));
    const rotated = storageAdapterFactory({ store, secrets: ["new-secret", "old-secret"] })("Client");
    assert.deepEqual(await rotated.find("app"), client);
    const other = storageAdapterFactory({ store, secrets: ["another-secret"] })("Client");
    assert.equal(await other.find("app"), undefined, "a secret no key opens: no client (fail closed)");
  });

  it("finds sessions by their uid", async () => {
    const { session } = adapters();
    await session.upsert("cookie-id", { uid: "u-1", accountId: "alice" }, 600);
    assert.equal((await session.findByUid("u-1"))?.accountId, "alice");
    assert.equal(await session.findByUid("u-2"), undefined);
  });

  it("forgets a registered client client_ttl after its last use; a pre-approved one never", async () => {
    const day = 86_400_000;
    let now = 0;
    const store = memoryKeyValue(() => now);
    const clients = storageAdapterFactory({
      store,
      secrets: ["test-secret"],
      clientTtlSeconds: 10 * 86_400,
      keptClients: new Set(["platform"]),
      now: () => now,
    })("Client");
    await clients.upsert("app", { client_id: "app" });
    await clients.upsert("abandoned", { client_id: "abandoned" });
    await clients.upsert("platform", { client_id: "platform" });
    now = 6 * day;
    assert.ok(await clients.find("app"), "used on day 6: it lives until day 16");
    now = 10 * day;
    assert.equal(await clients.find("abandoned"), undefined, "unused for client_ttl");
    now = 15 * day;
    assert.ok(await clients.find("app"));
    now = 100 * day;
    assert.equal(await clients.find("app"), undefined, "unused since day 15");
    assert.ok(await clients.find("platform"));
  });
});

describe("the check of the authorization server's access tokens", () => {
  const adapter = storageAdapterFactory({ store: memoryKeyValue(), secrets: ["test-secret"] });
  let provider: Provider;
  let verifier: IssuedTokenVerifier;
  before(async () => {
    provider = new Provider("http://127.0.0.1:1", {
      adapter,
      jwks: { keys: [(await deriveSigningKey("k".repeat(40))) as never] },
      features: { devInteractions: { enabled: false } },
      extraTokenClaims: async () => ({ user: { id: "alice", groups: [] } }),
    });
    verifier = new IssuedTokenVerifier({ provider, cacheTtlMs: 0 });
  });
  const issue = async (bind: (token: InstanceType<Provider["AccessToken"]>) => void = () => {}) => {
    await adapter("Client").upsert("app", {
      client_id: "app",
      token_endpoint_auth_method: "none",
      redirect_uris: ["http://127.0.0.1/cb"],
      id_token_signed_response_alg: "ES256",
    });
    const client = await provider.Client.find("app");
    assert.ok(client);
    const grant = new provider.Grant({ accountId: "alice", clientId: "app" });
    const grantId = await grant.save();
    const token = new provider.AccessToken({
      accountId: "alice",
      client,
      grantId,
      gty: "authorization_code",
      scope: "mcp",
    });
    bind(token);
    return { value: await token.save(), grant };
  };

  it("takes a token while its grant lasts", async () => {
    const { value, grant } = await issue();
    assert.equal((await verifier.verify(value)).user.id, "alice");
    await grant.destroy();
    verifier.forgetToken(value);
    await assert.rejects(verifier.verify(value), /grant has ended/);
  });

  it("refuses a token bound to a key (DPoP jkt) presented as Bearer", async () => {
    const { value } = await issue((token) => {
      token.jkt = "a-dpop-key-thumbprint";
    });
    await assert.rejects(verifier.verify(value), /bound to a key/);
  });
});

describe("checks of one access token arriving together (streams sharing it, rechecked at once)", () => {
  it("read the store once for all of them", async () => {
    const store = memoryKeyValue();
    let reads = 0;
    const counting = {
      ...store,
      get: (key: string) => {
        reads++;
        return store.get(key);
      },
    };
    const adapter = storageAdapterFactory({ store: counting, secrets: ["test-secret"] });
    const provider = new Provider("http://127.0.0.1:1", {
      adapter,
      jwks: { keys: [(await deriveSigningKey("k".repeat(40))) as never] },
      features: { devInteractions: { enabled: false } },
      extraTokenClaims: async () => ({ user: { id: "alice", groups: [] } }),
    });
    await adapter("Client").upsert("app", {
      client_id: "app",
      token_endpoint_auth_method: "none",
      redirect_uris: ["http://127.0.0.1/cb"],
      id_token_signed_response_alg: "ES256",
    });
    const client = await provider.Client.find("app");
    assert.ok(client);
    const grantId = await new provider.Grant({ accountId: "alice", clientId: "app" }).save();
    const token = new provider.AccessToken({
      accountId: "alice",
      client,
      grantId,
      gty: "authorization_code",
      scope: "mcp",
    });
    const value = await token.save();
    // The cache has expired for all of them (as at a sweep after mcp_auth.token_cache_ttl): 0 keeps nothing.
    const verifier = new IssuedTokenVerifier({ provider, cacheTtlMs: 0 });
    reads = 0;
    await verifier.verify(value);
    const oneCheck = reads;
    assert.ok(oneCheck > 0, "a check reads the store");
    reads = 0;
    const checks = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(value)));
    assert.ok(checks.every((checked) => checked.user.id === "alice"));
    assert.equal(reads, oneCheck, "20 checks at once cost the store reads of one");
    await store.close();
  });
});

describe("signing key derived from the session secret", () => {
  it("is the same on every replica with the secret, another with another secret, and signs ES256", async () => {
    const a1 = await deriveSigningKey("a".repeat(40));
    const a2 = await deriveSigningKey("a".repeat(40));
    const b = await deriveSigningKey("b".repeat(40));
    assert.deepEqual(a1, a2);
    assert.notEqual(a1.kid, b.kid);
    const { d: _private, ...publicJwk } = a1;
    const jwt = await new SignJWT({ sub: "alice" })
      .setProtectedHeader({ alg: "ES256", kid: a1.kid as string })
      .sign(await importJWK(a1, "ES256"));
    const { payload } = await jwtVerify(jwt, await importJWK(publicJwk, "ES256"));
    assert.equal(payload.sub, "alice");
  });
});

describe("consent page", () => {
  it("escapes everything a client registered and names where the answer goes", () => {
    const html = renderConsentPage({
      uid: "u1",
      csrfToken: "t",
      clientName: '<script>alert("x")</script>',
      clientId: "id\"'",
      redirectTarget: redirectTargetOf("http://127.0.0.1:33418/callback"),
      redirectUri: "http://127.0.0.1:33418/callback?<x>",
      scopes: ["mcp:<b>"],
      userLabel: "alice@example.com",
      resource: "https://mcp.example.com",
    });
    assert.doesNotMatch(html, /<script>/);
    assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
    assert.match(html, /mcp:&lt;b&gt;/);
    assert.match(html, /127\.0\.0\.1:33418/);
    assert.match(html, /http:\/\/127\.0\.0\.1:33418\/callback\?&lt;x&gt;/, "the exact redirect URI, escaped");
    assert.equal(redirectTargetOf("cursor://anysphere.cursor-mcp/oauth/callback"), "cursor://anysphere.cursor-mcp");
  });
});

describe("scopes per path", () => {
  it("matches the longest configured prefix on whole path segments", () => {
    const authenticator = new Authenticator({
      policy: () =>
        new AccessPolicy({ public_paths: [], required_groups: [], allowed_email_domains: [], allowed_users: [] }),
      metrics: createMetrics({ countSessions: async () => 0 }),
      pathScopes: [
        ["/admin/danger", ["mcp:danger"]],
        ["/admin", ["mcp:admin"]],
      ],
    });
    assert.deepEqual(authenticator.scopesFor("/admin"), ["mcp:admin"]);
    assert.deepEqual(authenticator.scopesFor("/admin/mcp"), ["mcp:admin"]);
    assert.deepEqual(authenticator.scopesFor("/admin/danger/x"), ["mcp:danger"]);
    assert.deepEqual(authenticator.scopesFor("/administrator"), []);
    assert.deepEqual(authenticator.scopesFor("/mcp"), []);
  });
});

describe("cookies behind TLS", () => {
  it("are __Host- prefixed, Secure, HttpOnly and SameSite=Lax when the public URL is https", () => {
    const { config } = loadConfig({
      env: {
        OIDC_DISCOVERY_URL: "https://login.example.com",
        OIDC_CLIENT_ID: "mcp",
        MCP_PUBLIC_URL: "https://mcp.example.com",
        MCP_AUTH_MODE: "proxy",
      },
    });
    const cookies = new ProxyCookies(config);
    assert.equal(cookies.sessionName, "__Host-mcp_session");
    assert.equal(cookies.secure, true);
    assert.equal(cookies.sessionCookie.httpOnly, true);
    assert.equal(cookies.sessionCookie.sameSite, "lax");
    assert.equal(cookies.sessionCookie.path, "/");
    assert.equal(cookies.sessionCookie.domain, undefined, "__Host- cookies carry no Domain");
  });
});

describe("OAuth error answers", () => {
  it("serialize themselves as {error, error_description}, without an empty description", () => {
    assert.equal(
      JSON.stringify(new OAuthError("temporarily_unavailable", "try again")),
      '{"error":"temporarily_unavailable","error_description":"try again"}',
    );
    assert.equal(JSON.stringify(new OAuthError("invalid_request")), '{"error":"invalid_request"}');
  });
});
