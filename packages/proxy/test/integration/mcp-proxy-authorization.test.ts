// MCP authorization with the proxy as the clients' authorization server (mcp_auth.mode
// proxy), for providers that offer MCP clients neither registration nor resource indicators:
// the official SDK client registers at the proxy, the person signs in at the real upstream
// provider and approves the client, and the client calls tools with the proxy's own tokens.
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { createClient } from "@redis/client";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { loadConfig } from "../../src/config/load.ts";
import { startProxy } from "../../src/proxy-server.ts";
import { TestBrowser } from "../support/browser.ts";
import { capturingLogger } from "../support/captured-log.ts";
import { makeLocalhostCertificates } from "../support/certificates.ts";
import { ALICE, assertIdentity, whoamiIdentity } from "../support/identity.ts";
import {
  CLIENT_REDIRECT,
  connectWithOAuth,
  InMemoryOAuthClient,
  initializeWithToken,
} from "../support/mcp-oauth-client.ts";
import { HandClient } from "../support/oauth-hand-client.ts";
import { freePort } from "../support/ports.ts";
import type { TestRedis } from "../support/redis-server.ts";
import { type RoundRobin, startRoundRobin } from "../support/round-robin.ts";
import { type Stack, startStack, startStackWithRedis } from "../support/stack.ts";

type Json = Record<string, unknown>;

/** An MCP initialize with a bearer token at `path` of `base`. */
const initialize = (base: string, token: string, path = "/mcp") => initializeWithToken(`${base}${path}`, token);

async function oauthError(response: Response): Promise<string> {
  const body = (await response.json()) as { error?: string };
  return body.error ?? "";
}

/** `send` made `n` times at once: the token sets it won and the OAuth errors it got. */
async function atOnce(n: number, send: () => Promise<Response>) {
  const responses = await Promise.all(Array.from({ length: n }, send));
  const won: Record<string, string>[] = [];
  const refused: string[] = [];
  for (const response of responses) {
    if (response.status === 200) won.push((await response.json()) as Record<string, string>);
    else refused.push(`${response.status} ${await oauthError(response)}`);
  }
  return { won, refused };
}

/**
 * RFC 6749 4.1.2 and RFC 9700 4.14.2 when a thief races the client: of one code (or refresh
 * token) sent several times at once, one use gets tokens, the others are refused, and the
 * grant ends as on a sequential reuse, the winner's tokens with it.
 */
function usedOnceWhenRaced(base: () => string) {
  it("redeems a code sent four times at once once, and ends the grant", async () => {
    const hand = new HandClient(base());
    assert.equal((await hand.register()).status, 201);
    const { code, verifier } = await hand.authorize("alice");
    assert.ok(code);
    const { won, refused } = await atOnce(4, () => hand.exchange(code, verifier));
    assert.equal(won.length, 1, `one redemption succeeds (refused: ${refused.join(", ")})`);
    assert.deepEqual(refused, ["400 invalid_grant", "400 invalid_grant", "400 invalid_grant"]);
    const [tokens] = won as [Record<string, string>];
    assert.equal((await initialize(base(), tokens.access_token as string)).status, 401, "the grant ended");
    const refresh = await hand.token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token as string });
    assert.equal(await oauthError(refresh), "invalid_grant");
  });

  it("rotates a refresh token sent five times at once once, and ends the family", async () => {
    const hand = new HandClient(base());
    assert.equal((await hand.register()).status, 201);
    const { code, verifier } = await hand.authorize("alice");
    assert.ok(code);
    const first = (await (await hand.exchange(code, verifier)).json()) as Record<string, string>;
    const { won, refused } = await atOnce(5, () =>
      hand.token({ grant_type: "refresh_token", refresh_token: first.refresh_token as string }),
    );
    assert.equal(won.length, 1, `one refresh succeeds (refused: ${refused.join(", ")})`);
    assert.deepEqual(refused, Array(4).fill("400 invalid_grant"));
    const [rotated] = won as [Record<string, string>];
    for (const access of [first.access_token, rotated.access_token])
      assert.equal((await initialize(base(), access as string)).status, 401, "no token of the family works");
    const again = await hand.token({ grant_type: "refresh_token", refresh_token: rotated.refresh_token as string });
    assert.equal(await oauthError(again), "invalid_grant");
  });
}

