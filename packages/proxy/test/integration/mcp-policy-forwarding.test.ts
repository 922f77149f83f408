// What the MCP policy forwards and counts, against an upstream that records exactly what
// reached it: an allowed body goes upstream byte for byte with the 2026-07-28 routing and
// Mcp-Param-* headers untouched, a denied one not at all; the metrics' name label stays
// bounded whatever names clients send, and goes to the names the MCP server listed, not to
// made-up ones (a real SDK client against the demo server). A list answer that cannot be filtered (too large,
// compressed, malformed) is a 502 saying so, not taken for a failure of the MCP server.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type DemoMcpServer, startDemoMcpServer } from "../../dev/mcp-server.ts";
import type { RunningProxy } from "../../src/proxy-server.ts";
import { type BypassProxy, startBypassProxy } from "../support/bypass-proxy.ts";
import { capturingLogger } from "../support/captured-log.ts";
import { type RecordingUpstream, startRecordingUpstream } from "../support/recording-upstream.ts";
import { websocketHandshake } from "../support/websocket-handshake.ts";

/** A WebSocket handshake's answer: its status, or 101 once switched. */
async function upgradeStatus(url: string): Promise<number> {
  const { status, socket } = await websocketHandshake(url);
  socket?.destroy();
  return status;
}

describe("MCP policy: what reaches the MCP server", () => {
  let upstream: RecordingUpstream;
  let bypass: BypassProxy;
  let proxy: RunningProxy;
  let mcpUrl: string;

  before(async () => {
    upstream = await startRecordingUpstream();
    bypass = await startBypassProxy(
      "mcp_policy:\n  rules:\n    - { name: search-only, tools: [search] }\n",
      upstream.url,
    );
    ({ proxy, mcpUrl } = bypass);
  });
  after(async () => {
    await bypass?.close();
    await upstream?.close();
  });

  const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
      body,
    });

  it("refuses a body declared over max_body_size with 413 at once, never asking for it (Expect: 100-continue)", async () => {
    const socket = net.connect(Number(new URL(mcpUrl).port), "127.0.0.1");
    socket.on("error", () => undefined);
    await once(socket, "connect");
    socket.write(
      `POST /mcp HTTP/1.1\r\nHost: ${new URL(mcpUrl).host}\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`,
    );
    const [first] = (await once(socket, "data")) as [Buffer];
    socket.destroy();
    assert.match(first.toString("latin1"), /^HTTP\/1\.1 413 /);
  });

  it("forwards an allowed call's body byte for byte, with its routing and Mcp-Param-* headers", async () => {
    // Odd spacing, key order, an escaped character and a non-ASCII name: re-serializing would change them.
    const body = Buffer.from(
      '{ "params" : {"arguments":{"q":"caf\\u00e9 Zürich"},"name":"search"},"method":"tools/call","id":41,  "jsonrpc":"2.0"}\n',
    );
    const response = await post(body, {
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "search",
      "mcp-param-region": "eu-west",
    });
    assert.equal(response.status, 200);
    const seen = upstream.requests.at(-1);
    assert.ok(seen && Buffer.compare(seen.body, body) === 0, "the same bytes reached the MCP server");
    assert.deepEqual(upstream.values(seen, "mcp-param-region"), ["eu-west"]);
    assert.deepEqual(upstream.values(seen, "mcp-name"), ["search"]);
  });

  it("forwards nothing of a denied call", async () => {
    const count = upstream.requests.length;
    const response = await post(
      JSON.stringify({ jsonrpc: "2.0", id: 42, method: "tools/call", params: { name: "drop" } }),
    );
    const answer = (await response.json()) as { id: number; error: { code: number; data: { reason: string } } };
    assert.equal(answer.id, 42);
    assert.equal(answer.error.code, -32003);
    assert.match(answer.error.data.reason, /no rule names the tool "drop"/);
    assert.equal(upstream.requests.length, count);
  });

  it("refuses a body that is not UTF-8 as a parse error (the server could read it otherwise)", async () => {
    const count = upstream.requests.length;
    const body = Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search'),
      Buffer.from([0xff]),
      Buffer.from('"}}'),
    ]);
    const response = await post(body);
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: { code: number } }).error.code, -32700);
    assert.equal(upstream.requests.length, count);
  });

  it("refuses WebSocket upgrades, whose messages it could not judge (fail closed)", async () => {
    const count = upstream.requests.length;
    assert.equal(await upgradeStatus(mcpUrl), 403);
    assert.equal(upstream.requests.length, count);
  });

  it("refuses a JSON-RPC body sent with PUT or PATCH (the policy judges POST bodies; it would pass unjudged)", async () => {
    const count = upstream.requests.length;
    const denied = JSON.stringify({ jsonrpc: "2.0", id: 43, method: "tools/call", params: { name: "drop" } });
    for (const method of ["PUT", "PATCH"]) {
      const response = await fetch(mcpUrl, { method, headers: { "content-type": "application/json" }, body: denied });
      assert.equal(response.status, 403, method);
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "FORBIDDEN");
      assert.match(body.error.message, /request bodies are accepted on POST only/);
    }
    assert.equal(upstream.requests.length, count, "neither reached the MCP server");
    // Without a body other methods pass as before (DELETE ends a session).
    assert.equal((await fetch(mcpUrl, { method: "DELETE" })).status, 200);
  });

  it("folds names past the label limit into _other, so clients cannot grow the metrics", async () => {
    for (let i = 0; i < 210; i++) {
      await post(JSON.stringify({ jsonrpc: "2.0", id: i, method: "tools/call", params: { name: `made-up-${i}` } }));
    }
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    const names = new Set(
      [...metrics.matchAll(/mcp_proxy_mcp_requests_total\{method="tools\/call",name="([^"]*)"/g)].map((m) => m[1]),
    );
    assert.ok(names.has("_other"));
    assert.ok(names.size <= 201, `${names.size} name labels`);
  });
});

