// An MCP server (the TS SDK's McpServer over Streamable HTTP, stateless: no session
// id generator, a server per POST) with
// file-like resources, as an MCP server in front of a directory has them: file:///docs/readme.md,
// file:///secret/keys.txt, a template file:///{+path} that reads any path, subscriptions, and
// tools. The SDK parses each URI with WHATWG URL, so it is the server that resolves spellings
// like "%2e%2e"; `served` records each URI it resolved and each tool it ran, for tests of what
// the MCP policy lets reach it.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";

export const SECRET_TEXT = "TOP SECRET KEYS";

export interface ResourceMcpServer {
  /** Its origin: it answers MCP on every path. */
  origin: string;
  /** "read <href>", "subscribe <uri>", "tool <name>": what reached the server, in order. */
  served: string[];
  close(): Promise<void>;
}

function build(served: string[]): McpServer {
  const server = new McpServer(
    { name: "resources", version: "1.0.0" },
    { capabilities: { resources: { subscribe: true } } },
  );
  const text = (href: string, body: string) => ({ contents: [{ uri: href, text: body }] });
  server.registerResource("readme", "file:///docs/readme.md", {}, async (uri) => {
    served.push(`read ${uri.href}`);
    return text(uri.href, "docs readme");
  });
  server.registerResource("keys", "file:///secret/keys.txt", {}, async (uri) => {
    served.push(`read ${uri.href}`);
    return text(uri.href, SECRET_TEXT);
  });
  // What a server over a directory does: any path under the root, as WHATWG URL resolved it.
  server.registerResource("file", new ResourceTemplate("file:///{+path}", { list: undefined }), {}, async (uri) => {
    served.push(`read ${uri.href}`);
    return text(uri.href, uri.pathname === "/secret/keys.txt" ? SECRET_TEXT : `file ${uri.pathname}`);
  });
  for (const name of ["echo", "admin_wipe"]) {
    server.registerTool(name, {}, async () => {
      served.push(`tool ${name}`);
      return { content: [{ type: "text", text: `${name} ran` }] };
    });
  }
  for (const [schema, verb] of [
    [SubscribeRequestSchema, "subscribe"],
    [UnsubscribeRequestSchema, "unsubscribe"],
  ] as const) {
    server.server.setRequestHandler(schema, async (request) => {
      served.push(`${verb} ${new URL(request.params.uri).href}`);
      return {};
    });
  }
  return server;
}

export async function startResourceMcpServer(): Promise<ResourceMcpServer> {
  const served: string[] = [];
  const httpServer = http.createServer(async (req, res) => {
    const server = build(served);
    const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true });
    res.on("close", () => void server.close());
    await server.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const { port } = httpServer.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    served,
    async close() {
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
    },
  };
}