describe("MCP clients with the proxy's own authorization server", () => {
  let stack: Stack;
  let base: string;

  before(async () => {
    stack = await startStack({
      env: {
        MCP_AUTH_MODE: "proxy",
        MCP_REQUIRED_SCOPES: "mcp:tools",
        ACCESS_REQUIRED_GROUPS: "mcp-users",
      },
    });
    base = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());

  usedOnceWhenRaced(() => base);

  it("points MCP clients from the 401 to itself as authorization server, at every well-known form", async () => {
    const response = await fetch(`${base}/mcp`, { method: "POST", body: "{}" });
    assert.equal(response.status, 401);
    assert.equal(
      response.headers.get("www-authenticate"),
      `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource", scope="mcp:tools"`,
    );
    const resourceMetadata = (await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json()) as Json;
    assert.equal(resourceMetadata.resource, base);
    assert.deepEqual(resourceMetadata.authorization_servers, [base]);
    for (const path of [
      "/.well-known/oauth-authorization-server",
      "/.well-known/oauth-authorization-server/mcp",
      "/.well-known/openid-configuration",
      "/.well-known/openid-configuration/mcp",
      "/mcp/.well-known/openid-configuration",
    ]) {
      const metadata = await fetch(`${base}${path}`);
      assert.equal(metadata.status, 200, path);
      const document = (await metadata.json()) as Json;
      assert.equal(document.issuer, base, path);
      assert.equal(document.authorization_endpoint, `${base}/oauth/authorize`, path);
      assert.equal(document.token_endpoint, `${base}/oauth/token`, path);
      assert.equal(document.registration_endpoint, `${base}/oauth/register`, path);
      assert.equal(document.revocation_endpoint, `${base}/oauth/revoke`, path);
      assert.deepEqual(document.code_challenge_methods_supported, ["S256"], path);
    }
  });

  it("issues Bearer tokens only: a client's DPoP proof gets no key-bound token the MCP endpoint would not check", async () => {
    const metadata = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Json;
    assert.equal(metadata.dpop_signing_alg_values_supported, undefined, "DPoP is not offered");
    const hand = new HandClient(base);
    assert.equal((await hand.register()).status, 201);
    const { code, verifier } = await hand.authorize("alice");
    assert.ok(code);
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const proof = await new SignJWT({ htm: "POST", htu: `${base}/oauth/token`, jti: randomUUID() })
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: await exportJWK(publicKey) })
      .setIssuedAt()
      .sign(privateKey);
    const response = await fetch(`${base}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", dpop: proof },
      body: new URLSearchParams({
        client_id: hand.clientId,
        grant_type: "authorization_code",
        code,
        code_verifier: verifier,
        redirect_uri: CLIENT_REDIRECT,
        resource: base,
      }),
    });
    assert.equal(response.status, 200);
    const tokens = (await response.json()) as Record<string, string>;
    assert.equal(tokens.token_type, "Bearer", "RFC 9449 lets the server answer a proof with a Bearer token");
    assert.equal((await initialize(base, tokens.access_token as string)).status, 200);
  });

  it("answers browser clients (MCP Inspector) from their own origin: preflights and real requests", async () => {
    const origin = "http://localhost:6274";
    for (const [path, method] of [
      ["/.well-known/oauth-protected-resource/mcp", "GET"],
      ["/.well-known/oauth-authorization-server", "GET"],
      ["/oauth/register", "POST"],
      ["/oauth/token", "POST"],
    ] as const) {
      const preflight = await fetch(`${base}${path}`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": method,
          "access-control-request-headers": "mcp-protocol-version, content-type",
        },
      });
      assert.ok(preflight.status === 204 || preflight.status === 200, path);
      assert.ok(["*", origin].includes(preflight.headers.get("access-control-allow-origin") ?? ""), path);
      assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /mcp-protocol-version/i, path);
    }
    const registration = await fetch(`${base}/oauth/register`, {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: JSON.stringify({
        client_name: "MCP Inspector",
        redirect_uris: [`${origin}/oauth/callback`],
        token_endpoint_auth_method: "none",
      }),
    });
    assert.equal(registration.status, 201);
    assert.equal(registration.headers.get("access-control-allow-origin"), origin);
    const registered = (await registration.json()) as Json;
    assert.equal(registered.token_endpoint_auth_method, "none", "a public client");
    assert.equal(registered.client_secret, undefined, "a public client gets no secret");
  });

  it("registration without token_endpoint_auth_method: RFC 7591's client_secret_basic, with a secret that works", async () => {
    const hand = new HandClient(base);
    const registration = await hand.register({ token_endpoint_auth_method: undefined });
    assert.equal(registration.status, 201);
    const registered = (await registration.json()) as Json;
    assert.equal(registered.token_endpoint_auth_method, "client_secret_basic");
    assert.equal(typeof registered.client_secret, "string", "the method needs a secret, so one is issued");
    const { code, verifier } = await hand.authorize("alice");
    assert.ok(code);
    const body = new URLSearchParams({
      grant_type: "authorization_code",
      code,
      code_verifier: verifier,
      redirect_uri: CLIENT_REDIRECT,
      resource: base,
    });
    const basic = (secret: string) =>
      `Basic ${Buffer.from(`${encodeURIComponent(hand.clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`;
    const exchange = (secret: string) =>
      fetch(`${base}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(secret) },
        body,
      });
    const wrong = await exchange("not-the-secret");
    assert.equal(wrong.status, 401);
    assert.equal(await oauthError(wrong), "invalid_client");
    const right = await exchange(registered.client_secret as string);
    assert.equal(right.status, 200, "the issued secret authenticates the client");
    const tokens = (await right.json()) as Record<string, string>;
    assert.equal((await initialize(base, tokens.access_token as string)).status, 200);
    // Without its secret the client is refused: it is not a public client.
    const { code: second, verifier: secondVerifier } = await hand.authorize("alice");
    assert.equal(await oauthError(await hand.exchange(second as string, secondVerifier)), "invalid_client");
  });

  it("lets the official SDK client that names no token_endpoint_auth_method sign in with its secret and refresh", async () => {
    const oauth = new (class extends InMemoryOAuthClient {
      override get clientMetadata() {
        const { token_endpoint_auth_method: _, ...metadata } = super.clientMetadata;
        return metadata;
      }
    })();
    const { client } = await connectWithOAuth(`${base}/mcp`, "alice", oauth);
    try {
      assert.equal(
        (oauth.client as { token_endpoint_auth_method?: string }).token_endpoint_auth_method,
        "client_secret_basic",
      );
      assert.ok(oauth.client?.client_secret, "the SDK was given a secret and used it for the code");
      const tokens = oauth.savedTokens as OAuthTokens;
      oauth.savedTokens = { ...tokens, access_token: "an-expired-access-token-0123456789" };
      await client.callTool({ name: "whoami", arguments: {} });
      assert.notEqual(oauth.savedTokens?.access_token, tokens.access_token, "and to refresh");
      assert.notEqual(oauth.savedTokens?.refresh_token, tokens.refresh_token, "its refresh token rotates too");
    } finally {
      await client.close();
    }
  });

  it("lets the official SDK client register, sign in upstream, approve, call tools and stream", async () => {
    const { client, oauth } = await connectWithOAuth(`${base}/mcp`, "alice");
    try {
      assert.equal(oauth.client?.client_id !== undefined, true);
      const tools = await client.listTools();
      assert.ok(tools.tools.some((t) => t.name === "whoami"));
      const who = await client.callTool({ name: "whoami", arguments: {} });
      assertIdentity(whoamiIdentity(who), { ...ALICE, "x-auth-provider": stack.idp.issuer });
      const seen = stack.mcp.requests.findLast((r) => r.url === "/mcp");
      assert.equal(seen?.headers.authorization, undefined, "the client's token never reaches the MCP server");
      const steps: number[] = [];
      const counted = await client.callTool({ name: "count", arguments: { n: 3 } }, undefined, {
        onprogress: (progress) => steps.push(progress.progress),
      });
      assert.deepEqual(steps, [1, 2, 3]);
      assert.equal((counted.content as { text: string }[])[0]?.text, "counted to 3");
      // What the client holds is the proxy's token for this server, not the provider's.
      const tokens = oauth.savedTokens as OAuthTokens;
      assert.equal(tokens.token_type.toLowerCase(), "bearer");
      assert.ok(tokens.refresh_token, "a refresh token is issued");
      assert.equal(tokens.access_token.split(".").length, 1, "an opaque token, not a provider JWT");

      // The access token no longer works (as after its 10 minutes): the SDK client gets a 401,
      // refreshes with its refresh token and goes on.
      const clientId = oauth.client?.client_id as string;
      const revoke = (token: string) =>
        fetch(`${base}/oauth/revoke`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ client_id: clientId, token }).toString(),
        });
      oauth.savedTokens = { ...tokens, access_token: "an-expired-access-token-0123456789" };
      await client.callTool({ name: "whoami", arguments: {} });
      const refreshed = oauth.savedTokens as OAuthTokens;
      assert.notEqual(refreshed.access_token, tokens.access_token, "the client refreshed");
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token, "the refresh token rotated");

      // The grant is revoked: refreshing fails and the client must send the person to sign in.
      assert.equal((await revoke(refreshed.refresh_token as string)).status, 200);
      await assert.rejects(client.callTool({ name: "whoami", arguments: {} }), (error: Error) => {
        assert.match(error.name, /InvalidGrant|Unauthorized/);
        return true;
      });
    } finally {
      await client.close();
    }
  });

  it("refreshes with rotation, detects reuse of a refresh token, and revokes", async () => {
    const hand = new HandClient(base);
    assert.equal((await hand.register()).status, 201);
    const { code, verifier } = await hand.authorize("alice");
    assert.ok(code);
    const first = (await (await hand.exchange(code, verifier)).json()) as Record<string, string>;
    assert.equal((await initialize(base, first.access_token as string)).status, 200);

    const refreshed = await hand.token({ grant_type: "refresh_token", refresh_token: first.refresh_token as string });
    assert.equal(refreshed.status, 200);
    const second = (await refreshed.json()) as Record<string, string>;
    assert.notEqual(second.refresh_token, first.refresh_token, "the refresh token rotates");
    assert.equal((await initialize(base, second.access_token as string)).status, 200);

    // The old refresh token again: a stolen copy. The whole grant ends.
    const reuse = await hand.token({ grant_type: "refresh_token", refresh_token: first.refresh_token as string });
    assert.equal(reuse.status, 400);
    assert.equal(await oauthError(reuse), "invalid_grant");
    assert.equal((await initialize(base, second.access_token as string)).status, 401);

    // A fresh grant, then revocation of its refresh token: its access token stops working.
    const again = await hand.authorize("alice");
    assert.ok(again.code);
    const third = (await (await hand.exchange(again.code, again.verifier)).json()) as Record<string, string>;
    assert.equal((await initialize(base, third.access_token as string)).status, 200);
    assert.equal((await hand.revoke(third.refresh_token as string)).status, 200);
    const revoked = await initialize(base, third.access_token as string);
    assert.equal(revoked.status, 401);
    assert.match(revoked.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
  });

  it("asks for consent once per user, client and redirect URI, and honours a denial", async () => {
    const hand = new HandClient(base);
    await hand.register({
      client_name: "Cursor <b>bold</b>",
      redirect_uris: ["cursor://anysphere.cursor-mcp/oauth/callback"],
    });
    const url = new URL(`${base}/oauth/authorize`);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: hand.clientId,
      redirect_uri: "cursor://anysphere.cursor-mcp/oauth/callback",
      code_challenge: createHash("sha256").update("v".repeat(43)).digest("base64url"),
      code_challenge_method: "S256",
      scope: "mcp:tools",
      resource: base,
    }).toString();
    const page = await hand.browser.signIn(url.href, "alice", "cursor://", "stop");
    assert.equal(page.status, 200);
    assert.match(page.text, /Allow Cursor &lt;b&gt;bold&lt;\/b&gt;\?/, "the client's name, escaped");
    assert.match(page.text, /cursor:\/\/anysphere\.cursor-mcp/, "where the answer goes");
    assert.match(page.text, /mcp:tools/);
    assert.equal(page.headers.get("x-frame-options"), "DENY");
    assert.match(page.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);

    // A forged approval (no CSRF token from the page) changes nothing.
    const uid = /data-mcp-consent="([^"]+)"/.exec(page.text)?.[1];
    const forged = await hand.browser.request(`${base}/interaction/${uid}/confirm`, {
      method: "POST",
      body: "csrf=guess&decision=allow",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(forged.status, 403);

    const denied = await hand.browser.answerConsent(page, "deny", "cursor://");
    assert.equal(new URL(denied.url).searchParams.get("error"), "access_denied");

    // Approved once, the next authorization of the same client goes straight back.
    const approvedPage = await hand.browser.signIn(url.href, "alice", "cursor://", "stop");
    const approved = await hand.browser.answerConsent(approvedPage, "allow", "cursor://");
    assert.ok(new URL(approved.url).searchParams.get("code"));
    const remembered = await hand.browser.signIn(url.href, "alice", "cursor://", "stop");
    assert.ok(new URL(remembered.url).searchParams.get("code"), "no second consent page");
  });

  it("asks the upstream provider only to sign the person in: no resource, no client's scopes", async () => {
    const hand = new HandClient(base);
    await hand.register();
    const url = new URL(`${base}/oauth/authorize`);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: hand.clientId,
      redirect_uri: CLIENT_REDIRECT,
      code_challenge: createHash("sha256").update("w".repeat(43)).digest("base64url"),
      code_challenge_method: "S256",
      scope: "mcp:tools",
      resource: base,
    }).toString();
    const atProvider = await hand.browser.navigate(url.href, {}, stack.idp.issuer);
    const upstream = new URL(atProvider.url);
    assert.equal(upstream.origin, stack.idp.issuer);
    assert.equal(upstream.searchParams.get("resource"), null, "Entra ID rejects resource; it is never sent");
    assert.equal(upstream.searchParams.get("scope"), "openid profile email");
    assert.equal(upstream.searchParams.get("code_challenge_method"), "S256");
  });

  it("applies the access rules before any code is issued", async () => {
    const hand = new HandClient(base);
    await hand.register();
    const result = await hand.authorize("bob");
    assert.equal(result.code, undefined);
    assert.equal(result.error, "access_denied");
  });

  it("registers loopback clients on any port and app schemes; refuses dangerous redirect URIs", async () => {
    const vscode = new HandClient(base);
    assert.equal((await vscode.register({ redirect_uris: ["http://127.0.0.1:33418/"] })).status, 201);
    // VS Code comes back on another port than it registered: allowed for loopback (RFC 8252).
    const other = await vscode.authorize("alice", { redirectUri: "http://127.0.0.1:51234/" });
    assert.ok(other.code, other.landing);
    for (const redirect of ["javascript:alert(1)", "data:text/html,hi", "http://evil.example/cb"]) {
      const response = await new HandClient(base).register({ redirect_uris: [redirect] });
      assert.equal(response.status, 400, redirect);
      assert.equal(await oauthError(response), "invalid_redirect_uri", redirect);
    }
  });

  it("answers every misuse with a standard OAuth error, never a 500", async () => {
    const hand = new HandClient(base);
    await hand.register();
    const { code } = await hand.authorize("alice");
    assert.ok(code);
    const wrongVerifier = await hand.exchange(code, "x".repeat(43));
    assert.equal(wrongVerifier.status, 400);
    assert.equal(await oauthError(wrongVerifier), "invalid_grant");

    const fresh = await hand.authorize("alice");
    assert.ok(fresh.code);
    const wrongRedirect = await hand.exchange(fresh.code, fresh.verifier, { redirect_uri: "http://127.0.0.1:1/other" });
    assert.equal(await oauthError(wrongRedirect), "invalid_grant");

    const once = await hand.authorize("alice");
    assert.ok(once.code);
    const onceTokens = (await (await hand.exchange(once.code, once.verifier)).json()) as Record<string, string>;
    const reused = await hand.exchange(once.code, once.verifier);
    assert.equal(await oauthError(reused), "invalid_grant");
    assert.equal(
      (await initialize(base, onceTokens.access_token as string)).status,
      401,
      "a reused code ends its grant",
    );

    const otherResource = await hand.authorize("alice", { resource: "https://other-mcp.example" });
    assert.equal(otherResource.error, "invalid_target");

    const unknown = await fetch(`${base}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=authorization_code&client_id=nobody&code=x&code_verifier=y",
    });
    assert.equal(unknown.status, 401);
    assert.equal(await oauthError(unknown), "invalid_client");

    const noPkce = await fetch(
      `${base}/oauth/authorize?response_type=code&client_id=${hand.clientId}&redirect_uri=${encodeURIComponent(CLIENT_REDIRECT)}`,
      { redirect: "manual" },
    );
    assert.match(noPkce.headers.get("location") ?? "", /error=invalid_request/);

    const unknownClient = await fetch(`${base}/oauth/authorize?response_type=code&client_id=nobody`, {
      redirect: "manual",
    });
    assert.equal(unknownClient.status, 400);
    assert.equal(await oauthError(unknownClient), "invalid_client");

    const garbage = await fetch(`${base}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(garbage.status, 400);

    // An interaction that does not exist (or expired): JSON, not a page or a 500.
    const stale = await fetch(`${base}/interaction/no-such-interaction`, { headers: { accept: "text/html" } });
    assert.equal(stale.status, 400);
    assert.equal(((await stale.json()) as { error: { code: string } }).error.code, "OIDC_ERROR");
    const forged = await fetch(`${base}/interaction/no-such-interaction/confirm`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "csrf=x",
    });
    assert.equal(forged.status, 403);

    for (const token of ["", "x".repeat(5000), "a.b.c", "Zm9v"]) {
      assert.equal((await initialize(base, token)).status, 401, `token ${token.slice(0, 10)}`);
    }
  });
});

describe("what one dynamic client registration may hold", () => {
  let stack: Stack;
  let base: string;

  before(async () => {
    stack = await startStack({ env: { MCP_AUTH_MODE: "proxy" } });
    base = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());

  const register = (metadata: Json) => new HandClient(base).register(metadata);

  it("accepts what MCP clients register, and keeps RFC 7591's software_id and software_version", async () => {
    const response = await register({
      client_name: "Claude Code (mcp-oidc-proxy)",
      redirect_uris: ["http://127.0.0.1:33418/callback", "http://localhost:33418/callback", "cursor://anysphere/cb"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      scope: "mcp",
      software_id: "com.example.mcp-client",
      software_version: "1.2.3",
    });
    assert.equal(response.status, 201);
    const registered = (await response.json()) as Json;
    assert.equal(registered.software_id, "com.example.mcp-client");
    assert.equal(registered.software_version, "1.2.3");
  });

  it("refuses a long name, a long URI, too many redirect URIs and a large body (RFC 7591 errors)", async () => {
    const refusals: [string, Json, string][] = [
      ["a 201-character client_name", { client_name: "x".repeat(201) }, "invalid_client_metadata"],
      ["a 3,000-character scope", { scope: "s".repeat(3000) }, "invalid_client_metadata"],
      [
        "21 redirect URIs",
        { redirect_uris: Array.from({ length: 21 }, (_, i) => `http://127.0.0.1:33418/cb${i}`) },
        "invalid_redirect_uri",
      ],
      [
        "a 3,000-character redirect URI",
        { redirect_uris: [`http://127.0.0.1:33418/${"a".repeat(3000)}`] },
        "invalid_redirect_uri",
      ],
    ];
    for (const [what, metadata, error] of refusals) {
      const response = await register(metadata);
      assert.equal(response.status, 400, what);
      assert.equal(await oauthError(response), error, what);
    }
    // 50 KB declared: refused before it is read.
    const declared = await register({ client_name: "x".repeat(50_000) });
    assert.equal(declared.status, 413);
    assert.equal(await oauthError(declared), "invalid_client_metadata");
    // 20 KB sent chunked (no length to judge first): refused once read, every field in bounds.
    const body = JSON.stringify({
      token_endpoint_auth_method: "none",
      redirect_uris: Array.from({ length: 20 }, (_, i) => `http://127.0.0.1:33418/${i}/${"a".repeat(1000)}`),
    });
    const chunked = await fetch(`${base}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Blob([body]).stream(),
      duplex: "half",
    } as RequestInit);
    assert.equal(chunked.status, 400);
    assert.equal(await oauthError(chunked), "invalid_client_metadata");
  });
});

/** Two proxies (their own authorization server) sharing a fresh redis-server, behind a round robin. */
interface Pair {
  redis: TestRedis;
  stack: Stack;
  balancer: RoundRobin;
  close(): Promise<void>;
}

async function balancedPair(env: Record<string, string>): Promise<Pair> {
  const port = await freePort();
  const both = await startStackWithRedis({
    proxies: 2,
    publicUrl: `http://127.0.0.1:${port}`,
    env: { MCP_AUTH_MODE: "proxy", ...env },
  });
  const { redis, stack } = both;
  const balancer = await startRoundRobin(port, () => stack.ports.map((p) => `http://127.0.0.1:${p}`));
  return {
    redis,
    stack,
    balancer,
    async close() {
      await balancer.close();
      await both.close();
    },
  };
}

describe("the authorization server on two instances sharing Redis", () => {
  let pair: Pair;
  let redis: TestRedis;
  let stack: Stack;
  let balancer: RoundRobin;

  before(async () => {
    pair = await balancedPair({
      MCP_REQUIRED_SCOPES: "mcp:tools",
      // Revocation on one instance is seen by the other at once (no local reuse window).
      SESSION_CACHE_TTL: "0s",
    });
    ({ redis, stack, balancer } = pair);
  });
  after(() => pair.close());

  it("completes the SDK client's whole flow with every step on another instance than the last", async () => {
    const { client, oauth } = await connectWithOAuth(`${balancer.url}/mcp`, "alice");
    try {
      const who = await client.callTool({ name: "whoami", arguments: {} });
      assert.match((who.content as { text: string }[])[0]?.text ?? "", /"x-user-id":"alice"/);
      assert.ok(oauth.savedTokens?.access_token);
    } finally {
      await client.close();
    }
    // Strict alternation: each request of the flow met the other instance than the one before.
    const served = (prefix: string) =>
      new Set(balancer.log.filter(([, , p]) => p.startsWith(prefix)).map(([instance]) => instance));
    for (const step of ["/oauth/authorize", "/interaction/", "/mcp"]) {
      assert.deepEqual([...served(step)].sort(), [0, 1], `${step} was answered by both instances`);
    }
    assert.ok(served("/oauth/register").size === 1 && served("/oauth/token").size === 1);
  });

  it("keeps registered clients and grants across restarts of both instances", async () => {
    const hand = new HandClient(balancer.url);
    assert.equal((await hand.register()).status, 201);
    const { code, verifier } = await hand.authorize("alice");
    assert.ok(code);
    const tokens = (await (await hand.exchange(code, verifier)).json()) as Record<string, string>;
    for (const index of [0, 1]) {
      await stack.proxies[index]?.shutdown();
      await stack.startProxy(index);
    }
    assert.equal((await initialize(balancer.url, tokens.access_token as string)).status, 200);
    const refreshed = await hand.token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token as string });
    assert.equal(refreshed.status, 200, "the client and its refresh token outlived the restart");
    const next = (await refreshed.json()) as Record<string, string>;
    // Revoked through one instance, refused by both.
    assert.equal((await hand.revoke(next.refresh_token as string)).status, 200);
    for (let attempt = 0; attempt < 2; attempt++) {
      assert.equal((await initialize(balancer.url, next.access_token as string)).status, 401);
    }
  });

  it("keeps no usable credential in Redis: neither KEYS nor the values show a code, token, secret or session id", async () => {
    const hand = new HandClient(balancer.url);
    const registration = await hand.register({ token_endpoint_auth_method: "client_secret_post" });
    assert.equal(registration.status, 201);
    const clientSecret = ((await registration.json()) as Json).client_secret as string;
    const { code, verifier } = await hand.authorize("alice");
    assert.ok(code);
    const tokens = (await (await hand.exchange(code, verifier, { client_secret: clientSecret })).json()) as Record<
      string,
      string
    >;
    const refreshed = (await (
      await hand.token({
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token as string,
        client_secret: clientSecret,
      })
    ).json()) as Record<string, string>;
    const cookies = (await hand.browser.jar.getCookies(balancer.url)).filter(
      (c) => c.key.startsWith("mcp_oauth") && !c.key.endsWith(".sig"),
    );
    assert.ok(cookies.length > 0, "the authorization server's session cookie");
    const secrets = [
      clientSecret,
      code,
      tokens.access_token,
      tokens.refresh_token,
      refreshed.access_token,
      refreshed.refresh_token,
      ...cookies.map((c) => c.value),
    ] as string[];
    const redisClient = createClient({ url: redis.url });
    await redisClient.connect();
    try {
      const keys = await redisClient.keys("*");
      assert.ok(
        keys.some((k) => k.includes("AccessToken:")),
        "the tokens are in Redis, under other names",
      );
      const dump: string[] = [];
      for (const key of keys) {
        const type = await redisClient.type(key);
        dump.push(key, ...(type === "set" ? await redisClient.sMembers(key) : [(await redisClient.get(key)) ?? ""]));
      }
      for (const secret of secrets) {
        assert.ok(secret.length >= 20, "a real credential");
        const found = dump.find((entry) => entry.includes(secret));
        assert.equal(found, undefined, `a credential is readable in Redis: ${found?.slice(0, 80)}`);
      }
    } finally {
      await redisClient.quit();
    }
    assert.equal((await initialize(balancer.url, refreshed.access_token as string)).status, 200, "and still works");
  });

  // Last: the first test counts which instance served each step.
  usedOnceWhenRaced(() => balancer.url);
});

