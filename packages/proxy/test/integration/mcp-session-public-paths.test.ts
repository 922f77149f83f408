// Public paths do not open a way into a signed-in user's MCP session (decision 049): with
// `access.public_paths: ["/public/*"]` and an MCP server that serves MCP under /public too
// (the demo server mirrored there), an anonymous request naming bob's Mcp-Session-Id, or the
// session id of bob's HTTP+SSE address in its query, gets the 404 of an unknown session, on
// POST, on GET and on a WebSocket upgrade. A session opened anonymously on a public path stays
// usable anonymously, and by no signed-in user on a protected path.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createParser } from "eventsource-parser";
import { TestBrowser } from "../support/browser.ts";
import { connectMcpClient, type Stack, startStack } from "../support/stack.ts";
import { websocketHandshake } from "../support/websocket-handshake.ts";

const SESSION_NOT_FOUND = { jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null };
const LIST = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };

/** The address the `endpoint` event of a GET /sse opened by `who` hands out; the stream stays open until `close`. */
async function legacyAddress(base: string, who: TestBrowser): Promise<{ address: string; close: () => void }> {
  const stream = new AbortController();
  const sse = await who.fetch(`${base}/sse`, { headers: { accept: "text/event-stream" }, signal: stream.signal });
  assert.equal(sse.status, 200);
  const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let address: string | undefined;
  const parser = createParser({
    onEvent: (event) => {
      if (event.event === "endpoint") address = event.data;
    },
  });
  while (address === undefined) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the stream ended before its endpoint event");
    parser.feed(decoder.decode(value, { stream: true }));
  }
  return { address, close: () => stream.abort() };
}

describe("MCP sessions on public paths (decision 049)", () => {
  let stack: Stack;
  let base: string;
  const bob = new TestBrowser();

  before(async () => {
    stack = await startStack({ env: { ACCESS_PUBLIC_PATHS: "/public/*" }, mcp: { mirrorAt: "/public" } });
    base = `http://127.0.0.1:${stack.ports[0]}`;
    assert.equal((await bob.signIn(`${base}/`, "bob")).status, 200);
  });
  after(() => stack?.close());

  const anonymous = (path: string, init: RequestInit, sessionId?: string) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: {
        accept: "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": "2025-06-18",
        ...(sessionId ? { "mcp-session-id": sessionId } : {}),
        ...(init.headers as Record<string, string> | undefined),
      },
    });

  it("an anonymous POST on a public path naming bob's Mcp-Session-Id gets 404; nothing reaches the MCP server", async () => {
    const { client, transport } = await connectMcpClient(`${base}/mcp`, bob.fetch);
    try {
      const sessionId = transport.sessionId as string;
      const answer = await anonymous("/public/mcp", { method: "POST", body: JSON.stringify(LIST) }, sessionId);
      assert.equal(answer.status, 404);
      assert.deepEqual(await answer.json(), SESSION_NOT_FOUND);
      const requestId = answer.headers.get("x-request-id");
      assert.ok(requestId);
      assert.ok(
        !stack.mcp.requests.some((r) => r.headers["x-request-id"] === requestId),
        "it never reached the MCP server",
      );
      // bob's session is untouched.
      assert.ok((await client.listTools()).tools.length > 0);
    } finally {
      await client.close();
    }
  });

  it("an anonymous GET (or a WebSocket upgrade) on a public path naming bob's session gets 404, not his stream", async () => {
    const { client, transport } = await connectMcpClient(`${base}/mcp`, bob.fetch);
    try {
      const sessionId = transport.sessionId as string;
      const answer = await anonymous(
        "/public/mcp",
        { method: "GET", headers: { accept: "text/event-stream" } },
        sessionId,
      );
      assert.equal(answer.status, 404);
      assert.deepEqual(await answer.json(), SESSION_NOT_FOUND);
      const upgrade = await websocketHandshake(`${base}/public/mcp`, {
        accept: "text/event-stream",
        "mcp-session-id": sessionId,
      });
      upgrade.socket?.destroy();
      assert.equal(upgrade.status, 404);
    } finally {
      await client.close();
    }
  });

  it("bob's HTTP+SSE session id in the query of an anonymous POST on a public path gets 404", async () => {
    const legacy = await legacyAddress(base, bob);
    try {
      assert.match(legacy.address, /^\/messages\?sessionId=/);
      const answer = await anonymous(`/public${legacy.address}`, { method: "POST", body: JSON.stringify(LIST) });
      assert.equal(answer.status, 404);
    } finally {
      legacy.close();
    }
  });

  it("a session opened anonymously on a public path is usable anonymously, and not by bob on a protected path", async () => {
    const { client, transport } = await connectMcpClient(`${base}/public/mcp`, fetch);
    try {
      const echo = await client.callTool({ name: "echo", arguments: { text: "anyone" } });
      assert.deepEqual(echo.content, [{ type: "text", text: "anyone" }]);
      const answer = await bob.fetch(`${base}/mcp`, {
        method: "POST",
        headers: {
          accept: "application/json, text/event-stream",
          "content-type": "application/json",
          "mcp-protocol-version": "2025-06-18",
          "mcp-session-id": transport.sessionId as string,
        },
        body: JSON.stringify(LIST),
      });
      assert.equal(answer.status, 404, "bob's calls never land in a session anyone can read");
    } finally {
      await client.close();
    }
  });
});
