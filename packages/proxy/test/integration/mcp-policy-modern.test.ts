// The MCP policy on the 2026-07-28 revision: a real server of that revision (the Python SDK's
// MCPServer) behind the proxy, the Python SDK's client speaking it (server/discover, no
// session, Mcp-Method / Mcp-Name headers) after its OAuth flow through the proxy's
// authorization server. Bob neither sees nor runs admin_report; alice does. Raw requests
// check what a client of that revision may get wrong: headers that disagree with the body,
// headers left out, and the cache hints of a filtered list.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import type { AuditRecord } from "../../src/mcp/audit-log.ts";
import { connectWithOAuth } from "../support/mcp-oauth-client.ts";
import { finished } from "../support/process.ts";
import { type Stack, startStack } from "../support/stack.ts";

const ROOT = path.resolve(import.meta.dirname, "../../../..");
const PYTHON = path.join(ROOT, ".tools/python/bin/python");
const CLIENT = path.resolve(import.meta.dirname, "../support/python_mcp_oauth_client.py");
const SERVER = path.resolve(import.meta.dirname, "../support/python_mcp_modern_server.py");
const MODERN = "2026-07-28";
const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "raw-test", version: "1" },
};

interface ClientRun {
  tools: string[];
  protocol_version: string;
  calls: Record<string, string | { error: string }>;
}

