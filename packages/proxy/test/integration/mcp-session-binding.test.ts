// An upstream MCP session belongs to whoever initialized it. Another signed-in user who
// learns the Mcp-Session-Id (a log, a shared screen) gets the 404 of an unknown session for
// tools/call and DELETE, on every replica, with the memory store and with Redis. An HTTP+SSE
// endpoint event is bound however the MCP server sends it (in parts, after a comment).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createClient } from "@redis/client";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { TestBrowser } from "../support/browser.ts";
import type { TestRedis } from "../support/redis-server.ts";
import { connectMcpClient, type Stack, startStack, startStackWithRedis } from "../support/stack.ts";

/** An SDK client resuming an existing session (it sends no initialize), as a reconnecting client does. */
const PYTHON = path.resolve(import.meta.dirname, "../../../../.tools/python/bin/python");

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

    /**
     * Alice's SDK client over the older HTTP+SSE transport once it has made a tool call, and
     * that call's POST to its session's endpoint as the MCP server got it.
     */
    async function legacySession() {
      const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
      const { SSEClientTransport } = await import("@modelcontextprotocol/sdk/client/sse.js");
      const client = new Client({ name: "legacy-test", version: "1.0.0" });
      await client.connect(new SSEClientTransport(new URL(`${urls[0]}/sse`), { fetch: alice.fetch }));
      try {
        await client.callTool({ name: "echo", arguments: { text: "legacy" } });
        const posted = stack.mcp.requests.findLast((r) => r.url.startsWith("/messages?sessionId="));
        assert.ok(posted, "the client posted to its session's endpoint");
        return { client, posted };
      } catch (error) {
        await client.close();
        throw error;
      }
    }

    /** A tools/call POSTed by hand to a session's HTTP+SSE endpoint (`path`, with its query). */
    const postWhoami = (from: TestBrowser, path: string) =>
      from.fetch(`${urls.at(-1)}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 9,
          method: "tools/call",
          params: { name: "whoami", arguments: {} },
        }),
      });

    it("binds the older HTTP+SSE transport's sessionId too: another user's POST to /messages gets 404", async () => {
      const { client, posted } = await legacySession();
      try {
        const message = (from: TestBrowser) => postWhoami(from, posted.url);
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

    it("HTTP+SSE binding bypassed by an encoded parameter name (%73essionId, session%49d): now 404, also for ids never handed out", async () => {
      const { client, posted } = await legacySession();
      try {
        const id = new URL(posted.url, "http://x").searchParams.get("sessionId") as string;
        const before = stack.mcp.requests.length;
        for (const query of [
          `%73essionId=${id}`,
          `session%49d=${id}`,
          `sessionId=${id}&x=1`,
          `sessionId=never-handed-out&sessionId=${id}`,
          "sessionId=never-handed-out",
        ]) {
          for (const path of ["/messages", "/messages/", "/MESSAGES", "/m%65ssages"]) {
            const response = await postWhoami(bob, `${path}?${query}`);
            assert.equal(response.status, 404, `${path}?${query}`);
            await response.body?.cancel();
          }
        }
        assert.equal(stack.mcp.requests.length, before, "none of them reached the MCP server");
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

describeBinding("Redis, two proxy instances", async () => {
  const { stack, redis } = await startStackWithRedis({ proxies: 2 });
  return { stack, urls: stack.ports.map((port) => `http://127.0.0.1:${port}`), close: () => redis.close() };
});

