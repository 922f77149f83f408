// WebSocket upgrades relayed to real upstream servers hold what an event stream holds: one of
// their user's target.max_streams_per_user slots for as long as they last (past the limit,
// the 429 JSON plain streams get; other users go on), counted in the streams metrics, and
// given back exactly once however they end (closed by either side, refused upstream, a
// handshake the MCP server drops). With several endpoints an upgrade naming an MCP session
// reaches the endpoint that holds it, as the session's plain requests do. SIGTERM ends open
// upgraded connections at once, as it ends event streams, and the process exits without
// waiting for server.shutdown_timeout (decision 043).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { TestBrowser } from "../support/browser.ts";
import { freePort } from "../support/ports.ts";
import { finished, logLine } from "../support/process.ts";
import { type Stack, startStack } from "../support/stack.ts";
import { type HandshakeResult, websocketHandshake } from "../support/websocket-handshake.ts";

/**
 * An MCP server with an upgrade listener: initialize hands out a session id (kept in memory,
 * as stateful servers keep theirs); an upgrade to /ws switches protocols and echoes, unless it
 * names a session this server does not hold (404); /refuse answers 403, /drop hangs up.
 */
interface WebSocketServer {
  url: string;
  sessions: Set<string>;
  /** The Mcp-Session-Id of each upgrade that reached this server ("" for none). */
  upgrades: string[];
  /** Hangs up every upgraded connection, as a server that goes away does. */
  hangUpAll(): void;
  close(): Promise<void>;
}

async function startWebSocketServer(): Promise<WebSocketServer> {
  const sessions = new Set<string>();
  const upgrades: string[] = [];
  const upgraded = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.method === "POST" && Buffer.concat(chunks).toString().includes('"initialize"')) {
        const id = randomUUID();
        sessions.add(id);
        res.writeHead(200, { "content-type": "application/json", "mcp-session-id": id });
        res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: { protocolVersion: "2025-06-18", capabilities: {} } }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}"); // "/" is where sign-in lands
    });
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: Socket) => {
    const session = req.headers["mcp-session-id"];
    upgrades.push(typeof session === "string" ? session : "");
    if (req.url === "/drop") return socket.destroy();
    if (req.url === "/refuse" || (typeof session === "string" && !sessions.has(session))) {
      socket.end(`HTTP/1.1 ${req.url === "/refuse" ? 403 : 404} No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    socket.pipe(socket);
    upgraded.add(socket);
    socket.once("close", () => upgraded.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sessions,
    upgrades,
    hangUpAll() {
      for (const socket of upgraded) socket.destroy();
    },
    close() {
      // Upgraded sockets are no longer the server's connections: closeAllConnections leaves them.
      for (const socket of upgraded) socket.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function signedIn(base: string, user: string): Promise<string> {
  const browser = new TestBrowser();
  assert.equal((await browser.signIn(`${base}/`, user)).status, 200);
  return browser.jar.getCookieString(base);
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
}

/** Waits (bounded) until the proxy has seen upgrades close: its gauge of open streams reads `open`. */
async function openStreamsReach(base: string, open: number): Promise<void> {
  for (let attempt = 0; (await metric(base, "mcp_proxy_active_streams")) !== open; attempt++) {
    assert.ok(attempt < 200, `the proxy never counted ${open} open streams`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Ends an upgraded connection from the client's side, resolving once it is closed. */
function hangUp(result: HandshakeResult): Promise<void> {
  const socket = result.socket as Socket;
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once("close", () => resolve());
    socket.destroy();
  });
}

describe("WebSocket upgrades and target.max_streams_per_user", () => {
  let upstream: WebSocketServer;
  let stack: Stack;
  let base: string;
  let alice: string;
  let bob: string;
  const upgrade = (cookie: string, path = "/ws") => websocketHandshake(`${base}${path}`, { cookie });

  before(async () => {
    upstream = await startWebSocketServer();
    stack = await startStack({ env: { MCP_TARGET_URL: upstream.url, MCP_MAX_STREAMS_PER_USER: "2" } });
    base = `http://127.0.0.1:${stack.ports[0]}`;
    alice = await signedIn(base, "alice");
    bob = await signedIn(base, "bob");
  });
  after(async () => {
    await upstream.close();
    await stack.close();
  });

  it("refuses a user's upgrade past the limit with the 429 JSON of plain streams; other users go on", async () => {
    const held = [await upgrade(alice), await upgrade(alice)];
    assert.deepEqual(
      held.map((h) => h.status),
      [101, 101],
    );
    const bobs = await upgrade(bob);
    try {
      assert.equal(await metric(base, "mcp_proxy_active_streams"), 3, "upgrades count as open streams");
      const refusedBefore = await metric(base, "mcp_proxy_streams_refused_total");
      const reachedBefore = upstream.upgrades.length;
      const refused = await upgrade(alice);
      assert.equal(refused.status, 429);
      assert.equal(refused.type, "application/json");
      const body = JSON.parse(refused.body ?? "") as { error: { code: string; details: object } };
      assert.equal(body.error.code, "RATE_LIMITED");
      assert.deepEqual(body.error.details, { max_streams_per_user: 2 });
      assert.equal(upstream.upgrades.length, reachedBefore, "the refused upgrade never reached the MCP server");
      assert.equal(await metric(base, "mcp_proxy_streams_refused_total"), refusedBefore + 1);
      assert.equal(bobs.status, 101, "another user is served meanwhile");

      // One closed gives its slot back.
      await hangUp(held.pop() as HandshakeResult);
      await openStreamsReach(base, 2);
      const again = await upgrade(alice);
      assert.equal(again.status, 101, "a closed upgrade gave its slot back");
      held.push(again);
    } finally {
      await Promise.all([...held, bobs].map(hangUp));
    }
    await openStreamsReach(base, 0);
  });

  it("never leaks a slot: upgrades closed by either side, refused upstream or dropped in the handshake", async () => {
    for (let round = 0; round < 10; round++) {
      const relayed = await upgrade(alice);
      assert.equal(relayed.status, 101);
      await hangUp(relayed);
      assert.equal((await upgrade(alice, "/refuse")).status, 403, "the MCP server's refusal status");
      await assert.rejects(upgrade(alice, "/drop"), "a handshake the MCP server hangs up on");
    }
    // Closed from the MCP server's side: its process goes away under two open upgrades.
    const held = [await upgrade(alice), await upgrade(alice)];
    assert.deepEqual(
      held.map((h) => h.status),
      [101, 101],
    );
    const closed = held.map((h) => new Promise((resolve) => h.socket?.once("close", resolve)));
    upstream.hangUpAll();
    await Promise.all(closed);
    await openStreamsReach(base, 0);

    const full = [await upgrade(alice), await upgrade(alice)];
    try {
      assert.deepEqual(
        full.map((h) => h.status),
        [101, 101],
        "the whole limit is still usable",
      );
      assert.equal((await upgrade(alice)).status, 429, "and still holds");
    } finally {
      await Promise.all(full.map(hangUp));
    }
  });
});

