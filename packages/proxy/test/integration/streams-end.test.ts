// Open event streams end with their credential (decision 042): a GET /mcp stream opened with
// an MCP client's access token ends, cleanly, once that client is revoked at
// /connected-clients, within the re-check interval; another client's stream stays open. The
// clients are the official SDK's, connected through the proxy's own authorization server.
// Upgraded connections (WebSockets to the demo MCP server's echo) end alike, both their
// sockets, with a revoked client's token or a signed-out session (decision 043).
// A session store that stops answering (redis-server paused) leaves open streams and
// upgraded connections open.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { OutgoingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import type { OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { TestBrowser } from "../support/browser.ts";
import { capturingLogger } from "../support/captured-log.ts";
import { connectWithOAuth, InMemoryOAuthClient, initializeRequest } from "../support/mcp-oauth-client.ts";
import { type Stack, startStack, startStackWithRedis } from "../support/stack.ts";
import { websocketHandshake } from "../support/websocket-handshake.ts";

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

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const tokenOf = (connected: { oauth: InMemoryOAuthClient }) =>
  (connected.oauth.savedTokens as OAuthTokens).access_token;

/** A GET /mcp event stream in a new MCP session of `credential` (headers), its body being read. */
async function openStream(base: string, credential: Record<string, string>) {
  const initialized = await fetch(`${base}/mcp`, initializeRequest(credential));
  assert.equal(initialized.status, 200);
  await initialized.body?.cancel();
  const sessionId = initialized.headers.get("mcp-session-id") as string;
  const response = await fetch(`${base}/mcp`, {
    headers: {
      ...credential,
      accept: "text/event-stream",
      "mcp-session-id": sessionId,
      "mcp-protocol-version": "2025-06-18",
    },
  });
  assert.equal(response.status, 200);
  assert.match(String(response.headers.get("content-type")), /^text\/event-stream/);
  return (response.body as ReadableStream<Uint8Array>).getReader();
}

/** An upgraded connection to the demo MCP server's echo at `path`, through the proxy. */
async function openWebSocket(base: string, path: string, headers: OutgoingHttpHeaders): Promise<Socket> {
  const answer = await websocketHandshake(`${base}${path}`, headers);
  assert.equal(answer.status, 101);
  const socket = answer.socket as Socket;
  // Cut by the proxy, it may end with a reset.
  socket.on("error", () => {});
  return socket;
}

/** Resolves once `socket` is closed. */
function closed(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : once(socket, "close").then(() => undefined);
}

/** The MCP server's end of the upgraded connection opened at `path`. */
function upstreamEnd(path: string): Socket {
  const found = [...stack.mcp.upgraded].find(([, url]) => url === path);
  assert.ok(found, `the MCP server holds the upgrade to ${path}`);
  return found[0];
}

/** Resolves once `socket` echoed `text` back: the connection is open end to end. */
async function echoes(socket: Socket, text: string): Promise<void> {
  assert.equal(socket.destroyed, false, "the connection is open");
  let echoed = "";
  const done = new Promise<void>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      echoed += chunk.toString();
      if (!echoed.includes(text)) return;
      socket.off("data", read);
      resolve();
    };
    socket.on("data", read);
    socket.once("close", () => reject(new Error("the connection closed")));
  });
  socket.write(text);
  await done;
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

/**
 * Reads `count` keep-alive pings (the stream is open while they come), and on until `until`
 * holds: for 30 pings at most (a second apart, past ten re-check intervals), so what never
 * comes fails the test instead of reading on.
 */
async function pings(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  count: number,
  until: () => boolean = () => true,
): Promise<void> {
  const decoder = new TextDecoder();
  let text = "";
  let read = 0;
  while (read < count || !until()) {
    assert.ok(read < Math.max(count, 30), "what was awaited came within 30 pings");
    const { value, done } = await reader.read();
    assert.equal(done, false, "the stream is still open");
    text += decoder.decode(value, { stream: true });
    read = text.split(": ping").length - 1;
  }
}

/** Revokes the MCP client of `oauth` at /connected-clients, as the person would (the browser holds their session). */
async function revokeClient(browser: TestBrowser, oauth: InMemoryOAuthClient): Promise<void> {
  const page = await browser.navigate(`${base}/connected-clients`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] as string;
  const revoke = await browser.request(`${base}/connected-clients/revoke`, {
    method: "POST",
    body: new URLSearchParams({ csrf, client_id: oauth.client?.client_id as string }).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", origin: base, "sec-fetch-site": "same-origin" },
  });
  assert.equal(revoke.status, 303);
}

