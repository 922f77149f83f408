// Open event streams end with their credential (decision 042): a GET /mcp stream opened with
// an MCP client's access token ends, cleanly, once that client is revoked at
// /connected-clients, within the re-check interval; another client's stream stays open. The
// clients are the official SDK's, connected through the proxy's own authorization server.
// A session store that stops answering (redis-server paused) leaves open streams open.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { TestBrowser } from "../support/browser.ts";
import { capturingLogger } from "../support/captured-log.ts";
import { connectWithOAuth, InMemoryOAuthClient, initializeWithToken } from "../support/mcp-oauth-client.ts";
import { type Stack, startStack, startStackWithRedis } from "../support/stack.ts";

let stack: Stack;
let base: string;
const clients: { close(): Promise<void> }[] = [];

before(async () => {
  stack = await startStack({
    // Pings every second: the stream that stays open shows it is open by relaying them.
    env: { MCP_AUTH_MODE: "proxy", MCP_REQUIRED_SCOPES: "mcp:tools", MCP_SSE_KEEPALIVE_INTERVAL: "1s" },
  });
  base = `http://127.0.0.1:${stack.ports[0]}`;
});
after(async () => {
  for (const client of clients) await client.close();
  await stack.close();
});

/** A GET /mcp event stream in a new MCP session of `token`, its body being read. */
async function openStream(base: string, token: string) {
  const initialized = await initializeWithToken(`${base}/mcp`, token);
  assert.equal(initialized.status, 200);
  await initialized.body?.cancel();
  const sessionId = initialized.headers.get("mcp-session-id") as string;
  const response = await fetch(`${base}/mcp`, {
    headers: {
      authorization: `Bearer ${token}`,
      accept: "text/event-stream",
      "mcp-session-id": sessionId,
      "mcp-protocol-version": "2025-06-18",
    },
  });
  assert.equal(response.status, 200);
  assert.match(String(response.headers.get("content-type")), /^text\/event-stream/);
  return (response.body as ReadableStream<Uint8Array>).getReader();
}

/** Reads until the stream ends; resolves with whether it ended cleanly (not cut). */
async function ended(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<boolean> {
  try {
    while (!(await reader.read()).done) {}
    return true;
  } catch {
    return false;
  }
}

/** Reads `count` keep-alive pings (the stream is open while they come), and on until `until` holds. */
async function pings(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  count: number,
  until: () => boolean = () => true,
): Promise<void> {
  const decoder = new TextDecoder();
  let text = "";
  while (text.split(": ping").length - 1 < count || !until()) {
    const { value, done } = await reader.read();
    assert.equal(done, false, "the stream is still open");
    text += decoder.decode(value, { stream: true });
  }
}

describe("an open event stream and its credential", () => {
  it("ends once its client is revoked; another client's stream stays open", async () => {
    const alice = new TestBrowser();
    const revoked = await connectWithOAuth(`${base}/mcp`, "alice", new InMemoryOAuthClient(), alice);
    const kept = await connectWithOAuth(`${base}/mcp`, "alice", new InMemoryOAuthClient(), alice);
    clients.push(revoked.client, kept.client);
    const tokenOf = (connected: typeof revoked) => (connected.oauth.savedTokens as OAuthTokens).access_token;
    const revokedStream = await openStream(base, tokenOf(revoked));
    const keptStream = await openStream(base, tokenOf(kept));
    const revokedEnd = ended(revokedStream);

    const page = await alice.navigate(`${base}/connected-clients`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] as string;
    const revoke = await alice.request(`${base}/connected-clients/revoke`, {
      method: "POST",
      body: new URLSearchParams({ csrf, client_id: revoked.oauth.client?.client_id as string }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: base, "sec-fetch-site": "same-origin" },
    });
    assert.equal(revoke.status, 303);

    assert.equal(await revokedEnd, true, "the revoked client's stream ends, cleanly");
    // Pings over more than a re-check interval (2 s) after that: the other stream outlived a sweep.
    await pings(keptStream, 3);
    await keptStream.cancel();
  });
});

describe("an open event stream while the session store does not answer", () => {
  it("stays open (fail open for admitted streams), and after", async () => {
    const lines: string[] = [];
    const {
      redis,
      stack: withRedis,
      close,
    } = await startStackWithRedis({
      logger: capturingLogger(lines, "warn"),
      env: {
        MCP_AUTH_MODE: "proxy",
        // Every check reads the store: the outage is met at the first sweep.
        SESSION_CACHE_TTL: "0s",
        SESSION_STORE_TIMEOUT: "300ms",
        MCP_SSE_KEEPALIVE_INTERVAL: "1s",
      },
    });
    try {
      const at = `http://127.0.0.1:${withRedis.ports[0]}`;
      const { client, oauth } = await connectWithOAuth(`${at}/mcp`, "alice");
      const stream = await openStream(at, (oauth.savedTokens as OAuthTokens).access_token);
      await client.close();
      redis.pause();
      try {
        const unchecked = () => lines.some((line) => line.includes("could not be checked; they stay open"));
        await pings(stream, 1, unchecked);
        // Pings over more than a re-check interval (2 s) after a failed check: another sweep passed.
        await pings(stream, 3);
      } finally {
        redis.resume();
      }
      await pings(stream, 1);
      await stream.cancel();
    } finally {
      await close();
    }
  });
});
