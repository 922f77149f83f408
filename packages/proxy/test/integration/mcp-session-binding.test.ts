// An upstream MCP session belongs to whoever initialized it. Another signed-in user who
// learns the Mcp-Session-Id (a log, a shared screen) gets the 404 of an unknown session for
// tools/call and DELETE, on every replica, with the memory store and with Redis. An HTTP+SSE
// endpoint event is bound however the MCP server sends it (in parts, after a comment), and
// whatever the GET that opened it carried. No way around it: not an Mcp-Session-Id of one's
// own on a message address, not a path below the message path, not a WebSocket upgrade.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
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
import { websocketHandshake } from "../support/websocket-handshake.ts";

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

/** A WebSocket handshake carrying what an MCP client's GET stream carries: its answer's status (or 101) and type. */
async function upgradeGet(url: string, headers: Record<string, string>): Promise<{ status: number; type?: string }> {
  const { socket, ...answer } = await websocketHandshake(url, {
    accept: "text/event-stream",
    "mcp-protocol-version": "2025-06-18",
    ...headers,
  });
  socket?.destroy();
  return answer;
}

/** What the browser's jar sends to `url`: for requests made without its fetch. */
async function cookieOf(browser: TestBrowser, url: string): Promise<string> {
  return browser.jar.getCookieString(url);
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
    const postWhoami = (from: TestBrowser, path: string, headers: Record<string, string> = {}) =>
      from.fetch(`${urls.at(-1)}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
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

    it("an Mcp-Session-Id of one's own no longer switches off the HTTP+SSE address check: another user's message to the owner's address gets 404", async () => {
      const { client, posted } = await legacySession();
      const own = await connectMcpClient(`${urls.at(-1)}/mcp`, bob.fetch);
      try {
        const stolen = await postWhoami(bob, posted.url, { "mcp-session-id": own.transport.sessionId ?? "" });
        assert.equal(stolen.status, 404);
        await stolen.body?.cancel();
        // Bob's own client's requests go on meanwhile (its GET stream): this one never reached the server.
        const requestId = stolen.headers.get("x-request-id");
        assert.ok(requestId);
        assert.ok(
          !stack.mcp.requests.some((r) => r.headers["x-request-id"] === requestId),
          "it never reached the MCP server",
        );
      } finally {
        await own.client.close();
        await client.close();
      }
    });

    it("binds the endpoint event of a GET /sse that carried an Mcp-Session-Id too: the owner posts, another user gets 404", async () => {
      const own = await connectMcpClient(`${urls[0]}/mcp`, alice.fetch);
      const stream = new AbortController();
      try {
        const sse = await alice.fetch(`${urls[0]}/sse`, {
          headers: { accept: "text/event-stream", "mcp-session-id": own.transport.sessionId ?? "" },
          signal: stream.signal,
        });
        assert.equal(sse.status, 200);
        const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
        let seen = "";
        while (!/data: (\S+)\n/.test(seen)) seen += Buffer.from((await reader.read()).value as Uint8Array).toString();
        const address = (/data: (\S+)\n/.exec(seen) as RegExpExecArray)[1] as string;
        const post = (who: TestBrowser) =>
          who.fetch(`${urls.at(-1)}${address}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              jsonrpc: "2.0",
              id: 0,
              method: "initialize",
              params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "a", version: "1" } },
            }),
          });
        const stolen = await post(bob);
        assert.equal(stolen.status, 404);
        await stolen.body?.cancel();
        const mine = await post(alice);
        assert.equal(mine.status, 202);
        await mine.body?.cancel();
      } finally {
        stream.abort();
        await own.client.close();
      }
    });

    it("an upgrade aimed at the owner's HTTP+SSE address gets the 404 as a POST does, never reaching the MCP server", async () => {
      const { client, posted } = await legacySession();
      try {
        const url = `${urls.at(-1)}${posted.url}`;
        const before = stack.mcp.requests.length;
        assert.equal((await upgradeGet(url, { cookie: await cookieOf(bob, url) })).status, 404);
        assert.equal(stack.mcp.requests.length, before, "it never reached the MCP server");
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

  /** The owner's HTTP+SSE stream: its endpoint address, and the events that arrive on it. */
  async function openStream(who: TestBrowser) {
    const stream = new AbortController();
    const sse = await who.fetch(`${base}/sse`, { headers: { accept: "text/event-stream" }, signal: stream.signal });
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
    const endpoint = (await next((e) => e.event === "endpoint")).data;
    assert.match(endpoint, /^\/messages\/\?session_id=/);
    return {
      endpoint,
      events,
      next,
      async close() {
        stream.abort();
        await reading;
      },
    };
  }

  const post = (who: TestBrowser, address: string, message: unknown) =>
    who.fetch(new URL(address, base), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(message),
    });
  const initialize = {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "a", version: "1" } },
  };

  it("Python SSE session_id not bound: another user's tools/call to the owner's endpoint gets 404", async () => {
    const stream = await openStream(alice);
    try {
      const { endpoint } = stream;
      const init = await post(alice, endpoint, initialize);
      assert.equal(init.status, 202);
      await init.body?.cancel();
      await (await post(alice, endpoint, { jsonrpc: "2.0", method: "notifications/initialized" })).body?.cancel();
      const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "secret", arguments: {} } };
      const stolen = await post(carol, endpoint, call);
      assert.equal(stolen.status, 404);
      await stolen.body?.cancel();
      const own = await post(alice, endpoint, call);
      assert.equal(own.status, 202);
      await own.body?.cancel();
      const result = await stream.next((e) => e.data.includes('"id":1'));
      assert.match(result.data, /alice-private-data/);
    } finally {
      await stream.close();
    }
  });

  it("a POST below the announced message path (the server's prefix Mount: /messages/x?session_id=…) gets 404 too", async () => {
    const stream = await openStream(alice);
    try {
      const below = stream.endpoint.replace("/messages/", "/messages/x");
      for (const message of [
        initialize,
        { jsonrpc: "2.0", method: "notifications/initialized" },
        { jsonrpc: "2.0", id: 99, method: "tools/call", params: { name: "secret", arguments: {} } },
      ]) {
        const stolen = await post(carol, below, message);
        assert.equal(stolen.status, 404, below);
        assert.deepEqual(await stolen.json(), {
          jsonrpc: "2.0",
          error: { code: -32001, message: "Session not found" },
          id: null,
        });
      }
      // The owner's own session still works at the address it was handed.
      const init = await post(alice, stream.endpoint, initialize);
      assert.equal(init.status, 202);
      await init.body?.cancel();
      await stream.next((e) => e.data.includes('"id":0'));
      assert.ok(
        !stream.events.some((e) => e.data.includes('"id":99')),
        "nothing of the other user's reached the stream",
      );
    } finally {
      await stream.close();
    }
  });

  it("the owner's session_id in the query of a request elsewhere (another path) gets 404 for another user", async () => {
    const stream = await openStream(alice);
    try {
      const id = new URL(stream.endpoint, base).searchParams.get("session_id") as string;
      for (const address of [`/elsewhere?session_id=${id}`, `/mcp?x=1&session_id=${id}`]) {
        const stolen = await post(carol, address, initialize);
        assert.equal(stolen.status, 404, address);
        assert.equal(((await stolen.json()) as { error: { code: number } }).error.code, -32001, address);
        // The owner's own request is forwarded: the server answers it (its own 404 page, no session's).
        const own = await post(alice, address, initialize);
        assert.doesNotMatch(await own.text(), /Session not found/, address);
      }
    } finally {
      await stream.close();
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

describe("WebSocket upgrades are held to the MCP session binding (an SDK server without an upgrade listener)", () => {
  let upstream: http.Server;
  let stack: Stack;
  let base: string;
  /** What reached the MCP server: method, and whether it came as an upgrade. */
  const reached: { method: string; upgrade: boolean }[] = [];
  const alice = new TestBrowser();
  const carol = new TestBrowser();

  before(async () => {
    const { McpServer } = await import("@modelcontextprotocol/sdk/server/mcp.js");
    const { StreamableHTTPServerTransport } = await import("@modelcontextprotocol/sdk/server/streamableHttp.js");
    const { InMemoryEventStore } = await import("@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js");
    const sessions = new Map<string, InstanceType<typeof StreamableHTTPServerTransport>>();
    const eventStore = new InMemoryEventStore();
    // As most HTTP MCP servers: no 'upgrade' listener, so Node answers an upgrade as a plain GET.
    upstream = http.createServer(async (req, res) => {
      reached.push({ method: req.method ?? "", upgrade: req.headers.upgrade !== undefined });
      if (new URL(req.url ?? "/", "http://x").pathname !== "/mcp") {
        res.writeHead(req.method === "GET" ? 200 : 404).end(); // "/" is where sign-in lands
        return;
      }
      const sid = req.headers["mcp-session-id"];
      const existing = typeof sid === "string" ? sessions.get(sid) : undefined;
      if (existing) return existing.handleRequest(req, res);
      if (req.method !== "POST") return void res.writeHead(404).end();
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore,
        onsessioninitialized: (id) => void sessions.set(id, transport),
      });
      await new McpServer({ name: "no-upgrades", version: "1" }).connect(transport);
      await transport.handleRequest(req, res);
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    stack = await startStack({
      env: { MCP_TARGET_URL: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` },
    });
    base = `http://127.0.0.1:${stack.ports[0]}`;
    assert.equal((await alice.signIn(`${base}/`, "alice")).status, 200);
    assert.equal((await carol.signIn(`${base}/`, "carol")).status, 200);
  });
  after(async () => {
    // The owner's relayed stream first: an upgraded connection holds the proxy's shutdown.
    upstream.closeAllConnections();
    upstream.close();
    await stack.close();
  });

  /** A session of `who`'s, opened by hand: no SDK client holds its one GET stream meanwhile. */
  async function openSession(who: TestBrowser): Promise<string> {
    const headers = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
    };
    const init = await who.fetch(`${base}/mcp`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "a", version: "1" } },
      }),
    });
    const sessionId = init.headers.get("mcp-session-id");
    assert.ok(sessionId, `no session: ${init.status}`);
    await init.body?.cancel();
    const initialized = await who.fetch(`${base}/mcp`, {
      method: "POST",
      headers: { ...headers, "mcp-session-id": sessionId },
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    await initialized.body?.cancel();
    return sessionId;
  }

  it("another user's GET + Upgrade with the owner's Mcp-Session-Id gets the 404 a plain GET gets, never reaching the server", async () => {
    const sessionId = await openSession(alice);
    const url = `${base}/mcp`;
    const before = reached.length;
    for (const extra of [{}, { "last-event-id": `${randomUUID()}_${Date.now()}_abc` }]) {
      const stolen = await upgradeGet(url, {
        cookie: await cookieOf(carol, url),
        "mcp-session-id": sessionId,
        ...extra,
      });
      assert.equal(stolen.status, 404);
      assert.equal(stolen.type, "application/json");
    }
    assert.equal(reached.length, before, "none of them reached the MCP server");
    // The owner's upgrade is relayed; this server answers it as a plain GET (its session's
    // stream), which is no protocol switch: not passed on past the proxy's stream handling.
    const own = await upgradeGet(url, { cookie: await cookieOf(alice, url), "mcp-session-id": sessionId });
    assert.deepEqual(reached.at(-1), { method: "GET", upgrade: true });
    assert.equal(own.status, 502);
    assert.equal(own.type, "application/json");
  });
});
