import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import type { SessionUser } from "../../../src/auth/session-user.ts";
import { loadConfig } from "../../../src/config/load.ts";
import { configSchema } from "../../../src/config/schema.ts";
import { decodeHeaderValue } from "../../../src/mcp/jsonrpc-reader.ts";
import { filterListAnswer } from "../../../src/mcp/list-filter.ts";
import { callOf, type McpCaller, McpPolicy } from "../../../src/mcp/policy.ts";
import { problemsOf } from "../../support/config-problems.ts";

const OIDC = { OIDC_DISCOVERY_URL: "https://id.example.com", OIDC_CLIENT_ID: "proxy" };

/** A config file in a directory of its own (removed when the process exits with the rest of tmp). */
function writeConfig(text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "mcp-policy-config-")), "config.yaml");
  writeFileSync(file, text);
  return file;
}

function policyOf(rules: unknown[]): McpPolicy {
  return new McpPolicy(configSchema.parse({ mcp_policy: { rules } }).mcp_policy);
}

function user(id: string, groups: string[] = [], email?: string, verified = true): SessionUser {
  return { id, groups, provider: "https://id.example.com", emailVerified: verified, ...(email ? { email } : {}) };
}

const tool = (name: string) => ({ method: "tools/call", kind: "tool" as const, name });

describe("McpPolicy.decide", () => {
  const policy = policyOf([
    { name: "admins", tools: ["admin_*"], groups: ["admins"] },
    { name: "open", tools: ["echo"] },
    { name: "staff-docs", resources: ["file:///docs/**"], email_domains: ["example.com"] },
    { name: "deploy", tools: ["deploy"], users: ["alice"], scopes: ["mcp:deploy"], clients: ["ide"] },
  ]);
  const alice: McpCaller = { user: user("alice", ["admins"], "alice@example.com"), clientId: "ide", scopes: [] };
  const bob: McpCaller = { user: user("bob", [], "bob@example.com", false) };

  it("denies by default a kind some rule names; kinds no rule names stay open", () => {
    assert.equal(policy.decide(tool("unknown"), alice).allowed, false);
    assert.match(policy.decide(tool("unknown"), alice).reason, /denied by default/);
    assert.equal(policy.decide({ method: "prompts/get", kind: "prompt", name: "any" }, bob).allowed, true);
    assert.equal(policy.decide({ method: "tools/list" }, bob).allowed, true);
  });

  it("grants by the rule whose conditions all hold, naming it", () => {
    assert.deepEqual(policy.decide(tool("admin_reset"), alice), {
      allowed: true,
      rule: "admins",
      reason: "granted by admins",
    });
    assert.equal(policy.decide(tool("admin_reset"), bob).allowed, false);
    assert.equal(policy.decide(tool("echo"), bob).rule, "open");
  });

  it("matches e-mail domains against verified addresses only", () => {
    const read = { method: "resources/read", kind: "resource" as const, name: "file:///docs/a/b.md" };
    assert.equal(policy.decide(read, alice).allowed, true);
    assert.equal(policy.decide(read, bob).allowed, false, "bob's address is unverified");
    assert.equal(policy.decide({ ...read, name: "file:///etc/passwd" }, alice).allowed, false);
  });

  it("names the scopes that would grant a call to a bearer caller missing only them (step-up)", () => {
    const denied = policy.decide(tool("deploy"), alice);
    assert.equal(denied.allowed, false);
    assert.deepEqual(denied.stepUpScopes, ["mcp:deploy"]);
    assert.equal(policy.decide(tool("deploy"), { ...alice, scopes: ["mcp:deploy"] }).allowed, true);
    // Another client, or a browser session (no token to step up), gets no step-up.
    assert.equal(policy.decide(tool("deploy"), { ...alice, clientId: "other" }).stepUpScopes, undefined);
    assert.equal(policy.decide(tool("deploy"), { user: alice.user }).stepUpScopes, undefined);
  });

  it("denies a governed call that names nothing (fail closed)", () => {
    assert.equal(policy.decide(callOf("tools/call", { arguments: {} }), alice).allowed, false);
  });

  it("judges completion/complete by the prompt or resource it completes", () => {
    assert.deepEqual(callOf("completion/complete", { ref: { type: "ref/resource", uri: "file:///x" } }), {
      method: "completion/complete",
      kind: "resource",
      name: "file:///x",
    });
    assert.equal(
      policy.decide(callOf("completion/complete", { ref: { type: "ref/resource", uri: "file:///x" } }), alice).allowed,
      false,
    );
  });
});