describe("MCP policy: list answers that cannot be filtered", () => {
  /** What the MCP server answers tools/list with, by the test's x-answer header. */
  const answers: Record<string, { headers: Record<string, string>; body: string }> = {
    oversize: {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [{ name: "x".repeat(200_000) }] } }),
    },
    compressed: { headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: "not gzip" },
    malformed: { headers: { "content-type": "application/json" }, body: "{not json" },
  };
  let server: http.Server;
  let bypass: BypassProxy;
  const logged: string[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      const answer = answers[String(req.headers["x-answer"])] ?? answers.malformed;
      req.resume();
      req.on("end", () => {
        res.writeHead(200, answer?.headers);
        res.end(answer?.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    bypass = await startBypassProxy(
      "mcp_policy:\n  max_list_size: 100kb\n  rules:\n    - { name: search-only, tools: [search] }\n",
      `http://127.0.0.1:${(server.address() as { port: number }).port}`,
      capturingLogger(logged, "warn"),
    );
  });
  after(async () => {
    await bypass?.close();
    server?.closeAllConnections();
    server?.close();
  });

  for (const kind of Object.keys(answers)) {
    it(`answers a ${kind} list 502 as unfilterable, not as the MCP server's failure`, async () => {
      const response = await fetch(bypass.mcpUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "x-answer": kind,
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      assert.equal(response.status, 502);
      const { error } = (await response.json()) as { error: { message: string } };
      assert.match(error.message, /list answer could not be filtered/);
      const metrics = await (await fetch(`${bypass.proxy.url}/metrics`)).text();
      assert.doesNotMatch(metrics, /mcp_proxy_upstream_errors_total\{/);
    });
  }

  // A new user's trial: the log said `reason: too large`, and which setting bounds it had to be guessed.
  it("logs an oversized list answer naming mcp_policy.max_list_size and its value", async () => {
    logged.length = 0;
    const response = await fetch(bypass.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", "x-answer": "oversize" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    assert.equal(response.status, 502);
    await response.arrayBuffer();
    const line = logged
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .find((entry) => entry.message === "an MCP list answer could not be filtered");
    assert.equal(line?.reason, `larger than mcp_policy.max_list_size (${100 * 1024} bytes)`);
  });
});

describe("audit trail without rules: nothing reaches the MCP server unrecorded", () => {
  let upstream: RecordingUpstream;
  let bypass: BypassProxy;
  let dir: string;
  let auditFile: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "mcp-audit-only-"));
    auditFile = path.join(dir, "audit.jsonl");
    upstream = await startRecordingUpstream();
    bypass = await startBypassProxy(`mcp_policy:\n  audit: { enabled: true, output: ${auditFile} }\n`, upstream.url);
  });
  after(async () => {
    await bypass?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records a POST, and refuses (and records) the upgrade and the PUT body it could not judge", async () => {
    const posted = await fetch(bypass.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "search" } }),
    });
    assert.equal(posted.status, 200);
    await posted.body?.cancel();
    const count = upstream.requests.length;
    assert.equal(await upgradeStatus(bypass.mcpUrl), 403);
    const put = await fetch(bypass.mcpUrl, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "search" } }),
    });
    assert.equal(put.status, 403);
    await put.body?.cancel();
    assert.equal(upstream.requests.length, count, "neither reached the MCP server");
    const records = readFileSync(auditFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { stage: string; decision: string; http_method?: string });
    // The POST alone was let through, its line written before it was (decision 051); the
    // refusals are recorded too (decision 049).
    assert.deepEqual(
      records.map((r) => [r.stage, r.decision, r.http_method ?? "POST"]),
      [
        ["admitted", "allow", "POST"],
        ["done", "allow", "POST"],
        ["done", "deny", "GET"],
        ["done", "deny", "PUT"],
      ],
    );
  });
});