describe("an open event stream and its credential", () => {
  it("ends once its client is revoked; another client's stream stays open", async () => {
    const alice = new TestBrowser();
    const revoked = await connectWithOAuth(`${base}/mcp`, "alice", new InMemoryOAuthClient(), alice);
    const kept = await connectWithOAuth(`${base}/mcp`, "alice", new InMemoryOAuthClient(), alice);
    clients.push(revoked.client, kept.client);
    const revokedStream = await openStream(base, bearer(tokenOf(revoked)));
    const keptStream = await openStream(base, bearer(tokenOf(kept)));
    const revokedEnd = ended(revokedStream);

    await revokeClient(alice, revoked.oauth);

    assert.equal(await revokedEnd, true, "the revoked client's stream ends, cleanly");
    // Pings over more than a re-check interval (2 s) after that: the other stream outlived a sweep.
    await pings(keptStream, 3);
    await keptStream.cancel();
  });
});

describe("an open WebSocket and its credential", () => {
  it("is closed, on both sides, once its MCP client is revoked; another client's stays open", async () => {
    const alice = new TestBrowser();
    const revoked = await connectWithOAuth(`${base}/mcp`, "alice", new InMemoryOAuthClient(), alice);
    const kept = await connectWithOAuth(`${base}/mcp`, "alice", new InMemoryOAuthClient(), alice);
    clients.push(revoked.client, kept.client);
    const revokedSocket = await openWebSocket(base, "/ws/revoked-client", bearer(tokenOf(revoked)));
    const keptSocket = await openWebSocket(base, "/ws/kept-client", bearer(tokenOf(kept)));
    // A clock: its pings show re-check intervals passing.
    const keptStream = await openStream(base, bearer(tokenOf(kept)));
    await echoes(revokedSocket, "before the revocation");
    const upstream = upstreamEnd("/ws/revoked-client");

    await revokeClient(alice, revoked.oauth);

    await closed(revokedSocket);
    await closed(upstream);
    // Pings over more than a re-check interval (2 s) after that: the other connection outlived a sweep.
    await pings(keptStream, 3);
    await echoes(keptSocket, "after the revocation");
    keptSocket.destroy();
    await keptStream.cancel();
  });

  it("is closed once its session is signed out; another session's stays open", async () => {
    const signedOut = new TestBrowser();
    const kept = new TestBrowser();
    for (const browser of [signedOut, kept]) assert.equal((await browser.signIn(`${base}/`, "bob")).status, 200);
    const cookieOf = async (browser: TestBrowser) => ({ cookie: await browser.jar.getCookieString(base) });
    const signedOutSocket = await openWebSocket(base, "/ws/signed-out", await cookieOf(signedOut));
    const keptSocket = await openWebSocket(base, "/ws/kept-session", await cookieOf(kept));
    const keptStream = await openStream(base, await cookieOf(kept));
    const upstream = upstreamEnd("/ws/signed-out");

    assert.equal((await signedOut.fetch(`${base}/logout`, { method: "POST" })).status, 200);

    await closed(signedOutSocket);
    await closed(upstream);
    await pings(keptStream, 3);
    await echoes(keptSocket, "after the sign-out");
    keptSocket.destroy();
    await keptStream.cancel();
  });
});

describe("an open event stream while the session store does not answer", () => {
  it("stays open (fail open for admitted streams), and after; an open WebSocket too", async () => {
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
      const connected = await connectWithOAuth(`${at}/mcp`, "alice");
      const stream = await openStream(at, bearer(tokenOf(connected)));
      const socket = await openWebSocket(at, "/ws/outage", bearer(tokenOf(connected)));
      await connected.client.close();
      redis.pause();
      try {
        // Both were checked, and neither could be.
        const unchecked = () =>
          lines.some((line) => line.includes("could not be checked; they stay open") && line.includes('"upgrades":1'));
        await pings(stream, 1, unchecked);
        // Pings over more than a re-check interval (2 s) after a failed check: another sweep passed.
        await pings(stream, 3);
        await echoes(socket, "during the outage");
      } finally {
        redis.resume();
      }
      await pings(stream, 1);
      await echoes(socket, "after the outage");
      socket.destroy();
      await stream.cancel();
    } finally {
      await close();
    }
  });
});