describe("MCP policy on the 2026-07-28 revision (Python SDK server and client)", () => {
  let server: ChildProcess;
  const ran: string[] = [];
  let stack: Stack;
  let dir: string;
  let auditFile: string;
  let mcpUrl: string;

  async function runClient(user: string, ...calls: string[]): Promise<ClientRun> {
    const args = [CLIENT, mcpUrl, user, "--modern", ...calls.flatMap((name) => ["--call", name])];
    const run = await finished(spawn(PYTHON, args, { stdio: ["ignore", "pipe", "pipe"], env: { PATH: "" } }));
    assert.equal(run.code, 0, run.stderr.slice(-3000));
    return JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as ClientRun;
  }

  before(async () => {
    server = spawn(PYTHON, [SERVER], { stdio: ["ignore", "pipe", "inherit"], env: { PATH: "" } });
    let upstream = "";
    const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream });
    await new Promise<void>((resolve) => {
      lines.on("line", (line) => {
        if (line.startsWith("listening ")) {
          upstream = line.slice("listening ".length).trim();
          resolve();
        }
        if (line.startsWith("called ")) ran.push(line.slice("called ".length));
      });
    });
    dir = mkdtempSync(path.join(tmpdir(), "mcp-policy-modern-"));
    auditFile = path.join(dir, "audit.jsonl");
    const configFile = path.join(dir, "config.yaml");
    writeFileSync(
      configFile,
      `mcp_policy:
  rules:
    - { name: admins-only, tools: ["admin_*"], groups: [admins] }
    - { name: everyone, tools: [whoami, echo] }
    - { name: public-notes, resources: ["notes://public/*"] }
  audit: { enabled: true, output: ${auditFile} }
`,
    );
    stack = await startStack({
      configFile,
      env: { MCP_AUTH_MODE: "proxy", MCP_REQUIRED_SCOPES: "mcp:tools", MCP_TARGET_URL: new URL(upstream).origin },
    });
    mcpUrl = `http://127.0.0.1:${stack.ports[0]}/mcp`;
  });
  after(async () => {
    await stack?.close();
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it("bob's 2026-07-28 client signs in, sees no admin_report and is refused it: the server never runs it", async () => {
    const bob = await runClient("bob", "admin_report", "whoami");
    assert.equal(bob.protocol_version, MODERN);
    assert.deepEqual(bob.tools.sort(), ["echo", "whoami"]);
    assert.match((bob.calls.admin_report as { error: string }).error, /Forbidden/);
    assert.equal(bob.calls.whoami, "whoami ran");
    assert.ok(!ran.includes("admin_report"), "the server never ran the denied call");
    const records = readFileSync(auditFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as AuditRecord);
    assert.ok(records.some((r) => r.method === "server/discover" && r.user === "bob" && r.decision === "allow"));
    assert.ok(records.some((r) => r.name === "admin_report" && r.user === "bob" && r.decision === "deny"));
  });

  it("alice's 2026-07-28 client sees and runs admin_report", async () => {
    const alice = await runClient("alice", "admin_report");
    assert.equal(alice.protocol_version, MODERN);
    assert.deepEqual(alice.tools.sort(), ["admin_report", "echo", "whoami"]);
    assert.equal(alice.calls.admin_report, "3 servers, 0 incidents");
  });

  describe("raw 2026-07-28 requests with bob's token", () => {
    let token: string;
    const adminRuns = () => ran.filter((name) => name === "admin_report").length;
    let adminRunsBefore: number;
    before(async () => {
      adminRunsBefore = adminRuns();
      // The TS SDK client (a handshake revision) only to get bob a token the usual way.
      const { client, oauth } = await connectWithOAuth(mcpUrl, "bob");
      await client.close();
      token = oauth.savedTokens?.access_token as string;
    });
    const post = (body: unknown, headers: Record<string, string>) =>
      fetch(mcpUrl, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": MODERN,
          ...headers,
        },
        body: JSON.stringify(body),
      });
    const call = (name: string) => ({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name, arguments: {}, _meta: ENVELOPE },
    });

    it("refuses Mcp-Name that disagrees with the body with 400 and -32020, forwarding nothing", async () => {
      const response = await post(call("admin_report"), { "mcp-method": "tools/call", "mcp-name": "whoami" });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: { code: number } }).error.code, -32020);
      // Base64-encoded names are compared decoded: this one says admin_report, as the body does.
      const encoded = `=?base64?${Buffer.from("admin_report").toString("base64")}?=`;
      const agreeing = await post(call("admin_report"), { "mcp-method": "tools/call", "mcp-name": encoded });
      assert.equal(((await agreeing.json()) as { error: { code: number } }).error.code, -32003);
      assert.equal(adminRuns(), adminRunsBefore);
    });

    it("judges a request without routing headers by its body", async () => {
      const response = await post(call("admin_report"), {});
      assert.equal(((await response.json()) as { error: { code: number } }).error.code, -32003);
      assert.equal(adminRuns(), adminRunsBefore);
    });

    const listen = (resourceSubscriptions: string[]) =>
      post(
        {
          jsonrpc: "2.0",
          id: 9,
          method: "subscriptions/listen",
          params: { notifications: { resourceSubscriptions, toolsListChanged: true }, _meta: ENVELOPE },
        },
        { "mcp-method": "subscriptions/listen" },
      );

    it("denies a subscriptions/listen naming one resource URI bob may not use, forwarding nothing", async () => {
      const response = await listen(["notes://public/a", "notes://private/salaries"]);
      assert.equal(response.status, 200);
      const type = response.headers.get("content-type") ?? "";
      // Forwarded, the server would answer with the subscription's stream (left open).
      if (!type.startsWith("application/json")) await response.body?.cancel();
      assert.match(type, /^application\/json/, "the proxy's own answer, not the server's stream");
      const body = (await response.json()) as { id: number; error: { code: number; message: string } };
      assert.equal(body.id, 9);
      assert.equal(body.error.code, -32003);
      assert.match(body.error.message, /notes:\/\/private\/salaries/);
      const records = readFileSync(auditFile, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as AuditRecord);
      const record = records.findLast((r) => r.method === "subscriptions/listen" && r.user === "bob");
      assert.equal(record?.decision, "deny");
      // The line names its first URI; it also counts them and hashes their set (a review).
      const set = ["notes://private/salaries", "notes://public/a"].join("\n");
      assert.deepEqual([record?.uris, record?.uris_sha256], [2, createHash("sha256").update(set).digest("hex")]);
    });

    it("lets a subscriptions/listen of granted URIs through: the server acknowledges them", async () => {
      const response = await listen(["notes://public/a"]);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = "";
      while (!text.includes("notifications/subscriptions/acknowledged")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      await reader.cancel();
      assert.match(text, /"resourceSubscriptions":\["notes:\/\/public\/a"\]/);
    });

    it("marks a filtered list private and keeps the server's ttlMs", async () => {
      const response = await post(
        { jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta: ENVELOPE } },
        { "mcp-method": "tools/list" },
      );
      assert.equal(response.status, 200);
      const body = (await response.json()) as {
        result: { tools: { name: string }[]; cacheScope: string; ttlMs: number };
      };
      assert.deepEqual(body.result.tools.map((t) => t.name).sort(), ["echo", "whoami"]);
      assert.equal(body.result.cacheScope, "private");
      assert.equal(typeof body.result.ttlMs, "number");
    });
  });
});
