// An upstream MCP session belongs to whoever initialized it. Another signed-in user who
// learns the Mcp-Session-Id (a log, a shared screen) gets the 404 of an unknown session for
// tools/call and DELETE, on every replica, with the memory store and with Redis.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "redis";
import { TestBrowser } from "../support/browser.ts";
import { startRedis, type TestRedis } from "../support/redis-server.ts";
import { connectMcpClient, type Stack, startStack } from "../support/stack.ts";

/** An SDK client resuming an existing session (it sends no initialize), as a reconnecting client does. */
async function resumeSession(url: string, fetchWithCookies: typeof fetch, sessionId: string) {
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  const client = new Client({ name: "integration-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: fetchWithCookies, sessionId });
  await client.connect(transport);
  return { client, transport };
}

function assertSessionNotFound(error: unknown): true {
  assert.equal((error as { code?: number }).code, 404, String(error));
  return true;
}

/** The checks, for one store: `urls[0]` initializes, `urls.at(-1)` is where the others try. */
function describeBinding(
  name: string,
  setup: () => Promise<{ stack: Stack; urls: string[]; close?: () => Promise<void> }>,
) {
  describe(`MCP sessions are bound to their user (${name})`, () => {
    let stack: Stack;
    let urls: string[];
    let close: (() => Promise<void>) | undefined;
    const alice = new TestBrowser();
    const bob = new TestBrowser();

    before(async () => {
      ({ stack, urls, close } = await setup());
      assert.equal((await alice.signIn(`${urls[0]}/`, "alice")).status, 200);
      assert.equal((await bob.signIn(`${urls[0]}/`, "carol")).status, 200);
    });
    after(async () => {
      await stack.close();
      await close?.();
    });

    it("Mcp-Session-Id not bound to the user: another user's tools/call gets 404 and the session lives on", async () => {
      const { client, transport } = await connectMcpClient(`${urls[0]}/mcp`, alice.fetch);
      try {
        const sessionId = transport.sessionId;
        assert.ok(sessionId, "the MCP server handed out a session id");
        const thief = await resumeSession(`${urls.at(-1)}/mcp`, bob.fetch, sessionId);
        await assert.rejects(thief.client.callTool({ name: "whoami", arguments: {} }), assertSessionNotFound);
        await assert.rejects(thief.transport.terminateSession(), assertSessionNotFound);
        await thief.client.close();
        // The owner's session is untouched, on the other replica too.
        const owner = await resumeSession(`${urls.at(-1)}/mcp`, alice.fetch, sessionId);
        const echo = await owner.client.callTool({ name: "echo", arguments: { text: "still mine" } });
        assert.deepEqual(echo.content, [{ type: "text", text: "still mine" }]);
        await owner.client.close();
      } finally {
        await client.close();
      }
    });

    it("answers the thief like the MCP server answers an unknown session (JSON-RPC 404)", async () => {
      const { client, transport } = await connectMcpClient(`${urls[0]}/mcp`, alice.fetch);
      try {
        const response = await bob.fetch(`${urls.at(-1)}/mcp`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-session-id": transport.sessionId ?? "",
            "mcp-protocol-version": "2025-06-18",
          },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 7,
            method: "tools/call",
            params: { name: "whoami", arguments: {} },
          }),
        });
        assert.equal(response.status, 404);
        assert.deepEqual(await response.json(), {
          jsonrpc: "2.0",
          error: { code: -32001, message: "Session not found" },
          id: null,
        });
        const requestId = response.headers.get("x-request-id");
        assert.ok(requestId);
        assert.ok(
          !stack.mcp.requests.some((r) => r.headers["x-request-id"] === requestId),
          "it never reached the MCP server",
        );
      } finally {
        await client.close();
      }
    });

    it("binds the older HTTP+SSE transport's sessionId too: another user's POST to /messages gets 404", async () => {
      const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
      const { SSEClientTransport } = await import("@modelcontextprotocol/sdk/client/sse.js");
      const client = new Client({ name: "legacy-test", version: "1.0.0" });
      await client.connect(new SSEClientTransport(new URL(`${urls[0]}/sse`), { fetch: alice.fetch }));
      try {
        await client.callTool({ name: "echo", arguments: { text: "legacy" } });
        const posted = stack.mcp.requests.findLast((r) => r.url.startsWith("/messages?sessionId="));
        assert.ok(posted, "the client posted to its session's endpoint");
        const message = (from: TestBrowser) =>
          from.fetch(`${urls.at(-1)}${posted.url}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              jsonrpc: "2.0",
              id: 9,
              method: "tools/call",
              params: { name: "whoami", arguments: {} },
            }),
          });
        const stolen = await message(bob);
        assert.equal(stolen.status, 404);
        await stolen.body?.cancel();
        const own = await message(alice);
        assert.equal(own.status, 202);
        await own.body?.cancel();
      } finally {
        await client.close();
      }
    });

    it("lets the owner end the session with DELETE; afterwards it is unknown to everyone", async () => {
      const { client, transport } = await connectMcpClient(`${urls[0]}/mcp`, alice.fetch);
      const sessionId = transport.sessionId as string;
      await transport.terminateSession();
      await client.close();
      const again = await resumeSession(`${urls.at(-1)}/mcp`, alice.fetch, sessionId);
      await assert.rejects(again.client.callTool({ name: "whoami", arguments: {} }), assertSessionNotFound);
      await again.client.close();
    });
  });
}

describeBinding("memory store", async () => {
  const stack = await startStack();
  return { stack, urls: [`http://127.0.0.1:${stack.ports[0]}`] };
});

let redis: TestRedis;
describeBinding("Redis, two proxy instances", async () => {
  redis = await startRedis();
  const stack = await startStack({ proxies: 2, env: { SESSION_STORE: "redis", REDIS_URL: redis.url } });
  return { stack, urls: stack.ports.map((port) => `http://127.0.0.1:${port}`), close: () => redis.close() };
});

describe("MCP session bindings in Redis", () => {
  let stack: Stack;
  let store: TestRedis;
  const alice = new TestBrowser();

  before(async () => {
    store = await startRedis();
    stack = await startStack({ env: { SESSION_STORE: "redis", REDIS_URL: store.url, SESSION_TTL: "1h" } });
    assert.equal((await alice.signIn(`http://127.0.0.1:${stack.ports[0]}/`, "alice")).status, 200);
  });
  after(async () => {
    await stack.close();
    await store.close();
  });

  it("keeps a record per session, keyed by a hash (never the id itself), expiring with the session TTL", async () => {
    const { client, transport } = await connectMcpClient(`http://127.0.0.1:${stack.ports[0]}/mcp`, alice.fetch);
    const redisClient = createClient({ url: store.url });
    await redisClient.connect();
    try {
      const keys = await redisClient.keys("*mcp-session:*");
      assert.equal(keys.length, 1);
      const key = keys[0] as string;
      assert.ok(!key.includes(transport.sessionId as string));
      const ttl = await redisClient.ttl(key);
      assert.ok(ttl > 3500 && ttl <= 3600, `ttl ${ttl}`);
      const record = JSON.parse((await redisClient.get(key)) ?? "{}") as Record<string, unknown>;
      assert.equal(record.user, "alice");
      assert.equal(record.provider, stack.idp.issuer);
      assert.equal(record.client, undefined);
    } finally {
      await redisClient.close();
      await client.close();
    }
  });
});
