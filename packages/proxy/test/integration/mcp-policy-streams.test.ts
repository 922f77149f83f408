// List answers that arrive on a GET event stream are filtered per caller too: the 2024-11-05
// HTTP+SSE transport (every answer is a `message` event on the GET /sse stream; the demo
// server with the SDK's SSEServerTransport, the SDK's SSEClientTransport signed in through
// the proxy) and a Streamable HTTP stream resumed with Last-Event-ID (the everything server,
// whose event store replays a tools/list answer on the GET).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { loadConfig } from "../../src/config/load.ts";
import { type RunningProxy, startProxy } from "../../src/proxy-server.ts";
import { TestBrowser } from "../support/browser.ts";
import { freePort } from "../support/redis-server.ts";
import { type Stack, startStack } from "../support/stack.ts";

const DEMO_POLICY = path.resolve(import.meta.dirname, "../../dev/demo-policy.yaml");
const EVERYTHING = path.resolve(import.meta.dirname, "../support/everything-server.ts");

/** The demo policy's rules without its audit trail (which writes to stdout). */
function demoRules(): string {
  return readFileSync(DEMO_POLICY, "utf8").replace(/\n {2}audit:\n(?: {4}.*\n?)*/, "\n");
}

describe("MCP policy on GET streams: the HTTP+SSE transport (demo server, demo policy)", () => {
  let stack: Stack;
  let dir: string;
  const alice = new TestBrowser();
  const bob = new TestBrowser();

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "mcp-policy-streams-"));
    const configFile = path.join(dir, "config.yaml");
    writeFileSync(configFile, demoRules());
    stack = await startStack({ configFile });
    const url = `http://127.0.0.1:${stack.ports[0]}/`;
    assert.equal((await alice.signIn(url, "alice")).status, 200);
    assert.equal((await bob.signIn(url, "bob")).status, 200);
  });
  after(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function legacyTools(browser: TestBrowser): Promise<string[]> {
    const client = new Client({ name: "legacy-test", version: "1.0.0" });
    await client.connect(
      new SSEClientTransport(new URL(`http://127.0.0.1:${stack.ports[0]}/sse`), { fetch: browser.fetch }),
    );
    try {
      return (await client.listTools()).tools.map((t) => t.name).sort();
    } finally {
      await client.close();
    }
  }

  it("admin_report listed on the GET /sse stream to bob, who may not use it: he no longer sees it", async () => {
    assert.deepEqual(await legacyTools(bob), ["count", "echo", "whoami"]);
  });

  it("alice (admins) still sees admin_report on her stream", async () => {
    assert.ok((await legacyTools(alice)).includes("admin_report"));
  });
});