describe("subscriptions/listen (2026-07-28): every resource URI it subscribes to is judged", () => {
  const policy = policyOf([{ name: "staff-docs", resources: ["file:///docs/**"], email_domains: ["example.com"] }]);
  const alice: McpCaller = { user: user("alice", [], "alice@example.com") };
  const listen = (notifications: unknown) =>
    policy.decide(callOf("subscriptions/listen", { notifications, _meta: {} }), alice);

  it("grants it when each URI is granted, and denies it when any one is not", () => {
    const docs = ["file:///docs/a.md", "file:///docs/b/c.md"];
    assert.equal(listen({ resourceSubscriptions: docs, toolsListChanged: true }).rule, "staff-docs");
    const denied = listen({ resourceSubscriptions: [...docs, "file:///etc/passwd"] });
    assert.equal(denied.allowed, false);
    assert.match(denied.reason, /file:\/\/\/etc\/passwd/);
  });

  it("refuses a URI in an ambiguous spelling there too, as resources/read does", () => {
    const denied = listen({ resourceSubscriptions: ["file:///docs/%2e%2e/etc/passwd"] });
    assert.equal(denied.allowed, false);
    assert.match(denied.reason, /the resource URI has/);
  });

  it("lets a listen that names no resource pass; fails closed on one it cannot read", () => {
    assert.equal(listen({ toolsListChanged: true }).allowed, true);
    assert.equal(listen({ resourceSubscriptions: [] }).allowed, true);
    assert.equal(listen({ resourceSubscriptions: "file:///docs/a.md" }).allowed, false, "not an array");
    assert.equal(listen({ resourceSubscriptions: ["file:///docs/a.md", 7] }).allowed, false, "not all strings");
  });

  it("judges nothing while no rule names resources", () => {
    const open = policyOf([{ tools: ["echo"] }]);
    const call = callOf("subscriptions/listen", { notifications: { resourceSubscriptions: ["file:///etc/x"] } });
    assert.equal(open.decide(call, alice).allowed, true);
  });
});

describe("list answers filtered per caller", () => {
  const policy = policyOf([{ tools: ["echo"] }]);
  const caller: McpCaller = { user: user("bob") };
  const answer = {
    jsonrpc: "2.0",
    id: 3,
    result: { tools: [{ name: "echo" }, { name: "admin_report" }], nextCursor: "page-2", ttlMs: 60000 },
  };

  it("keeps what the caller may use and the cursor; marks 2026-07-28 results private", () => {
    const out = filterListAnswer(Buffer.from(JSON.stringify(answer)), "application/json", {
      policy,
      caller,
      lists: new Map([[3, "tools/list"]]),
      modern: true,
    });
    assert.deepEqual(JSON.parse(out.toString()).result, {
      tools: [{ name: "echo" }],
      nextCursor: "page-2",
      ttlMs: 60000,
      cacheScope: "private",
    });
  });

  it("filters the answer inside an SSE stream and keeps the other events", () => {
    const progress = { jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1 } };
    const stream = `event: message\nid: 1\ndata: ${JSON.stringify(progress)}\n\nevent: message\nid: 2\ndata: ${JSON.stringify(answer)}\n\n`;
    const out = filterListAnswer(Buffer.from(stream), "text/event-stream", {
      policy,
      caller,
      lists: new Map([[3, "tools/list"]]),
      modern: false,
    }).toString();
    const events = out.split("\n\n").filter(Boolean);
    assert.equal(events.length, 2);
    assert.match(events[0] as string, /^id: 1\nevent: message\ndata: .*notifications\/progress/);
    const data = JSON.parse((events[1] as string).split("data: ")[1] as string);
    assert.deepEqual(data.result, { tools: [{ name: "echo" }], nextCursor: "page-2", ttlMs: 60000 });
  });
});

describe("Mcp-Name header values", () => {
  it("decodes the canonical base64 form and refuses any other", () => {
    assert.equal(decodeHeaderValue("plain"), "plain");
    assert.equal(decodeHeaderValue(`=?base64?${Buffer.from("wetter-Zürich").toString("base64")}?=`), "wetter-Zürich");
    assert.equal(decodeHeaderValue("=?base64?YWJj=?="), undefined);
  });
});