/** The name labels of tools/call in the proxy's metrics. */
async function toolCallNames(proxy: RunningProxy): Promise<Set<string>> {
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  return new Set(
    [...metrics.matchAll(/mcp_proxy_mcp_requests_total\{method="tools\/call",name="([^"]*)"/g)].map(
      (m) => m[1] as string,
    ),
  );
}

describe("MCP policy metrics: made-up names take no label (decision 049; demo server, SDK client)", () => {
  let mcp: DemoMcpServer;
  let bypass: BypassProxy;
  let client: Client;

  before(async () => {
    mcp = await startDemoMcpServer();
    // Every tool allowed: made-up names are forwarded (the server refuses them), yet governed, so lists are read.
    bypass = await startBypassProxy("mcp_policy:\n  rules:\n    - { name: all-tools, tools: ['*'] }\n", mcp.url);
    client = new Client({ name: "metrics-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(bypass.mcpUrl)));
  });
  after(async () => {
    await client?.close();
    await bypass?.close();
    await mcp?.close();
  });

  it("210 calls of made-up tools leave the budget to the server's listed names", async () => {
    for (let i = 0; i < 210; i++) {
      const made = await client.callTool({ name: `made-up-${i}`, arguments: {} }).catch((error: unknown) => error);
      assert.ok(made instanceof Error || (made as { isError?: boolean }).isError, "the server knows no such tool");
    }
    assert.ok((await client.listTools()).tools.some((tool) => tool.name === "echo"));
    await client.callTool({ name: "echo", arguments: { text: "counted" } });
    const names = await toolCallNames(bypass.proxy);
    assert.ok(names.has("echo"), `echo has its own label: ${[...names].slice(0, 5)}`);
    assert.ok(names.has("_other"), "the made-up names are counted, as _other");
    assert.ok(![...names].some((name) => name.startsWith("made-up-")), "no made-up name took a label");
  });
});
