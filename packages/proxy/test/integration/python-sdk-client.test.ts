// An MCP client in another language: the official Python SDK (pip `mcp`, installed into
// .tools/python by scripts/ensure-system-deps.sh) discovers the proxy's authorization server
// from the 401, registers the way it does by default (no token_endpoint_auth_method, so
// RFC 7591's client_secret_basic), signs the person in upstream, approves itself on the
// consent page and calls a tool with the proxy's token.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { finished } from "../support/process.ts";
import { type Stack, startStack } from "../support/stack.ts";

const ROOT = path.resolve(import.meta.dirname, "../../../..");
const PYTHON = path.join(ROOT, ".tools/python/bin/python");
const SCRIPT = path.resolve(import.meta.dirname, "../support/python_mcp_oauth_client.py");

describe("the Python SDK's OAuth client against the proxy's authorization server", () => {
  let stack: Stack;
  let base: string;

  before(async () => {
    stack = await startStack({
      env: { MCP_AUTH_MODE: "proxy", MCP_REQUIRED_SCOPES: "mcp:tools", ACCESS_REQUIRED_GROUPS: "mcp-users" },
    });
    base = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());

  it("registers without token_endpoint_auth_method, signs in with its secret and calls tools", async () => {
    const run = await finished(
      spawn(PYTHON, [SCRIPT, `${base}/mcp`, "alice"], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: "" } }),
    );
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    const result = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as {
      token_endpoint_auth_method: string;
      has_client_secret: boolean;
      tools: string[];
      whoami: string;
    };
    // The SDK authenticated at the token endpoint with the secret it was given.
    assert.equal(result.token_endpoint_auth_method, "client_secret_basic");
    assert.equal(result.has_client_secret, true);
    assert.ok(result.tools.includes("whoami"));
    const identity = JSON.parse(result.whoami) as Record<string, string>;
    assert.equal(identity["x-user-id"], "alice");
    assert.equal(identity["x-user-groups"], "mcp-users,admins");
  });
});
