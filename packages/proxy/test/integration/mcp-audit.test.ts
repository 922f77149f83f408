// The audit trail's gaps (decision 049), against the demo MCP server and its SDK client
// through a proxy whose trail is a file: the 403 refusals of what the guard cannot read (a
// body on PUT or GET, a WebSocket upgrade) get their lines; a list refused (502) for its size
// is recorded with the MCP server's 200 apart from the client's 502; and a deleted audit
// directory puts the trail out of order: MCP POSTs get a fast 503, /readyz is not ready,
// mcp_proxy_audit_writable says 0, until the directory is back and the file reopened.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type DemoMcpServer, startDemoMcpServer } from "../../dev/mcp-server.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { AuditRecord } from "../../src/mcp/audit-log.ts";
import type { RunningProxy } from "../../src/proxy-server.ts";
import { bypassProxy } from "../support/bypass-proxy.ts";
import { websocketHandshake } from "../support/websocket-handshake.ts";

describe("MCP audit trail: refusals, refused answers, an unwritable file (decision 049)", () => {
  let mcp: DemoMcpServer;
  let proxy: RunningProxy;
  let dir: string;
  let auditDir: string;
  let auditFile: string;
  let configFile: string;
  let mcpUrl: string;

  const audit = (): AuditRecord[] =>
    readFileSync(auditFile, "utf8")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditRecord);
  const lineOf = (response: Response) => audit().find((r) => r.request_id === response.headers.get("x-request-id"));

  before(async () => {
    mcp = await startDemoMcpServer();
    dir = mkdtempSync(path.join(tmpdir(), "mcp-audit-"));
    auditDir = path.join(dir, "audit");
    mkdirSync(auditDir);
    auditFile = path.join(auditDir, "audit.jsonl");
    configFile = path.join(dir, "config.yaml");
    // Lists of tools are filtered (a rule names tools) and may be 300 bytes at most: the demo's is longer.
    writeFileSync(
      configFile,
      `mcp_policy:\n  max_list_size: 300\n  rules:\n    - { name: all, tools: ["*"] }\n  audit:\n    enabled: true\n    output: ${auditFile}\n`,
    );
    proxy = await bypassProxy(mcp.url, { file: configFile, env: { MCP_PUBLIC_URL: undefined } });
    mcpUrl = `${proxy.url}/mcp`;
  });
  after(async () => {
    await proxy?.shutdown();
    await mcp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records the 403 refusals of a body on PUT or GET and of a WebSocket upgrade", async () => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo" } });
    for (const method of ["PUT", "GET"]) {
      // fetch sends no body with GET: a raw request does.
      const response =
        method === "PUT"
          ? await fetch(mcpUrl, { method, headers: { "content-type": "application/json" }, body })
          : await rawGetWithBody(mcpUrl, body);
      assert.equal(response.status, 403, method);
      const line = lineOf(response);
      assert.equal(line?.http_method, method);
      assert.equal(line?.decision, "deny");
      assert.equal(line?.status, 403);
      assert.equal(line?.upstream_status, null);
    }
    const before = audit().length;
    const upgrade = await websocketHandshake(mcpUrl);
    upgrade.socket?.destroy();
    assert.equal(upgrade.status, 403);
    const line = audit().at(before);
    assert.match(line?.reason ?? "", /WebSocket upgrade/);
    assert.equal(line?.status, 403);
  });

  it("records a list refused for its size with the MCP server's 200 and the client's 502", async () => {
    const client = new Client({ name: "audit-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
    try {
      await assert.rejects(client.listTools(), /list answer could not be filtered/);
    } finally {
      await client.close();
    }
    const line = audit().findLast((r) => r.method === "tools/list");
    assert.equal(line?.upstream_status, 200, "the MCP server answered");
    assert.equal(line?.status, 502, "the proxy refused its answer");
  });

  it("a deleted audit directory: MCP POSTs get 503, /readyz is not ready, the metric says 0; all well once it is back", async () => {
    rmSync(auditDir, { recursive: true });
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    };
    const post = () =>
      fetch(mcpUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify(initialize),
      });
    const seen = mcp.requests.length;
    const refused = await post();
    assert.equal(refused.status, 503);
    assert.equal(mcp.requests.length, seen, "nothing reached the MCP server unrecorded");
    const ready = await fetch(`${proxy.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /audit trail unwritable/);
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    assert.match(metrics, /^mcp_proxy_audit_writable 0$/m);
    assert.match(metrics, /^mcp_proxy_audit_failures_total 1$/m);

    mkdirSync(auditDir);
    // As an operator would, once the directory is back: SIGHUP (the file is also retried by itself, once a second).
    proxy.reload(loadConfig({ file: configFile, env: { AUTH_MODE: "bypass", MCP_TARGET_URL: mcp.url } }).config);
    assert.equal((await fetch(`${proxy.url}/readyz`)).status, 200);
    const answered = await post();
    assert.equal(answered.status, 200);
    await answered.body?.cancel();
    assert.equal(lineOf(answered)?.method, "initialize", "the trail is written again");
    assert.match(await (await fetch(`${proxy.url}/metrics`)).text(), /^mcp_proxy_audit_writable 1$/m);
  });
});

/** A GET carrying a body (fetch refuses to send one). */
async function rawGetWithBody(url: string, body: string): Promise<Response> {
  const http = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "GET", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers))
          if (typeof value === "string") headers.set(name, value);
        resolve(new Response(null, { status: res.statusCode ?? 0, headers }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
