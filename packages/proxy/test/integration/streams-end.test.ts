// Open event streams end with their credential (decision 042): a GET /mcp stream opened with
// an MCP client's access token ends, cleanly, once that client is revoked at
// /connected-clients, within the re-check interval; another client's stream stays open. The
// clients are the official SDK's, connected through the proxy's own authorization server.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { TestBrowser } from "../support/browser.ts";
import { connectWithOAuth, InMemoryOAuthClient, initializeWithToken } from "../support/mcp-oauth-client.ts";
import { type Stack, startStack } from "../support/stack.ts";

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
async function openStream(token: string) {
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

/** Reads `count` keep-alive pings (the stream is open while they come). */
async function pings(reader: ReadableStreamDefaultReader<Uint8Array>, count: number): Promise<void> {
  const decoder = new TextDecoder();
  let text = "";
  while (text.split(": ping").length - 1 < count) {
    const { value, done } = await reader.read();
    assert.equal(done, false, "the other client's stream is still open");
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
    const revokedStream = await openStream(tokenOf(revoked));
    const keptStream = await openStream(tokenOf(kept));
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
