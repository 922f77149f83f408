// A provider that stops answering while MCP clients hold its tokens (mcp_auth.mode provider,
// decision 050): the development provider as a process of its own, paused with SIGSTOP (its
// port accepts and never answers) or killed (its port refuses). A JWKS fetch that failed made
// a good token a 401 invalid_token (an MCP client then drops it) after jose's 5 s timeout,
// and the stream recheck (decision 042) ended open streams as "credential refused" when the
// key set was due for its refetch. The key set's age is the proxy's clock, moved here by
// mocking Date; the provider's clock is its own process's.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it, mock } from "node:test";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import winston from "winston";
import { type DemoMcpServer, startDemoMcpServer } from "../../dev/mcp-server.ts";
import { KEYS_MAX_AGE_MS, KEYS_RETRY_MS } from "../../src/auth/provider-keys.ts";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { type RunningProxy, startProxy } from "../../src/proxy-server.ts";
import { initializeWithToken } from "../support/mcp-oauth-client.ts";
import { freePort } from "../support/ports.ts";
import { type ProviderProcess, startProviderProcess } from "../support/provider-process.ts";

const KEYS_FAILED = "identity provider's signing keys could not be fetched";
const KEYS_BACK = "identity provider's signing keys fetched again";

/** A proxy's log as entries, and a wait for the next entry with a message. */
function logRecorder() {
  const entries: { message: string }[] = [];
  const waiting: { message: string; resolve: () => void }[] = [];
  const logger = createLogger("info");
  logger.clear().add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          const entry = JSON.parse(chunk.toString()) as { message: string };
          entries.push(entry);
          for (const waiter of waiting.filter((w) => w.message === entry.message)) waiter.resolve();
          done();
        },
      }),
    }),
  );
  const next = (message: string) => new Promise<void>((resolve) => waiting.push({ message, resolve }));
  const count = (message: string) => entries.filter((entry) => entry.message === message).length;
  return { logger, next, count };
}

describe("a provider that stops answering, for its tokens' holders (provider mode)", () => {
  let idp: ProviderProcess;
  let mcp: DemoMcpServer;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  const proxies: RunningProxy[] = [];

  before(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    privateKey = pair.privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.privateKey)), kid: "key-a", alg: "RS256", use: "sig" };
    idp = await startProviderProcess({
      host: "localhost",
      clients: [{ client_id: "outage-proxy", client_secret: "outage-secret", redirect_uris: ["http://127.0.0.1/cb"] }],
      signingKeys: [jwk],
    });
    mcp = await startDemoMcpServer();
  });
  after(async () => {
    mock.timers.reset();
    for (const proxy of proxies) await proxy.shutdown();
    await mcp.close();
    await idp.close();
  });

  async function proxyWithLog() {
    const port = await freePort();
    const log = logRecorder();
    const { config } = loadConfig({
      env: {
        MCP_HOST: "127.0.0.1",
        MCP_PORT: String(port),
        MCP_PUBLIC_URL: `http://127.0.0.1:${port}`,
        MCP_TARGET_URL: mcp.url,
        OIDC_DISCOVERY_URL: idp.issuer,
        OIDC_CLIENT_ID: "outage-proxy",
        OIDC_CLIENT_SECRET: "outage-secret",
        SESSION_SECRET: "outage-session-secret-0123456789abcdef",
        MCP_AUTH_MODE: "provider",
      },
    });
    const proxy = await startProxy(config, { logger: log.logger });
    proxies.push(proxy);
    return { url: `http://127.0.0.1:${port}`, log };
  }

  /** A good token for `audience`, issued by the provider's key as the proxy's clock reads now. */
  function tokenFor(audience: string) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope: "mcp" })
      .setProtectedHeader({ alg: "RS256", kid: "key-a" })
      .setIssuer(idp.issuer)
      .setSubject("alice")
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
  }

  it("a good token while the paused provider never handed its keys out: 503 with Retry-After, not 401; 200 after SIGCONT", async () => {
    const { url, log } = await proxyWithLog();
    const token = await tokenFor(url);
    idp.pause();
    try {
      const first = await initializeWithToken(`${url}/mcp`, token);
      assert.equal(first.status, 503, await first.text());
      assert.equal(first.headers.get("retry-after"), String(KEYS_RETRY_MS / 1000));
      assert.equal(first.headers.get("www-authenticate"), null, "no challenge: the token is not refused");
      // The next request waits for no fetch of its own: the failure is known.
      const second = await initializeWithToken(`${url}/mcp`, token);
      assert.equal(second.status, 503, await second.text());
      assert.equal(log.count(KEYS_FAILED), 1);
    } finally {
      idp.resume();
    }
    const back = log.next(KEYS_BACK);
    mock.timers.enable({ apis: ["Date"], now: Date.now() + KEYS_RETRY_MS });
    try {
      // The first request after the retry time fetches the keys behind its own 503.
      const retried = await initializeWithToken(`${url}/mcp`, token);
      assert.equal(retried.status, 503, await retried.text());
      await back;
      const accepted = await initializeWithToken(`${url}/mcp`, token);
      assert.equal(accepted.status, 200, await accepted.text());
    } finally {
      mock.timers.reset();
    }
  });

  it("an open stream stays open across the recheck while the paused provider cannot renew the key set, and its token still passes", async () => {
    const { url, log } = await proxyWithLog();
    const token = await tokenFor(url);
    const init = await initializeWithToken(`${url}/mcp`, token);
    assert.equal(init.status, 200, await init.clone().text());
    const sessionId = init.headers.get("mcp-session-id") ?? "";
    await init.body?.cancel();
    const stream = await fetch(`${url}/mcp`, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: "text/event-stream",
        "mcp-session-id": sessionId,
        "mcp-protocol-version": "2025-06-18",
      },
    });
    assert.equal(stream.status, 200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const ended = (async () => {
      while (!(await reader.read()).done);
      return "stream ended";
    })().catch(() => "stream cut");

    idp.pause();
    // The key set is due for its refetch (and the verified token's cache has run out).
    mock.timers.enable({ apis: ["Date"], now: Date.now() + KEYS_MAX_AGE_MS });
    try {
      // The refetch is started by a sweep's check (the test sends nothing meanwhile); it fails
      // after its timeout, by when the sweep had judged the stream with the keys held.
      const first = await Promise.race([ended, log.next(KEYS_FAILED).then(() => "refetch failed")]);
      assert.equal(first, "refetch failed");
      const meanwhile = await initializeWithToken(`${url}/mcp`, token);
      assert.equal(meanwhile.status, 200, await meanwhile.text());
      assert.equal(log.count("an event stream was ended: its credential was refused"), 0);
    } finally {
      mock.timers.reset();
      idp.resume();
    }
    await reader.cancel();
  });

  it("a good token while the provider's port refuses and its keys were never fetched: 503, not 401", async () => {
    const { url } = await proxyWithLog();
    const token = await tokenFor(url);
    await idp.close();
    const refused = await initializeWithToken(`${url}/mcp`, token);
    assert.equal(refused.status, 503, await refused.text());
    assert.equal(refused.headers.get("retry-after"), String(KEYS_RETRY_MS / 1000));
  });
});
