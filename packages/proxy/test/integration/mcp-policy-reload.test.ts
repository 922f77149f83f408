// The MCP policy reloaded as an operator reloads it: the proxy as a process (the command),
// its config file edited and SIGHUP sent, with its authorization server for MCP clients. A
// policy that changes the scopes the proxy supports waits for a restart (decision 048): a
// new user's trial added `scopes: [mcp:new]` by reload, the log said applied and denials asked
// for mcp:new, but the metadata and the authorization server kept the old scopes and no token
// could ever carry it. A policy with an empty condition list is refused and the old one kept.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { HandClient } from "../support/oauth-hand-client.ts";
import { finished } from "../support/process.ts";
import { type Stack, startStack } from "../support/stack.ts";

const BIN = path.resolve(import.meta.dirname, "../../../../node_modules/.bin/mcp-oidc-proxy");

const EVERYONE = "    - { name: everyone, tools: [whoami, echo] }\n";
const DEPLOY = "    - { name: deploy, tools: [count], scopes: [mcp:deploy] }\n";
const policy = (...rules: string[]) => `mcp_policy:\n  rules:\n${rules.join("")}`;

type Json = Record<string, unknown>;

describe("MCP policy reloaded by SIGHUP (the proxy as a process)", () => {
  let stack: Stack;
  let dir: string;
  let file: string;
  let child: ChildProcess;
  let exit: ReturnType<typeof finished>;
  let base: string;
  /** A token alice got for mcp:tools alone (no mcp:deploy). */
  let plainToken: string;

  /** The command's JSON log lines so far, in order; `logged` resolves at the next one. */
  const lines: Json[] = [];
  let logged: () => void = () => {};

  /** The first line from index `start` on that `matches`, once it is logged. */
  async function lineAfter(start: number, matches: (line: Json) => boolean): Promise<Json> {
    for (;;) {
      const found = lines.slice(start).find(matches);
      if (found) return found;
      await new Promise<void>((resolve) => {
        logged = resolve;
      });
    }
  }

  /** Edits the file, sends SIGHUP and resolves with the log lines the reload wrote. */
  async function reloadWith(text: string) {
    writeFileSync(file, text);
    const start = lines.length;
    child.kill("SIGHUP");
    const end = await lineAfter(
      start,
      (line) =>
        line.message === "configuration reloaded" ||
        line.message === "configuration reload refused; keeping the running configuration",
    );
    // A section that waits is warned about before the summary line.
    const warning = lines
      .slice(start)
      .find((line) => line.message === "configuration reload: a section waits for a restart");
    return end.message === "configuration reloaded" ? { reloaded: end, warning } : { refused: end };
  }

  const json = async (url: string) => (await (await fetch(url)).json()) as Json;
  const toolCall = (token: string, name: string) =>
    fetch(`${base}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: {} } }),
    });

  /** A token for alice with `scope`, by the authorization code flow. */
  async function tokenFor(scope: string): Promise<Json> {
    const hand = new HandClient(base);
    await hand.register();
    const { code, verifier, landing } = await hand.authorize("alice", { scope });
    assert.ok(code, landing);
    return (await (await hand.exchange(code, verifier)).json()) as Json;
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "mcp-policy-reload-"));
    file = path.join(dir, "config.yaml");
    writeFileSync(file, policy(EVERYONE, DEPLOY));
    stack = await startStack({ env: { MCP_AUTH_MODE: "proxy", MCP_REQUIRED_SCOPES: "mcp:tools" } });
    // The stack's provider and MCP server, with the command in place of its in-process proxy.
    await stack.proxies[0]?.shutdown();
    base = `http://127.0.0.1:${stack.ports[0]}`;
    const env = { ...stack.envFor(0), LOG_LEVEL: "info", PATH: process.env.PATH ?? "" };
    child = spawn(BIN, ["--config", file], { env, stdio: ["ignore", "pipe", "pipe"] });
    exit = finished(child);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      lines.push(JSON.parse(line) as Json);
      logged();
    });
    await lineAfter(0, (line) => line.message === "mcp-oidc-proxy listening");
    plainToken = (await tokenFor("mcp:tools")).access_token as string;
  });
  after(async () => {
    child?.kill("SIGTERM");
    await exit;
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a reload adding a scope keeps the running policy, says why, and metadata and tokens stay as they were", async () => {
    const { reloaded, warning } = await reloadWith(
      policy(EVERYONE, DEPLOY, "    - { name: reports, tools: [admin_report], scopes: [mcp:new] }\n"),
    );
    assert.ok(reloaded && warning, "reloaded, with a warning");
    assert.deepEqual(reloaded.applied, []);
    assert.deepEqual(reloaded.ignored_until_restart, ["mcp_policy"]);
    assert.equal(warning.section, "mcp_policy");
    assert.match(String(warning.reason), /adds mcp:new .*fixed at start.*restart to apply it/);

    const resource = await json(`${base}/.well-known/oauth-protected-resource`);
    assert.deepEqual(resource.scopes_supported, ["mcp:tools", "mcp:deploy"]);
    const server = await json(`${base}/.well-known/oauth-authorization-server`);
    assert.ok(!(server.scopes_supported as string[]).includes("mcp:new"));
    // No denial asks for a scope no token can carry: admin_report is still no rule's.
    const denied = await toolCall(plainToken, "admin_report");
    assert.equal(((await denied.json()) as { error: { code: number } }).error.code, -32003);
    assert.doesNotMatch(denied.headers.get("www-authenticate") ?? "", /mcp:new/);
    // And the running policy's scope is granted and honoured as before.
    const deploy = await tokenFor("mcp:tools mcp:deploy");
    assert.equal(deploy.scope, "mcp:tools mcp:deploy");
    assert.notEqual((await toolCall(deploy.access_token as string, "count")).status, 403);
  });

  it("a reload removing a scope is kept back too: the scope stays advertised and still required", async () => {
    const { reloaded, warning } = await reloadWith(policy(EVERYONE, "    - { name: deploy, tools: [count] }\n"));
    assert.deepEqual(reloaded?.ignored_until_restart, ["mcp_policy"]);
    assert.match(String(warning?.reason), /removes mcp:deploy/);
    const resource = await json(`${base}/.well-known/oauth-protected-resource`);
    assert.deepEqual(resource.scopes_supported, ["mcp:tools", "mcp:deploy"]);
    const challenged = await toolCall(plainToken, "count");
    assert.equal(challenged.status, 403);
    assert.match(challenged.headers.get("www-authenticate") ?? "", /scope="mcp:tools mcp:deploy"/);
  });

  it("a reload that keeps the scope set applies the policy", async () => {
    const { reloaded, warning } = await reloadWith(
      policy(EVERYONE, DEPLOY, "    - { name: reports, tools: [admin_report] }\n"),
    );
    assert.equal(warning, undefined);
    assert.deepEqual(reloaded?.applied, ["mcp_policy"]);
    assert.deepEqual(reloaded?.ignored_until_restart, []);
    assert.notEqual((await toolCall(plainToken, "admin_report")).status, 403);
  });

  it("a reload with an empty condition list is refused, naming the field, and the running policy stays", async () => {
    const { refused } = await reloadWith(
      policy(EVERYONE, DEPLOY, "    - { name: reports, tools: [admin_report], users: [] }\n"),
    );
    assert.ok(refused, "refused");
    assert.ok(
      (refused.error as string[]).some((problem) =>
        problem.startsWith("mcp_policy.rules[2].users: an empty list matches nobody; remove it or list values"),
      ),
      JSON.stringify(refused.error),
    );
    // Still the policy of the last reload: reports grants admin_report to everyone.
    assert.notEqual((await toolCall(plainToken, "admin_report")).status, 403);
    const body = await (await toolCall(plainToken, "admin_report")).text();
    assert.doesNotMatch(body, /-32003/);
  });
});
