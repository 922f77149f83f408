// The audit trail's gaps (decision 049), against the demo MCP server and its SDK client
// through a proxy whose trail is a file: the 403 refusals of what the guard cannot read (a
// body on PUT or GET, a WebSocket upgrade) get their lines; a list refused (502) for its size
// is recorded with the MCP server's 200 apart from the client's 502; and a deleted audit
// directory puts the trail out of order: MCP POSTs get a fast 503, /readyz is not ready,
// mcp_proxy_audit_writable says 0, until the directory is back and the file reopened.
// What one request can write is bounded (a batch's size, each text a client chose), and with
// a full disk (/dev/full) no call reaches the MCP server, however often the file is reopened
// (decision 051).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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

describe("MCP audit trail: bounded per request, and no call through on a full disk (decision 051)", () => {
  let mcp: DemoMcpServer;
  let dir: string;
  const proxies: RunningProxy[] = [];

  const start = async (output: string, clock?: () => number) => {
    const configFile = path.join(dir, `config-${proxies.length}.yaml`);
    writeFileSync(
      configFile,
      `mcp_policy:\n  rules:\n    - { name: all, tools: ["*"], resources: ["file:///docs/*"] }\n  audit:\n    enabled: true\n    output: ${output}\n`,
    );
    const proxy = await bypassProxy(mcp.url, {
      file: configFile,
      env: { MCP_PUBLIC_URL: undefined },
      ...(clock ? { auditClock: clock } : {}),
    });
    proxies.push(proxy);
    return proxy;
  };
  // What reached the MCP server as an MCP POST (a proxy's start probes it otherwise).
  const posts = () => mcp.requests.filter((r) => r.method === "POST").length;
  const post = (url: string, body: unknown) =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify(body),
    });

  before(async () => {
    mcp = await startDemoMcpServer();
    dir = mkdtempSync(path.join(tmpdir(), "mcp-audit-bounded-"));
  });
  after(async () => {
    for (const proxy of proxies) await proxy.shutdown();
    await mcp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a batch of 20,000 notifications is refused (-32600) before it is judged, with one short line", async () => {
    const auditFile = path.join(dir, "batch.jsonl");
    const proxy = await start(auditFile);
    const seen = posts();
    const before = statSync(auditFile).size;
    const batch = Array.from({ length: 20_000 }, () => ({ jsonrpc: "2.0", method: "notifications/x" }));
    const refused = await post(`${proxy.url}/mcp`, batch);
    assert.equal(refused.status, 400);
    const answer = (await refused.json()) as { error: { code: number; message: string } };
    assert.equal(answer.error.code, -32600);
    assert.match(answer.error.message, /a batch of 20000 messages; at most 100/);
    assert.equal(posts(), seen, "nothing was forwarded");
    const written = statSync(auditFile).size - before;
    assert.ok(written < 1_000, `${written} bytes written for the refused batch`);
    const lines = readFileSync(auditFile, "utf8").trim().split("\n");
    assert.equal(lines.length, 1);
    assert.equal((JSON.parse(lines[0] as string) as AuditRecord).decision, "invalid");
  });

  it("a tools/call with a megabyte name and a resources/read with a megabyte URI write a few kilobytes", async () => {
    const auditFile = path.join(dir, "names.jsonl");
    const proxy = await start(auditFile);
    const name = `admin_${"x".repeat(1_000_000)}`;
    const call = await post(`${proxy.url}/mcp`, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name } });
    await call.body?.cancel();
    const uri = `file:///etc/${"y".repeat(1_000_000)}`;
    const read = await post(`${proxy.url}/mcp`, { jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri } });
    const denial = (await read.json()) as { error: { message: string } };
    assert.ok(denial.error.message.length < 400, "the denial quotes the URI's start only");
    const written = statSync(auditFile).size;
    // Both are denied for their length (names past any real one, decision 047): one line each.
    assert.ok(written < 8_000, `${written} bytes written for two requests of 1 MB each`);
    const records = readFileSync(auditFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as AuditRecord);
    assert.deepEqual(
      records.map((r) => [r.stage, r.method, r.decision]),
      [
        ["done", "tools/call", "deny"],
        ["done", "resources/read", "deny"],
      ],
    );
    assert.match(records[0]?.name ?? "", /^admin_x+…$/);
    assert.equal(records[0]?.cut?.name?.characters, 1_000_006);
    assert.match(records[0]?.reason ?? "", /the tool's name is longer than 512 characters/);
    assert.match(records[1]?.reason ?? "", /the resource's name is longer than 8192 characters/);
  });

  it("/dev/full (opens, never takes a write): every POST gets 503 and none reaches the MCP server, however often reopened", async () => {
    let now = 0;
    const proxy = await start("/dev/full", () => now);
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    };
    const seen = posts();
    // Eight seconds by the trail's clock: a reopen is tried before every POST but the first.
    for (let second = 0; second < 8; second++) {
      now = second * 1_000;
      const answer = await post(`${proxy.url}/mcp`, initialize);
      assert.equal(answer.status, 503, `POST at ${second} s`);
      await answer.body?.cancel();
      assert.equal((await fetch(`${proxy.url}/readyz`)).status, 503, `/readyz at ${second} s`);
    }
    assert.equal(posts(), seen, "no call reached the MCP server unrecorded");
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