describe("MCP session bindings in Redis", () => {
  let stack: Stack;
  let store: TestRedis;
  let close: () => Promise<void>;
  const alice = new TestBrowser();

  before(async () => {
    ({ stack, redis: store, close } = await startStackWithRedis({ env: { SESSION_TTL: "1h" } }));
    assert.equal((await alice.signIn(`http://127.0.0.1:${stack.ports[0]}/`, "alice")).status, 200);
  });
  after(() => close());

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

describe("HTTP+SSE sessions of the Python SDK's server (session_id, /messages/) are bound too", () => {
  let stack: Stack;
  let python: ChildProcess;
  let base: string;
  const alice = new TestBrowser();
  const carol = new TestBrowser();

  before(async () => {
    python = spawn(PYTHON, [path.resolve(import.meta.dirname, "../support/python_sse_server.py")], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { PATH: "" },
    });
    const [port] = (await once(createInterface({ input: python.stdout as Readable }), "line")) as [string];
    stack = await startStack({ env: { MCP_TARGET_URL: `http://127.0.0.1:${port}` } });
    base = `http://127.0.0.1:${stack.ports[0]}`;
    // The signed-in browser lands on the server's "/", which this server does not have.
    for (const [browser, user] of [
      [alice, "alice"],
      [carol, "carol"],
    ] as const) {
      await browser.signIn(`${base}/`, user);
      const session = (await (await browser.fetch(`${base}/api/v1/session`)).json()) as { user?: { id?: string } };
      assert.equal(session.user?.id, user);
    }
  });
  after(async () => {
    await stack.close();
    python.kill();
    await once(python, "exit");
  });

  it("Python SSE session_id not bound: another user's tools/call to the owner's endpoint gets 404", async () => {
    const stream = new AbortController();
    const sse = await alice.fetch(`${base}/sse`, { headers: { accept: "text/event-stream" }, signal: stream.signal });
    assert.equal(sse.status, 200);
    const events: EventSourceMessage[] = [];
    const arrived = new EventTarget();
    const parser = createParser({
      onEvent: (event) => {
        events.push(event);
        arrived.dispatchEvent(new Event("event"));
      },
    });
    const next = async (match: (event: EventSourceMessage) => boolean) => {
      for (;;) {
        const found = events.find(match);
        if (found) return found;
        await once(arrived, "event");
      }
    };
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of sse.body as ReadableStream<Uint8Array>) parser.feed(decoder.decode(chunk));
    })().catch(() => undefined);
    try {
      const endpoint = (await next((e) => e.event === "endpoint")).data;
      assert.match(endpoint, /^\/messages\/\?session_id=/);
      const post = (who: TestBrowser, message: unknown) =>
        who.fetch(new URL(endpoint, base), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(message),
        });
      const init = await post(alice, {
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "a", version: "1" } },
      });
      assert.equal(init.status, 202);
      await init.body?.cancel();
      await (await post(alice, { jsonrpc: "2.0", method: "notifications/initialized" })).body?.cancel();
      const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "secret", arguments: {} } };
      const stolen = await post(carol, call);
      assert.equal(stolen.status, 404);
      await stolen.body?.cancel();
      const own = await post(alice, call);
      assert.equal(own.status, 202);
      await own.body?.cancel();
      const result = await next((e) => e.data.includes('"id":1'));
      assert.match(result.data, /alice-private-data/);
    } finally {
      stream.abort();
      await reading;
    }
  });
});

describe("HTTP+SSE endpoint events sent in parts or after a comment are bound too", () => {
  /** The stream's opening writes, by path; each announces the message path /m<path>. */
  const openings: Record<string, string[]> = {
    "/split": ["event: endpoint\n", "data: /msplit?sessionId=s1\n\n"],
    "/commented": [": opening comment\n\n", "event: endpoint\ndata: /mcommented?sessionId=c1\n\n"],
  };
  let server: http.Server;
  let stack: Stack;
  let base: string;
  const alice = new TestBrowser();
  const carol = new TestBrowser();

  before(async () => {
    server = http.createServer((req, res) => {
      const opening = openings[req.url ?? ""];
      if (req.method === "GET" && opening) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        // Two TCP writes apart: two chunks reach the proxy.
        res.write(opening[0]);
        setTimeout(() => res.write(opening[1] as string), 50);
        return;
      }
      req.resume();
      req.on("end", () => {
        res.writeHead(req.method === "POST" ? 202 : 200); // "/" is where sign-in lands
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    stack = await startStack({
      env: { MCP_TARGET_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}` },
    });
    base = `http://127.0.0.1:${stack.ports[0]}`;
    assert.equal((await alice.signIn(`${base}/`, "alice")).status, 200);
    assert.equal((await carol.signIn(`${base}/`, "carol")).status, 200);
  });
  after(async () => {
    await stack.close();
    server.closeAllConnections();
    server.close();
  });

  for (const [stream, address] of [
    ["/split", "/msplit?sessionId=s1"],
    ["/commented", "/mcommented?sessionId=c1"],
  ] as const) {
    it(`${stream}: another user's POST to the announced address gets 404, the owner's passes`, async () => {
      const sse = await alice.fetch(`${base}${stream}`, { headers: { accept: "text/event-stream" } });
      const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
      let seen = "";
      while (!seen.includes(address)) seen += Buffer.from((await reader.read()).value as Uint8Array).toString();
      const post = (who: TestBrowser) =>
        who.fetch(`${base}${address}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      try {
        assert.equal((await post(carol)).status, 404);
        assert.equal((await post(alice)).status, 202);
      } finally {
        await reader.cancel();
      }
    });
  }
});
