// The MCP policy (mcp_policy) against the real demo MCP server (TS SDK, revision 2025-11-25,
// sessions, SSE-framed answers) with real SDK clients signed in through the proxy's
// authorization server: each user sees and calls only their tools, a denied call never runs
// on the server, batches with a denied member, mismatched and missing routing headers,
// oversized and malformed bodies, step-up challenges, reload without restart, the audit
// record and the metrics of each.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { loadConfig } from "../../src/config/load.ts";
import type { AuditRecord } from "../../src/mcp/audit-log.ts";
import type { RunningProxy } from "../../src/proxy-server.ts";
import { connectWithOAuth, type InMemoryOAuthClient } from "../support/mcp-oauth-client.ts";
import { type Stack, startStack } from "../support/stack.ts";

const ARGUMENTS_KEY = "audit-arguments-key-0123456789abcdef";

function policyYaml(auditFile: string, extraAdmins: string[] = []): string {
  return `mcp_policy:
  rules:
    - name: admins-only
      tools: ["admin_*"]
      groups: [admins]
${extraAdmins.length > 0 ? `    - name: extra-admins\n      tools: ["admin_*"]\n      users: [${extraAdmins.join(", ")}]\n` : ""}    - name: everyone
      tools: [whoami, echo]
    - name: count-needs-scope
      tools: [count]
      scopes: [mcp:admin]
  audit:
    enabled: true
    output: ${auditFile}
    arguments_key: ${ARGUMENTS_KEY}
`;
}

interface Signed {
  client: Client;
  oauth: InMemoryOAuthClient;
  sessionId: string;
  token: string;
}