describe("mcp_policy configuration", () => {
  it("names every problem of the rules at once", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mcp-policy-config-"));
    const file = path.join(dir, "config.yaml");
    writeFileSync(
      file,
      `mcp_policy:
  max_body_size: lots
  rules:
    - { name: a, groups: [admins] }
    - { name: b, tools: [x], scopes: [mcp:x] }
    - { name: b, tools: [y] }
`,
    );
    try {
      const problems = problemsOf(() => loadConfig({ file, env: OIDC }));
      const text = problems.join("\n");
      assert.equal(problems.length, 4, text);
      assert.match(text, /mcp_policy\.max_body_size: "lots" is not a size/);
      // The rules between fields too, in the same run, each with the file it came from.
      assert.ok(
        text.includes(
          `mcp_policy.rules[0]: rule "a" names no tools, resources or prompts; list the globs it covers [from ${file}]`,
        ),
        text,
      );
      assert.ok(
        text.includes(
          `mcp_policy.rules[1].scopes: scopes are properties of bearer tokens, so mcp_auth.mode must be "proxy" or "provider" [from ${file}]`,
        ),
        text,
      );
      assert.ok(
        text.includes(
          `mcp_policy.rules[2].name: "b" is also the name of mcp_policy.rules[1]; names must be unique [from ${file}]`,
        ),
        text,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // A new user's trial: `users: []` or `groups: []` in a rule let every signed-in user run
  // the tool (an empty condition was no condition), and --config-test said OK.
  it("refuses an empty condition list (or an empty value), naming the field, where it granted everyone", () => {
    for (const field of ["users", "groups", "email_domains", "clients", "scopes"]) {
      const problems = problemsOf(() =>
        loadConfig({
          env: { ...OIDC, MCP_AUTH_MODE: "provider" },
          flags: {},
          file: writeConfig(`mcp_policy:\n  rules:\n    - { name: deploy, tools: [deploy], ${field}: [] }\n`),
        }),
      );
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(
        problems[0] as string,
        new RegExp(`^mcp_policy\\.rules\\[0\\]\\.${field}: an empty list matches nobody; remove it or list values`),
      );
    }
    const blank = problemsOf(() =>
      loadConfig({ env: OIDC, file: writeConfig('mcp_policy:\n  rules:\n    - { tools: [deploy], groups: [" "] }\n') }),
    );
    assert.match(blank.join("\n"), /mcp_policy\.rules\[0\]\.groups\[0\]: an empty value matches nobody/);
    // Left out, a condition is none: the rule grants every caller.
    const open = policyOf([{ name: "open", tools: ["echo"] }]);
    assert.equal(open.decide(tool("echo"), { user: user("bob") }).allowed, true);
  });

  it("refuses an e-mail domain written with its @ (it never matched), an empty groups claim and scalar lists alike", () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: OIDC,
        file: writeConfig(`oidc: { groups_claim: "" }
mcp_auth: { groups_claim: "" }
mcp_policy:
  rules:
    - { name: staff, resources: ["file:///docs/**"], email_domains: ["@example.com"] }
    - { name: admins, tools: [admin], groups: admins }
    - { name: tools, tools: "admin_*" }
`),
      }),
    );
    const text = problems.join("\n");
    assert.match(
      text,
      /mcp_policy\.rules\[0\]\.email_domains\[0\]: must be a domain without "@", e\.g\. example\.com \(got "@example\.com"\)/,
    );
    assert.match(text, /oidc\.groups_claim: must name a claim/);
    assert.match(text, /mcp_auth\.groups_claim: must name a claim/);
    assert.match(text, /mcp_policy\.rules\[1\]\.groups: must be a list, e\.g\. \[admins\] .*\(got "admins"\)/);
    assert.match(text, /mcp_policy\.rules\[2\]\.tools: must be a list, e\.g\. \[admins\] .*\(got "admin_\*"\)/);
  });

  it("names unknown fields of a rule and the rules between fields in one run, in one path style, each with its source", () => {
    const file = writeConfig(`mcp_policy:
  rules:
    - { name: a, tool: [x], tools: [y] }
    - { name: a, tools: [z], user: [bob] }
`);
    const problems = problemsOf(() => loadConfig({ env: OIDC, file }));
    assert.deepEqual(problems, [
      `mcp_policy.rules[0].tool: unknown field (check the spelling) [from ${file}]`,
      `mcp_policy.rules[1].user: unknown field (check the spelling) [from ${file}]`,
      `mcp_policy.rules[1].name: "a" is also the name of mcp_policy.rules[0]; names must be unique [from ${file}]`,
    ]);
  });

  it("names an unnamed rule by its place in denials and the audit trail (documented: it moves when rules are added above it)", () => {
    const policy = policyOf([{ name: "first", tools: ["a"], users: ["alice"] }, { tools: ["b"] }]);
    assert.equal(policy.decide(tool("b"), { user: user("bob") }).rule, "rules[1]");
  });

  it("reads sizes with units", () => {
    const { config } = loadConfig({ env: { ...OIDC, MCP_POLICY_MAX_BODY_SIZE: "512kb" } });
    assert.equal(config.mcp_policy.max_body_size, 512 * 1024);
    assert.equal(config.mcp_policy.max_list_size, 8 * 1024 * 1024);
  });
});

describe("the demo's policy (make run)", () => {
  it("lets alice (admins) use admin_report and not bob; the other demo tools are everyone's", () => {
    const file = path.resolve(import.meta.dirname, "../../../dev/demo-policy.yaml");
    const { config } = loadConfig({ file, env: OIDC });
    const policy = new McpPolicy(config.mcp_policy);
    const alice = { user: user("alice", ["mcp-users", "admins"], "alice@example.com") };
    const bob = { user: user("bob", [], "bob@other.example") };
    assert.equal(policy.decide(tool("admin_report"), alice).allowed, true);
    assert.equal(policy.decide(tool("admin_report"), bob).allowed, false);
    for (const name of ["whoami", "echo", "count"]) assert.equal(policy.decide(tool(name), bob).allowed, true);
    assert.equal(config.mcp_policy.audit.enabled, true);
  });
});