describe("regression: mcp_auth.token_cache_ttl was ignored in proxy mode (session.cache_ttl was used)", () => {
  let pair: Pair;
  let stack: Stack;
  let balancer: RoundRobin;

  before(async () => {
    pair = await balancedPair({
      // Sessions may be reused for an hour; tokens must not be reused at all.
      SESSION_CACHE_TTL: "1h",
      MCP_TOKEN_CACHE_TTL: "0s",
    });
    ({ stack, balancer } = pair);
  });
  after(() => pair.close());

  it("refuses a token revoked through one instance on both at once when the token cache is off", async () => {
    const hand = new HandClient(balancer.url);
    assert.equal((await hand.register()).status, 201);
    const { code, verifier } = await hand.authorize("alice");
    assert.ok(code);
    const tokens = (await (await hand.exchange(code, verifier)).json()) as Record<string, string>;
    const instances = stack.ports.map((p) => `http://127.0.0.1:${p}`);
    // Each instance verifies the token once (and would have kept it for session.cache_ttl).
    for (const instance of instances)
      assert.equal((await initialize(instance, tokens.access_token as string)).status, 200);
    assert.equal((await hand.revoke(tokens.refresh_token as string)).status, 200);
    for (const instance of instances)
      assert.equal((await initialize(instance, tokens.access_token as string)).status, 401, instance);
  });
});

