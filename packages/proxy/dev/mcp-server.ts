// A real MCP server for the demo and the tests, built on the official SDK: Streamable HTTP
// at /mcp (stateful sessions), the older HTTP+SSE transport at /sse + /messages, a plain
// WebSocket-style echo on upgrade, and a page at / that shows who the proxy says you are.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

export interface DemoMcpServer {
  url: string;
  /** Headers of every request the server received, oldest first. */
  requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  /** How often each tool ran (a call the proxy denied never counts). */
  toolCalls: Map<string, number>;
  /** Upgraded connections open now, with the path each was opened at. */
  upgraded: ReadonlyMap<Socket, string>;
  close(): Promise<void>;
}

export interface DemoMcpServerOptions {
  port?: number;
  host?: string;
  /** Awaited between the steps of the `count` tool; tests use it to hold a stream open. */
  stepGate?: (step: number) => Promise<void>;
  /**
   * A path prefix under which every route is served too ("/public": /public/mcp is /mcp, and
   * /public/messages reaches the same HTTP+SSE sessions): as an MCP server that serves MCP on
   * a path the proxy lets through without sign-in (tests of access.public_paths).
   */
  mirrorAt?: string;
}

const IDENTITY_HEADERS = [
  "x-user-id",
  "x-user-email",
  "x-user-name",
  "x-user-groups",
  "x-auth-provider",
  "x-request-id",
];

function identityOf(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): Record<string, string> {
  const identity: Record<string, string> = {};
  for (const name of IDENTITY_HEADERS) {
    const value = headers[name];
    if (typeof value === "string") identity[name] = value;
  }
  return identity;
}

function buildMcpServer(options: DemoMcpServerOptions, toolCalls: Map<string, number>): McpServer {
  const server = new McpServer({ name: "demo-mcp-server", version: "1.0.0" });
  const counted = (name: string) => toolCalls.set(name, (toolCalls.get(name) ?? 0) + 1);
  // The demo policy (dev/demo-policy.yaml) lets only the admins group call this one.
  server.registerTool(
    "admin_report",
    { description: "A report only administrators may see (the proxy's policy says who)" },
    async () => {
      counted("admin_report");
      return { content: [{ type: "text", text: "3 servers, 0 incidents" }] };
    },
  );
  server.registerTool(
    "whoami",
    { description: "Returns the identity headers the proxy sent with this call" },
    async (extra) => {
      counted("whoami");
      return { content: [{ type: "text", text: JSON.stringify(identityOf(extra.requestInfo?.headers ?? {})) }] };
    },
  );
  server.registerTool(
    "echo",
    { description: "Echoes the text back", inputSchema: { text: z.string() } },
    async ({ text }) => {
      counted("echo");
      return { content: [{ type: "text", text }] };
    },
  );
  server.registerTool(
    "count",
    {
      description: "Counts to n, sending a progress notification per step (streamed over SSE)",
      inputSchema: { n: z.number().int().min(1).max(100) },
    },
    async ({ n }, extra) => {
      const gate = options.stepGate ?? (() => new Promise<void>((resolve) => setTimeout(resolve, 300)));
      const progressToken = extra._meta?.progressToken;
      for (let step = 1; step <= n; step++) {
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken, progress: step, total: n, message: `step ${step}` },
          });
        }
        await gate(step);
      }
      return { content: [{ type: "text", text: `counted to ${n}` }] };
    },
  );
  return server;
}

function landingPage(headers: IncomingHttpHeaders): string {
  const identity = identityOf(headers);
  const rows = Object.entries(identity)
    .map(([k, v]) => `<tr><th>${k}</th><td>${decodeURIComponent(v).replace(/[<>&]/g, "")}</td></tr>`)
    .join("");
  return `<!doctype html><meta charset="utf-8"><title>MCP demo server</title>
<h1>Signed in through mcp-oidc-proxy</h1>
<p>The MCP server behind the proxy received these identity headers:</p><table>${rows}</table>
<p>MCP endpoint: <code>/mcp</code> (Streamable HTTP). <a href="/api/v1/session">Session</a> · <a href="/logout">Sign out</a></p>`;
}

export async function startDemoMcpServer(options: DemoMcpServerOptions = {}): Promise<DemoMcpServer> {
  const streamable = new Map<string, StreamableHTTPServerTransport>();
  const legacy = new Map<string, SSEServerTransport>();
  const requests: DemoMcpServer["requests"] = [];
  const toolCalls = new Map<string, number>();

  async function handleStreamable(req: IncomingMessage, res: http.ServerResponse): Promise<void> {
    const sessionId = req.headers["mcp-session-id"];
    const existing = typeof sessionId === "string" ? streamable.get(sessionId) : undefined;
    if (existing) return existing.handleRequest(req, res);
    if (req.method !== "POST" || sessionId !== undefined) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }));
      return;
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void streamable.set(id, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) streamable.delete(transport.sessionId);
    };
    await buildMcpServer(options, toolCalls).connect(transport);
    await transport.handleRequest(req, res);
  }

  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: { ...req.headers } });
    const url = new URL(req.url ?? "/", "http://demo");
    const mirror = options.mirrorAt;
    if (mirror && url.pathname.startsWith(`${mirror}/`)) url.pathname = url.pathname.slice(mirror.length);
    const run = async () => {
      if (url.pathname === "/mcp") return handleStreamable(req, res);
      if (url.pathname === "/sse" && req.method === "GET") {
        const transport = new SSEServerTransport("/messages", res);
        legacy.set(transport.sessionId, transport);
        res.on("close", () => legacy.delete(transport.sessionId));
        await buildMcpServer(options, toolCalls).connect(transport);
        return;
      }
      if (url.pathname === "/messages" && req.method === "POST") {
        const transport = legacy.get(url.searchParams.get("sessionId") ?? "");
        if (!transport) {
          res.writeHead(404).end("unknown session");
          return;
        }
        return transport.handlePostMessage(req, res);
      }
      if (url.pathname === "/" && req.method === "GET") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(landingPage(req.headers));
        return;
      }
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "not found" }));
    };
    run().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    });
  });
  // A byte-for-byte echo after a 101 answer: enough to prove upgrades pass through the proxy.
  const upgraded = new Map<Socket, string>();
  server.on("upgrade", (req, socket: Socket) => {
    requests.push({ method: "UPGRADE", url: req.url ?? "", headers: { ...req.headers } });
    socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    socket.pipe(socket);
    socket.on("error", () => socket.destroy());
    upgraded.set(socket, req.url ?? "");
    socket.once("close", () => upgraded.delete(socket));
  });

  // once() rejects on "error": a busy port fails the start instead of crashing the process.
  await once(server.listen(options.port ?? 0, options.host ?? "127.0.0.1"), "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    requests,
    toolCalls,
    upgraded,
    close: async () => {
      for (const transport of streamable.values()) await transport.close();
      for (const transport of legacy.values()) await transport.close();
      // Upgraded sockets are no longer the server's connections: closeAllConnections leaves them.
      for (const socket of upgraded.keys()) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