describe("MCP policy on the 2025-11-25 revision (sessions, SSE answers)", () => {
  let stack: Stack;
  let dir: string;
  let configFile: string;
  let auditFile: string;
  let mcpUrl: string;
  let alice: Signed;
  let bob: Signed;

  const audit = (): AuditRecord[] =>
    readFileSync(auditFile, "utf8")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditRecord);
  const forwardedPosts = () => stack.mcp.requests.filter((r) => r.method === "POST").length;

  async function signIn(user: string): Promise<Signed> {
    const { client, oauth } = await connectWithOAuth(mcpUrl, user);
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId as string;
    return { client, oauth, sessionId, token: oauth.savedTokens?.access_token as string };
  }

  /** A POST as the SDK client sends it (its session, token and protocol version), with `body`. */
  function post(who: Signed, body: string, headers: Record<string, string> = {}) {
    return fetch(mcpUrl, {
      method: "POST",
      headers: {
        authorization: `Bearer ${who.token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": who.sessionId,
        "mcp-protocol-version": "2025-11-25",
        ...headers,
      },
      body,
    });
  }
  const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args },
  });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "mcp-policy-"));
    configFile = path.join(dir, "config.yaml");
    auditFile = path.join(dir, "audit.jsonl");
    writeFileSync(configFile, policyYaml(auditFile));
    // The 401 names mcp:tools, so SDK clients ask for that scope alone (not every scope supported).
    stack = await startStack({ configFile, env: { MCP_AUTH_MODE: "proxy", MCP_REQUIRED_SCOPES: "mcp:tools" } });
    mcpUrl = `http://127.0.0.1:${stack.ports[0]}/mcp`;
    alice = await signIn("alice");
    bob = await signIn("bob");
  });
  after(async () => {
    await alice?.client.close();
    await bob?.client.close();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("alice (admins) sees and calls admin_report; the audit names the rule that granted it", async () => {
    const tools = await alice.client.listTools();
    assert.ok(tools.tools.some((t) => t.name === "admin_report"));
    const result = await alice.client.callTool({ name: "admin_report", arguments: {} });
    assert.deepEqual(result.content, [{ type: "text", text: "3 servers, 0 incidents" }]);
    assert.equal(stack.mcp.toolCalls.get("admin_report"), 1);
    const record = audit().findLast((r) => r.method === "tools/call" && r.user === "alice");
    assert.equal(record?.name, "admin_report");
    assert.equal(record?.decision, "allow");
    assert.equal(record?.rule, "admins-only");
    assert.equal(record?.upstream_status, 200);
    assert.ok(record?.client_id, "the OAuth client is recorded");
  });

  it("bob neither sees admin_report (the SSE-framed list is filtered) nor calls it (never reaches the server)", async () => {
    const tools = await bob.client.listTools();
    assert.deepEqual(tools.tools.map((t) => t.name).sort(), ["echo", "whoami"]);
    const before = stack.mcp.toolCalls.get("admin_report") ?? 0;
    await assert.rejects(bob.client.callTool({ name: "admin_report", arguments: {} }), (error: Error) => {
      assert.match(error.message, /Forbidden: no rule grants the tool "admin_report"/);
      return true;
    });
    assert.equal(stack.mcp.toolCalls.get("admin_report") ?? 0, before, "the server never ran it");
    const record = audit().findLast((r) => r.method === "tools/call" && r.user === "bob");
    assert.equal(record?.decision, "deny");
    assert.equal(record?.upstream_status, null);
    const metrics = await (await fetch(`http://127.0.0.1:${stack.ports[0]}/metrics`)).text();
    assert.match(metrics, /mcp_proxy_mcp_requests_total\{method="tools\/call",name="admin_report",decision="deny"\} 1/);
  });

  it("filters a list answered as an SSE stream, keeping the stream's framing", async () => {
    const response = await post(bob, JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/list", params: {} }));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    const text = await response.text();
    assert.match(text, /^event: message\nid: |^id: .*\nevent: message\n|^event: message\n/m);
    const data = JSON.parse((/^data: (.*)$/m.exec(text) as RegExpExecArray)[1] as string) as {
      id: number;
      result: { tools: { name: string }[] };
    };
    assert.equal(data.id, 7);
    assert.deepEqual(data.result.tools.map((t) => t.name).sort(), ["echo", "whoami"]);
  });

  it("refuses a batch with one denied member as a whole: nothing of it is forwarded", async () => {
    const posts = forwardedPosts();
    const response = await post(bob, JSON.stringify([call(1, "echo", { text: "hi" }), call(2, "admin_report")]), {
      "mcp-protocol-version": "2025-03-26",
    });
    assert.equal(response.status, 200);
    const answers = (await response.json()) as { id: number; error: { code: number; message: string } }[];
    assert.deepEqual(
      answers.map((a) => [a.id, a.error.code]),
      [
        [1, -32003],
        [2, -32003],
      ],
    );
    assert.match(answers[0]?.error.message ?? "", /another request of the batch was denied/);
    assert.equal(forwardedPosts(), posts, "no member reached the server");
    const records = audit().filter((r) => r.user === "bob" && (r.jsonrpc_id === 1 || r.jsonrpc_id === 2));
    assert.deepEqual(
      records.slice(-2).map((r) => [r.name, r.decision]),
      [
        ["echo", "deny"],
        ["admin_report", "deny"],
      ],
    );
  });

  it("judges the body, never the headers: a tools/call labelled as another method is refused (-32020)", async () => {
    const posts = forwardedPosts();
    const mismatched = await post(bob, JSON.stringify(call(3, "admin_report")), {
      "mcp-method": "tools/call",
      "mcp-name": "echo",
    });
    assert.equal(mismatched.status, 400);
    assert.equal(((await mismatched.json()) as { error: { code: number } }).error.code, -32020);
    const otherMethod = await post(bob, JSON.stringify(call(4, "admin_report")), { "mcp-method": "tools/list" });
    assert.equal(otherMethod.status, 400);
    assert.equal(((await otherMethod.json()) as { error: { code: number } }).error.code, -32020);
    // Without routing headers the body alone decides: still denied.
    const bare = await post(bob, JSON.stringify(call(5, "admin_report")));
    assert.equal(((await bare.json()) as { error: { code: number } }).error.code, -32003);
    assert.equal(forwardedPosts(), posts);
    assert.equal(audit().findLast((r) => r.jsonrpc_id === 3)?.decision, "mismatch");
  });

  // A security review: Go's encoding/json reads keys regardless of case (and "ſ" as "s"), so
  // a server built on it ran the second spelling of a key the proxy judged by the first.
  it("refuses a key spelled like one it judges (Name, Method, ſ): some servers would read that one", async () => {
    const posts = forwardedPosts();
    const bodies = [
      '{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"echo","Name":"admin_report","arguments":{"text":"x"}}}',
      '{"jsonrpc":"2.0","id":12,"method":"ping","Method":"tools/call","params":{"name":"admin_report"}}',
      '{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"echo","nAme":"admin_report"}}',
      '{"jsonrpc":"2.0","id":14,"method":"subscriptions/listen","params":{"notifications":{"resourceſubscriptions":["file:///x"]}}}',
      '{"jsonrpc":"2.0","id":15,"method":"subscriptions/listen","params":{"Notifications":{"resourceSubscriptions":["file:///x"]}}}',
      '{"jsonrpc":"2.0","id":17,"method":"completion/complete","params":{"ref":{"Type":"ref/prompt","name":"p"},"argument":{"name":"a","value":""}}}',
    ];
    for (const body of bodies) {
      const response = await post(bob, body);
      assert.equal(response.status, 400, body);
      const answer = (await response.json()) as { error: { code: number; message: string } };
      assert.equal(answer.error.code, -32600, body);
      assert.match(answer.error.message, /is spelled unlike/, body);
    }
    assert.equal(forwardedPosts(), posts, "none reached the server");
    const allowed = await post(bob, JSON.stringify(call(16, "echo", { text: "Name" })));
    assert.equal(allowed.status, 200, "argument values and keys inside arguments are the tool's own");
  });

  it("answers malformed JSON with -32700 and an oversized body with 413, forwarding nothing", async () => {
    const posts = forwardedPosts();
    const malformed = await post(bob, '{"jsonrpc":"2.0","id":1,"method":"tools/call",');
    assert.equal(malformed.status, 400);
    assert.equal(((await malformed.json()) as { error: { code: number } }).error.code, -32700);
    const huge = await post(bob, JSON.stringify(call(6, "echo", { text: "x".repeat(1024 * 1024 + 1) })));
    assert.equal(huge.status, 413);
    assert.equal(((await huge.json()) as { error: { code: number } }).error.code, -32600);
    assert.equal(forwardedPosts(), posts);
    assert.ok(audit().some((r) => r.decision === "invalid" && r.user === "bob"));
  });

  it("answers an oversized chunked body (no Content-Length) with 413 too, not a reset connection", async () => {
    const posts = forwardedPosts();
    const piece = new TextEncoder().encode(
      `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"x":"${"y".repeat(64 * 1024)}`,
    );
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        // 2 MiB in 64 KiB pieces, twice the limit: the proxy must read past it to answer.
        if (sent++ < 32) controller.enqueue(piece);
        else controller.close();
      },
    });
    const huge = await fetch(mcpUrl, {
      method: "POST",
      headers: {
        authorization: `Bearer ${bob.token}`,
        "content-type": "application/json",
        "mcp-session-id": bob.sessionId,
      },
      body,
      duplex: "half",
    } as RequestInit);
    assert.equal(huge.status, 413);
    assert.equal(((await huge.json()) as { error: { code: number } }).error.code, -32600);
    assert.equal(forwardedPosts(), posts);
  });

  it("forwards an allowed call and hashes its arguments in the audit, never writing them", async () => {
    const body = `{"jsonrpc":"2.0",  "id":8,"method":"tools/call","params":{"name":"echo","arguments":{"text":"secret-value"}}}`;
    const response = await post(alice, body);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /secret-value/);
    const record = audit().findLast((r) => r.jsonrpc_id === 8);
    assert.equal(record?.decision, "allow");
    assert.match(record?.arguments_hmac ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.doesNotMatch(readFileSync(auditFile, "utf8"), /secret-value/);
  });

  it("challenges a token without the scope a rule asks for: 403 insufficient_scope naming it (step-up)", async () => {
    const response = await post(alice, JSON.stringify(call(9, "count", { n: 1 })));
    assert.equal(response.status, 403);
    const challenge = response.headers.get("www-authenticate") ?? "";
    assert.match(challenge, /error="insufficient_scope"/);
    // What the token has and what it lacks, so a client asking for exactly this keeps the rest.
    assert.match(challenge, /scope="mcp:tools mcp:admin"/);
    assert.match(challenge, /resource_metadata="/);
    const body = (await response.json()) as { error: { code: number; data: { required_scopes: string[] } } };
    assert.deepEqual(body.error.data.required_scopes, ["mcp:admin"]);
  });

  it("applies a changed policy on reload (SIGHUP) without a restart", async () => {
    writeFileSync(configFile, policyYaml(auditFile, ["bob"]));
    const { config } = loadConfig({ env: stack.envFor(0), file: configFile });
    const { applied } = (stack.proxies[0] as RunningProxy).reload(config);
    assert.ok(applied.includes("mcp_policy"));
    const tools = await bob.client.listTools();
    assert.ok(tools.tools.some((t) => t.name === "admin_report"));
    await bob.client.callTool({ name: "admin_report", arguments: {} });
    assert.equal(audit().findLast((r) => r.user === "bob" && r.method === "tools/call")?.rule, "extra-admins");
  });
});