describe("WebSocket upgrades with several endpoints", () => {
  const upstreams: WebSocketServer[] = [];
  let stack: Stack;
  let base: string;
  let alice: string;

  before(async () => {
    upstreams.push(await startWebSocketServer(), await startWebSocketServer());
    stack = await startStack({ env: { MCP_TARGET_URL: "", MCP_TARGET_URLS: upstreams.map((u) => u.url).join(",") } });
    base = `http://127.0.0.1:${stack.ports[0]}`;
    alice = await signedIn(base, "alice");
  });
  after(async () => {
    await Promise.all(upstreams.map((u) => u.close()));
    await stack.close();
  });

  /** A session of alice's, opened through the proxy (pinned to whichever endpoint answered). */
  async function openSession(): Promise<string> {
    const answer = await fetch(`${base}/mcp`, {
      method: "POST",
      headers: { cookie: alice, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }),
    });
    await answer.body?.cancel();
    const id = answer.headers.get("mcp-session-id");
    assert.ok(id, `no session: ${answer.status}`);
    return id;
  }

  it("an upgrade naming an MCP session reaches the endpoint that holds it, every time", async () => {
    // Two sessions: balanced as new requests, they land on both endpoints.
    const sessions = [await openSession(), await openSession()];
    const holders = sessions.map((id) => upstreams.findIndex((u) => u.sessions.has(id)));
    assert.deepEqual([...holders].sort(), [0, 1], "one session on each endpoint");
    const held: HandshakeResult[] = [];
    try {
      // Several in a row per session, held open: balancing (in turn, least loaded) would send some elsewhere.
      for (const id of sessions) {
        for (let round = 0; round < 3; round++) {
          const answer = await websocketHandshake(`${base}/ws`, { cookie: alice, "mcp-session-id": id });
          held.push(answer);
          assert.equal(answer.status, 101, `session ${id}: ${answer.status}`);
        }
      }
      sessions.forEach((id, i) => {
        const reached = upstreams.map((u) => u.upgrades.filter((s) => s === id).length);
        assert.deepEqual(reached, holders[i] === 0 ? [3, 0] : [0, 3], "every upgrade reached the session's endpoint");
      });
    } finally {
      await Promise.all(held.filter((h) => h.socket).map(hangUp));
    }
  });
});

describe("WebSocket upgrades at shutdown", () => {
  it("SIGTERM ends open upgraded connections and the process exits, without waiting for the deadline", async () => {
    const upstream = await startWebSocketServer();
    const port = await freePort();
    const child = spawn(process.execPath, [path.resolve(import.meta.dirname, "../../src/main.ts")], {
      env: {
        PATH: process.env.PATH ?? "",
        AUTH_MODE: "bypass",
        MCP_HOST: "127.0.0.1",
        MCP_PORT: String(port),
        MCP_TARGET_URL: upstream.url,
        // The default, far past what the test waits: connections left open would hold the
        // process that long, then be cut with a warning.
        MCP_SHUTDOWN_TIMEOUT: "30s",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exit = finished(child);
    try {
      await logLine(child, "mcp-oidc-proxy listening");
      const open = [
        await websocketHandshake(`http://127.0.0.1:${port}/ws`),
        await websocketHandshake(`http://127.0.0.1:${port}/ws`),
      ];
      assert.deepEqual(
        open.map((h) => h.status),
        [101, 101],
      );
      const closed = open.map((h) => {
        const socket = h.socket as Socket;
        socket.on("error", () => {}); // a cut connection may end with a reset
        return once(socket, "close");
      });
      child.kill("SIGTERM");
      await Promise.all(closed);
      const { code, stdout } = await exit;
      assert.equal(code, 0);
      assert.match(stdout, /shutdown complete/);
      assert.doesNotMatch(stdout, /shutdown deadline reached/, "nothing was left open for the deadline to cut");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await upstream.close();
    }
  });
});