describe("the provider's tokens behind an MCP client's grant", () => {
  let stack: Stack;
  let base: string;
  const lines: string[] = [];

  before(async () => {
    // Refresh the provider's tokens whenever an MCP client refreshes (less than 2 h left of 1 h).
    stack = await startStack({
      env: { MCP_AUTH_MODE: "proxy", OIDC_REFRESH_BEFORE_EXPIRY: "2h", LOG_LEVEL: "warn" },
      logger: capturingLogger(lines, "warn"),
    });
    base = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(async () => {
    await stack.close();
  });

  it("survives a provider that is away, and ends when the provider refuses the refresh", async () => {
    const hand = new HandClient(base);
    await hand.register();
    const { code, verifier, landing } = await hand.authorize("alice", { scope: "" });
    assert.ok(code, landing);
    let tokens = (await (await hand.exchange(code, verifier)).json()) as Record<string, string>;

    // The provider refreshes: the MCP client's refresh succeeds and rotates.
    let response = await hand.token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token as string });
    assert.equal(response.status, 200);
    tokens = (await response.json()) as Record<string, string>;

    // The provider is down: the MCP client keeps working and refreshing.
    await stack.idp.close();
    response = await hand.token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token as string });
    assert.equal(response.status, 200, "a provider restart must not end MCP clients' grants");
    tokens = (await response.json()) as Record<string, string>;
    // Said, with why (it said nothing: the refresh went on with the tokens it had, unlogged).
    const { port } = new URL(stack.idp.issuer);
    const deferred = lines
      .map((line) => JSON.parse(line) as { message: string; error?: string })
      .find((line) => line.message === "token refresh deferred: provider unreachable");
    assert.equal(
      deferred?.error,
      `http://localhost:${port}/token: connection refused by 127.0.0.1:${port} (ECONNREFUSED)`,
    );

    // The provider is back without the user's grant: the next refresh is refused.
    await stack.reviveProvider();
    response = await hand.token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token as string });
    assert.equal(response.status, 400);
    assert.equal(await oauthError(response), "invalid_grant");
  });
});

