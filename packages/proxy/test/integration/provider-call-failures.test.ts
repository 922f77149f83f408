// Calls to the identity provider that get no answer, after discovery succeeded: the provider's
// JWKS for a bearer token, the code exchange of a sign-in, a session's token refresh. Against
// the real development provider, stopped (its port refuses) or replaced by a listener that
// never answers. Each failure was logged as "fetch failed" (undici keeps the reason in
// error.cause), and a JWKS that could not be fetched made a good token a 401 invalid_token,
// which tells an MCP client to throw its token away.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { TestBrowser } from "../support/browser.ts";
import { capturingLogger } from "../support/captured-log.ts";
import { initializeWithToken } from "../support/mcp-oauth-client.ts";
import { type Stack, startStack } from "../support/stack.ts";

interface LogLine {
  message: string;
  error?: string;
  code?: string;
}

/** The provider's host:port as the proxy dials it (its issuer names localhost). */
function providerPort(stack: Stack): number {
  return Number(new URL(stack.idp.issuer).port);
}

/** A listener on the provider's address that accepts connections and never answers; close() ends them. */
async function silentListenerAt(issuer: string): Promise<{ close(): Promise<void> }> {
  const { hostname, port } = new URL(issuer);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(Number(port), hostname);
  await once(server, "listening");
  return {
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

describe("provider calls that get no answer", () => {
  let stack: Stack;
  let proxyUrl: string;
  const lines: string[] = [];
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

  const logged = (message: string): LogLine[] =>
    lines.map((line) => JSON.parse(line) as LogLine).filter((line) => line.message === message);

  const mint = () => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: stack.idp.issuer, sub: "alice", aud: proxyUrl, iat: now, exp: now + 600, scope: "mcp" })
      .setProtectedHeader({ alg: "RS256", kid: "key-a" })
      .sign(privateKey);
  };

  before(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    privateKey = pair.privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.privateKey)), kid: "key-a", alg: "RS256", use: "sig" };
    stack = await startStack({
      idp: { signingKeys: [jwk], mcpResourceScope: "mcp" },
      // Provider tokens for MCP clients, and a refresh on every request of a browser session.
      env: { MCP_AUTH_MODE: "provider", OIDC_REFRESH_BEFORE_EXPIRY: "2h", LOG_LEVEL: "warn" },
      logger: capturingLogger(lines, "warn"),
    });
    proxyUrl = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(async () => {
    await stack.close();
  });

  it("a sign-in whose code exchange meets a stopped provider gets a 503 naming nothing of it, the log names the refused port", async () => {
    const browser = new TestBrowser();
    const atCallback = await browser.signIn(`${proxyUrl}/`, "alice", `${proxyUrl}/callback`);
    await stack.idp.close();
    try {
      const page = await browser.request(atCallback.url);
      assert.equal(page.status, 503, page.text);
      assert.equal(page.headers.get("retry-after"), "5");
      const warning = logged("code exchange failed").at(-1);
      assert.equal(
        warning?.error,
        `http://localhost:${providerPort(stack)}/token: connection refused by 127.0.0.1:${providerPort(stack)} (ECONNREFUSED)`,
      );
    } finally {
      await stack.reviveProvider();
    }
  });

  it("a session whose refresh meets a stopped provider is kept, the log names the refused port", async () => {
    const alice = new TestBrowser();
    assert.equal((await alice.signIn(`${proxyUrl}/`, "alice")).status, 200);
    await stack.idp.close();
    try {
      assert.equal((await alice.navigate(`${proxyUrl}/`)).status, 200, "the session outlives a provider restart");
      const warning = logged("token refresh deferred: provider unreachable").at(-1);
      assert.match(
        String(warning?.error),
        new RegExp(`/token: connection refused by 127\\.0\\.0\\.1:${providerPort(stack)} `),
      );
    } finally {
      await stack.reviveProvider();
    }
  });

  it("a bearer token whose JWKS cannot be fetched gets a 503, not a 401; the log names the refused port", async () => {
    await stack.idp.close();
    try {
      const response = await initializeWithToken(`${proxyUrl}/mcp`, await mint());
      assert.equal(response.status, 503, await response.text());
      assert.equal(response.headers.get("retry-after"), "5");
      const failure = logged("requests refused: a dependency is unavailable").at(-1);
      assert.equal(failure?.code, "OIDC_ERROR");
      assert.equal(
        failure?.error,
        `http://localhost:${providerPort(stack)}/jwks: connection refused by 127.0.0.1:${providerPort(stack)} (ECONNREFUSED)`,
      );
    } finally {
      await stack.reviveProvider();
    }
  });

  it("a bearer token whose JWKS request is never answered gets a 503 once the fetch times out", async () => {
    // A proxy that has not met the provider failing yet: the one above answers 503 at once
    // for a while after its failed fetch, with that failure (decision 050).
    await stack.proxies[0]?.shutdown();
    await stack.startProxy(0);
    await stack.idp.close();
    const silent = await silentListenerAt(stack.idp.issuer);
    try {
      const response = await initializeWithToken(`${proxyUrl}/mcp`, await mint());
      assert.equal(response.status, 503, await response.text());
      const failure = logged("requests refused: a dependency is unavailable").at(-1);
      assert.equal(
        failure?.error,
        `http://localhost:${providerPort(stack)}/jwks: timed out: localhost:${providerPort(stack)} did not answer in time`,
      );
    } finally {
      await silent.close();
      await stack.reviveProvider();
    }
  });
});
