// The MCP SDK's "everything" server (npm @modelcontextprotocol/server-everything: tools,
// resources, prompts, logging, completions, subscriptions) over Streamable HTTP on a loopback
// port, for the conformance suite. Its own launcher listens on every interface at a fixed
// port; this one serves the same server factory the way that launcher does (one transport per
// session, resumable streams) at 127.0.0.1:0 and prints its URL.
// Run as its own process: node everything-server.ts → "listening http://127.0.0.1:<port>/mcp".
// Optional arguments: a loopback address and a port (node everything-server.ts 127.0.0.2 4000),
// for several "pods" of one DNS name (same port, one address each).
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { InMemoryEventStore } from "@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createServer as createEverythingServer } from "@modelcontextprotocol/server-everything/dist/server/index.js";

const transports = new Map<string, StreamableHTTPServerTransport>();

function jsonError(res: http.ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (new URL(req.url ?? "/", "http://x").pathname !== "/mcp") return jsonError(res, 404, "Not found");
  const sessionId = req.headers["mcp-session-id"];
  const existing = typeof sessionId === "string" ? transports.get(sessionId) : undefined;
  if (existing) return existing.handleRequest(req, res);
  if (sessionId !== undefined || req.method !== "POST") {
    return jsonError(res, 400, "Bad Request: No valid session ID provided");
  }
  const { server, cleanup } = createEverythingServer();
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    eventStore: new InMemoryEventStore(),
    onsessioninitialized: (id) => {
      transports.set(id, transport);
    },
  });
  server.server.onclose = () => {
    const id = transport.sessionId;
    if (id && transports.delete(id)) cleanup(id);
  };
  await server.connect(transport);
  await transport.handleRequest(req, res);
}

const httpServer = http.createServer((req, res) => {
  handle(req, res).catch((error: Error) => {
    if (!res.headersSent) jsonError(res, 500, error.message);
  });
});
const [host = "127.0.0.1", port = "0"] = process.argv.slice(2);
httpServer.listen(Number(port), host, () => {
  process.stdout.write(`listening http://${host}:${(httpServer.address() as AddressInfo).port}/mcp\n`);
});
process.on("SIGTERM", () => {
  for (const transport of transports.values()) void transport.close();
  httpServer.closeAllConnections();
  httpServer.close(() => process.exit(0));
});