describe("settings from a file: scopes per path, registration limit", () => {
  let stack: Stack;
  let base: string;

  before(async () => {
    const directory = mkdtempSync(path.join(tmpdir(), "mcp-path-scopes-"));
    const configFile = path.join(directory, "config.yaml");
    writeFileSync(
      configFile,
      "mcp_auth:\n  path_scopes:\n    /admin: [mcp:admin]\n  server:\n    registration_rate_limit: 3\n",
    );
    stack = await startStack({ env: { MCP_AUTH_MODE: "proxy", MCP_REQUIRED_SCOPES: "mcp:tools" }, configFile });
    base = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());

  it("answers 403 insufficient_scope naming the scope a path needs, and lets a token with it pass", async () => {
    const metadata = (await (await fetch(`${base}/.well-known/oauth-protected-resource`)).json()) as Json;
    assert.deepEqual(metadata.scopes_supported, ["mcp:tools", "mcp:admin"]);
    const hand = new HandClient(base);
    await hand.register();
    const { code, verifier } = await hand.authorize("alice");
    assert.ok(code);
    const plain = (await (await hand.exchange(code, verifier)).json()) as Record<string, string>;
    assert.equal(plain.scope, "mcp:tools");
    assert.equal((await initialize(base, plain.access_token as string)).status, 200);
    const refused = await initialize(base, plain.access_token as string, "/admin/mcp");
    assert.equal(refused.status, 403);
    assert.match(refused.headers.get("www-authenticate") ?? "", /error="insufficient_scope"/);
    assert.match(refused.headers.get("www-authenticate") ?? "", /scope="mcp:admin"/);

    // Step-up: the client asks again with the scope the challenge named.
    const stepUp = await hand.authorize("alice", { scope: "mcp:tools mcp:admin" });
    assert.ok(stepUp.code, stepUp.landing);
    const admin = (await (await hand.exchange(stepUp.code, stepUp.verifier)).json()) as Record<string, string>;
    assert.equal(admin.scope, "mcp:tools mcp:admin");
    assert.notEqual((await initialize(base, admin.access_token as string, "/admin/mcp")).status, 403);
  });

  it("step-up refused with invalid_scope for a client that registered a scope: it may ask for any scope of this server", async () => {
    // SDK clients register the scope of the first challenge; a later 403 names another one.
    // The person approves the wider scope on the consent page, so the registration need not.
    const hand = new HandClient(base);
    assert.equal((await hand.register({ scope: "mcp:tools" })).status, 201);
    const stepUp = await hand.authorize("alice", { scope: "mcp:tools mcp:admin" });
    assert.ok(stepUp.code, stepUp.landing);
    const admin = (await (await hand.exchange(stepUp.code, stepUp.verifier)).json()) as Record<string, string>;
    assert.equal(admin.scope, "mcp:tools mcp:admin");
    assert.notEqual((await initialize(base, admin.access_token as string, "/admin/mcp")).status, 403);
  });

  it("limits registrations per client address with a JSON 429", async () => {
    // The tests above registered twice; the limit is 3 a minute.
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push((await new HandClient(base).register()).status);
    assert.deepEqual(statuses, [201, 429]);
    const limited = await new HandClient(base).register();
    assert.equal(limited.status, 429);
    assert.equal(await oauthError(limited), "temporarily_unavailable");
  });

  it("limits pushed authorization requests per client address as registrations (each is a stored record)", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${base}/oauth/par`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ client_id: "nobody", response_type: "code" }),
      });
      statuses.push(response.status);
    }
    assert.equal(statuses.filter((status) => status === 429).length, 1, statuses.join(" "));
    assert.equal(statuses[3], 429);
  });
});

describe("clients identified by a client ID metadata document", () => {
  let stack: Stack;
  let base: string;
  let documents: https.Server;
  let documentsUrl: string;
  const served: string[] = [];
  /** Every TCP connection the documents' servers accepted, TLS completed or not. */
  const connections: string[] = [];
  let certificates: ReturnType<typeof makeLocalhostCertificates>;

  before(async () => {
    certificates = makeLocalhostCertificates();
    // The client's own web site, publishing its metadata (here on loopback, over https).
    documents = https.createServer({ key: certificates.key, cert: certificates.cert }, (req, res) => {
      served.push(req.url ?? "");
      const self = `${documentsUrl}${req.url}`;
      const body: Record<string, unknown> = {
        client_id: self,
        client_name: "Document Client",
        redirect_uris: [CLIENT_REDIRECT],
        grant_types: ["authorization_code", "refresh_token"],
        token_endpoint_auth_method: "none",
      };
      if (req.url === "/mismatch.json") body.client_id = `${documentsUrl}/someone-else.json`;
      if (req.url === "/secret.json") body.client_secret = "shh";
      if (req.url === "/large.json") body.padding = "x".repeat(10_000);
      if (!["/client.json", "/mismatch.json", "/secret.json", "/large.json", "/other.json"].includes(req.url ?? "")) {
        res.writeHead(req.url === "/moved.json" ? 302 : 404, { location: `${documentsUrl}/client.json` }).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
    documents.on("connection", () => connections.push("127.0.0.1"));
    await new Promise<void>((resolve) => documents.listen(0, "127.0.0.1", resolve));
    documentsUrl = `https://localhost:${(documents.address() as AddressInfo).port}`;
    stack = await startStack({
      env: {
        MCP_AUTH_MODE: "proxy",
        OIDC_CA_FILE: certificates.caFile,
        MCP_CLIENT_METADATA_PRIVATE_ADDRESSES: "true",
      },
    });
    base = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(async () => {
    await stack.close();
    documents.closeAllConnections();
    await new Promise((resolve) => documents.close(resolve));
  });

  it("advertises the support, and the SDK client signs in with its URL as client_id, unregistered", async () => {
    const metadata = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Json;
    assert.equal(metadata.client_id_metadata_document_supported, true);
    const oauth = new (class extends InMemoryOAuthClient {
      clientMetadataUrl = `${documentsUrl}/client.json`;
    })();
    const browser = new TestBrowser();
    const { client } = await connectWithOAuth(`${base}/mcp`, "alice", oauth, browser);
    try {
      assert.equal(oauth.client?.client_id, `${documentsUrl}/client.json`);
      const who = await client.callTool({ name: "whoami", arguments: {} });
      assert.match((who.content as { text: string }[])[0]?.text ?? "", /"x-user-id":"alice"/);
    } finally {
      await client.close();
    }
    assert.ok(served.includes("/client.json"));
  });

  it("refuses documents that do not name themselves, carry a secret, are too large or redirect", async () => {
    for (const name of ["mismatch", "secret", "large", "moved", "missing"]) {
      const response = await fetch(
        `${base}/oauth/authorize?response_type=code&client_id=${encodeURIComponent(`${documentsUrl}/${name}.json`)}`,
        { redirect: "manual" },
      );
      assert.equal(response.status, 400, name);
      assert.equal(await oauthError(response), "invalid_client", name);
    }
  });

  it("never fetches from a private address unless allowed (SSRF)", async () => {
    const env = { ...stack.envFor(0), MCP_CLIENT_METADATA_PRIVATE_ADDRESSES: "false", MCP_PORT: "0" };
    const strict = await startProxy(loadConfig({ env }).config);
    try {
      const before = served.length;
      const response = await fetch(
        `${strict.url}/oauth/authorize?response_type=code&client_id=${encodeURIComponent(`${documentsUrl}/other.json`)}`,
        { redirect: "manual" },
      );
      assert.equal(await oauthError(response), "invalid_client");
      assert.equal(served.length, before, "the document server was never contacted");
    } finally {
      await strict.shutdown();
    }
  });

  it("refuses a client_id whose host is a private IP literal in any spelling, before connecting", async () => {
    const env = { ...stack.envFor(0), MCP_CLIENT_METADATA_PRIVATE_ADDRESSES: "false", MCP_PORT: "0" };
    const strict = await startProxy(loadConfig({ env }).config);
    // The documents also answer on ::1, so an IPv6 literal that got through would connect.
    const v6 = https.createServer({ key: certificates.key, cert: certificates.cert }, (_req, res) => {
      res.writeHead(404).end();
    });
    v6.on("connection", () => connections.push("::1"));
    await new Promise<void>((resolve) => v6.listen(0, "::1", resolve));
    const port = (documents.address() as AddressInfo).port;
    const v6Port = (v6.address() as AddressInfo).port;
    try {
      const forms = [
        `https://127.0.0.1:${port}`,
        `https://2130706433:${port}`,
        `https://0x7f.1:${port}`,
        `https://0177.0.0.1:${port}`,
        `https://127.1:${port}`,
        `https://[::ffff:127.0.0.1]:${port}`,
        `https://[::ffff:7f00:1]:${port}`,
        `https://[::1]:${v6Port}`,
        `https://[0:0:0:0:0:0:0:1]:${v6Port}`,
      ];
      for (const origin of forms) {
        const before = connections.length;
        const response = await fetch(
          `${strict.url}/oauth/authorize?response_type=code&client_id=${encodeURIComponent(`${origin}/client.json`)}`,
          { redirect: "manual" },
        );
        assert.equal(response.status, 400, origin);
        assert.equal(await oauthError(response), "invalid_client", origin);
        assert.equal(connections.length, before, `${origin}: no connection was made`);
      }
    } finally {
      await strict.shutdown();
      v6.closeAllConnections();
      await new Promise((resolve) => v6.close(resolve));
    }
  });
});

describe("what the authorization server logs during whole flows", () => {
  const lines: string[] = [];
  let stack: Stack;
  let base: string;

  before(async () => {
    const logger = capturingLogger(lines, "debug");
    stack = await startStack({ env: { MCP_AUTH_MODE: "proxy", LOG_LEVEL: "debug" }, logger });
    base = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());

  it("logs no code, token, client secret or cookie, not even for refused requests (debug level)", async () => {
    const hand = new HandClient(base);
    const registered = (await (
      await hand.register({ token_endpoint_auth_method: "client_secret_post" })
    ).json()) as Json;
    const secret = registered.client_secret as string;
    const { code, verifier } = await hand.authorize("alice");
    assert.ok(code);
    const refused = await hand.exchange(code, verifier, { client_secret: "wrong-secret-value-0123456789" });
    assert.equal(await oauthError(refused), "invalid_client");
    const tokens = (await (await hand.exchange(code, verifier, { client_secret: secret })).json()) as Json;
    assert.equal(typeof tokens.access_token, "string", JSON.stringify(tokens));
    assert.equal((await initialize(base, tokens.access_token as string)).status, 200);
    assert.equal((await initialize(base, `${tokens.access_token as string}x`)).status, 401);
    const refreshed = await hand.token({
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token as string,
      client_secret: secret,
    });
    assert.equal(refreshed.status, 200);
    // A replayed code is refused (and revokes the grant).
    const replay = await hand.exchange(code, verifier, { client_secret: secret });
    assert.equal(await oauthError(replay), "invalid_grant");
    const cookies = (await hand.browser.jar.getCookies(base)).map((c) => c.value).filter((v) => v.length >= 20);
    const secrets = [
      secret,
      "wrong-secret-value-0123456789",
      code,
      tokens.access_token,
      tokens.refresh_token,
      ...cookies,
    ];
    assert.ok(
      lines.some((line) => line.includes("oauth request refused")),
      "refusals are logged",
    );
    for (const value of secrets as string[]) {
      const leaked = lines.find((line) => line.includes(value));
      assert.equal(leaked, undefined, `a credential is in the log: ${leaked?.slice(0, 200)}`);
    }
  });
});

describe("the authorization server behind TLS termination", () => {
  let stack: Stack;
  let base: string;

  before(async () => {
    // TLS ends at a load balancer in front; the proxy itself is reached over plain http.
    // It reaches the proxy by its address (Host 127.0.0.1), an allowed alias of the public host.
    stack = await startStack({
      publicUrl: "https://mcp.example.com",
      env: { MCP_AUTH_MODE: "proxy", MCP_ALLOWED_HOSTS: "127.0.0.1" },
    });
    base = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());

  it("advertises https everywhere and sets only Secure, HttpOnly, signed cookies", async () => {
    const metadata = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Json;
    const publicUrl = "https://mcp.example.com";
    assert.equal(metadata.issuer, publicUrl);
    assert.equal(metadata.token_endpoint, `${publicUrl}/oauth/token`);
    const hand = new HandClient(base);
    assert.equal((await hand.register()).status, 201);
    const authorize = await fetch(
      `${base}/oauth/authorize?${new URLSearchParams({
        response_type: "code",
        client_id: hand.clientId,
        redirect_uri: CLIENT_REDIRECT,
        code_challenge: createHash("sha256").update("z".repeat(43)).digest("base64url"),
        code_challenge_method: "S256",
      })}`,
      { redirect: "manual" },
    );
    assert.equal(authorize.status, 303);
    assert.match(authorize.headers.get("location") ?? "", /^\/interaction\//);
    const cookies = authorize.headers.getSetCookie();
    assert.ok(cookies.length > 0);
    for (const cookie of cookies) {
      assert.match(cookie, /; secure/i, cookie);
      assert.match(cookie, /; httponly/i, cookie);
      assert.match(cookie, /; samesite=lax/i, cookie);
    }
    assert.ok(
      cookies.some((c) => c.startsWith("mcp_oauth_interaction.sig=")),
      "signed",
    );
  });
});
