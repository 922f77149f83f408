// The MCP policy against an MCP server that resolves resource URIs the WHATWG way (the TS SDK's
// McpServer with file-like resources and a file:///{+path} template), with the TS SDK client
// through the proxy (decision 047): a rule for file:///docs/** grants no other file in any
// spelling (read, template read, subscribe, unsubscribe), and the refusal is audited; a denied
// notification gets an HTTP error and no JSON-RPC answer to an id; denials name their rule.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import type { AuditRecord } from "../../src/mcp/audit-log.ts";
import { type BypassProxy, startBypassProxy } from "../support/bypass-proxy.ts";
import { type ResourceMcpServer, SECRET_TEXT, startResourceMcpServer } from "../support/resource-mcp-server.ts";

/** Spellings of file:///secret/keys.txt that look like they are under file:///docs/. */
const ESCAPES = [
  "file:///docs/%2e%2e/secret/keys.txt",
  "file:///docs/%2E%2E/secret/keys.txt",
  "file:///docs/.%2e/secret/keys.txt",
  "file:///docs/.\t./secret/keys.txt",
  "file:///docs/x\\..\\..\\secret\\keys.txt",
];

async function textOf(client: Client, uri: string): Promise<string | undefined> {
  const content = (await client.readResource({ uri })).contents[0];
  return content && "text" in content ? content.text : undefined;
}

describe("MCP policy on resource URIs (TS SDK McpServer with resources, TS SDK client)", () => {
  let server: ResourceMcpServer;
  let bypass: BypassProxy;
  let client: Client;
  let dir: string;
  let auditFile: string;

  const audit = (): AuditRecord[] =>
    readFileSync(auditFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as AuditRecord);

  before(async () => {
    server = await startResourceMcpServer();
    dir = mkdtempSync(path.join(tmpdir(), "mcp-policy-uris-"));
    auditFile = path.join(dir, "audit.jsonl");
    bypass = await startBypassProxy(
      `mcp_policy:
  rules:
    - name: docs
      resources: ["file:///docs/**"]
    - name: admins-only
      tools: ["admin_*"]
      groups: [admins]
    - name: everyone
      tools: [echo]
  audit: { enabled: true, output: ${auditFile} }
`,
      server.origin,
    );
    client = new Client({ name: "policy-uris-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(bypass.mcpUrl)));
  });
  after(async () => {
    await client?.close();
    await bypass?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads the granted file and, through the template, other files under /docs/", async () => {
    assert.equal(await textOf(client, "file:///docs/readme.md"), "docs readme");
    assert.equal(await textOf(client, "file:///docs/guide/intro.md"), "file /docs/guide/intro.md");
    await assert.rejects(client.readResource({ uri: "file:///secret/keys.txt" }), /Forbidden: no rule names/);
  });

  it("refuses every spelling of another file that WHATWG URL resolves out of /docs/; the server sees none", async () => {
    // Straight to the server (no proxy) each spelling reads the secret: the escape is real.
    const direct = new Client({ name: "direct", version: "1.0.0" });
    await direct.connect(new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`)));
    for (const uri of ESCAPES) assert.equal(await textOf(direct, uri), SECRET_TEXT, JSON.stringify(uri));
    await direct.close();
    const served = server.served.length;
    for (const uri of ESCAPES) {
      await assert.rejects(client.readResource({ uri }), (error: unknown) => {
        assert.ok(error instanceof McpError, String(error));
        assert.equal(error.code, -32003);
        assert.match(error.message, /Forbidden: the resource URI has /);
        return true;
      });
    }
    assert.deepEqual(server.served.slice(served), [], "nothing reached the server");
    const records = audit().filter((r) => r.method === "resources/read" && ESCAPES.includes(r.name as string));
    assert.equal(records.length, ESCAPES.length);
    for (const record of records) {
      assert.equal(record.decision, "deny");
      assert.equal(record.upstream_status, null);
      assert.match(record.reason, /^the resource URI has .*; send it in its plain form$/);
    }
  });

  it("refuses them on subscribe and unsubscribe too, and subscribes to a granted URI", async () => {
    await client.subscribeResource({ uri: "file:///docs/readme.md" });
    assert.equal(server.served.at(-1), "subscribe file:///docs/readme.md");
    const served = server.served.length;
    for (const uri of ESCAPES) {
      await assert.rejects(client.subscribeResource({ uri }), /Forbidden: the resource URI has /);
      await assert.rejects(client.unsubscribeResource({ uri }), /Forbidden: the resource URI has /);
    }
    assert.deepEqual(server.served.slice(served), []);
  });

  it("names the rule that covers a denied call, in data.rule and the audit line", async () => {
    await assert.rejects(client.callTool({ name: "admin_wipe", arguments: {} }), (error: unknown) => {
      assert.ok(error instanceof McpError);
      const data = error.data as { rule?: string; reason?: string };
      assert.equal(data.rule, "admins-only");
      assert.match(data.reason ?? "", /admins-only covers it; the caller is in none of its groups/);
      return true;
    });
    const record = audit().findLast((r) => r.method === "tools/call" && r.name === "admin_wipe");
    assert.equal(record?.decision, "deny");
    assert.equal(record?.rule, "admins-only");
    assert.ok(!server.served.includes("tool admin_wipe"));
  });

  it("answers a denied notification 403 with a JSON-RPC error without id, forwarding nothing", async () => {
    const served = server.served.length;
    const response = await fetch(bypass.mcpUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", method: "tools/call", params: { name: "admin_wipe", arguments: {} } }),
    });
    assert.equal(response.status, 403);
    const body = (await response.json()) as { id: unknown; error: { code: number; data: { rule: string } } };
    assert.equal(body.id, null);
    assert.equal(body.error.code, -32003);
    assert.equal(body.error.data.rule, "admins-only");
    assert.deepEqual(server.served.slice(served), []);
    const record = audit().at(-1);
    assert.equal(record?.decision, "deny");
    assert.equal(record?.jsonrpc_id, null);
    assert.equal(record?.name, "admin_wipe");
    // An allowed notification still reaches the server and gets its 202.
    const allowed = await fetch(bypass.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    assert.equal(allowed.status, 202);
  });
});
