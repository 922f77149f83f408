// The MCP policy on resources, resource templates and prompts, against the SDK's "everything"
// server with the TS SDK client through the proxy: lists hold only what the caller may use,
// reads and prompt gets outside the rules are refused, completions are judged by what they
// complete.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { RunningProxy } from "../../src/proxy-server.ts";
import { type BypassProxy, startBypassProxy } from "../support/bypass-proxy.ts";
import { type Everything, startEverything, stopEverything } from "../support/everything-process.ts";

const DOCS = "demo://resource/static/document";

describe("MCP policy on resources and prompts (everything server, TS SDK client)", () => {
  let everything: Everything;
  let bypass: BypassProxy;
  let proxy: RunningProxy;
  let client: Client;

  before(async () => {
    everything = await startEverything();
    bypass = await startBypassProxy(
      `mcp_policy:
  rules:
    - name: docs
      resources: ["${DOCS}/architecture.md", "demo://resource/dynamic/text/*"]
      prompts: [simple-prompt]
`,
      everything.origin,
    );
    proxy = bypass.proxy;
    client = new Client({ name: "policy-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`)));
  });
  after(async () => {
    await client?.close();
    await bypass?.close();
    await stopEverything(everything);
  });

  it("lists only the resources, templates and prompts the rules grant", async () => {
    assert.deepEqual(
      (await client.listResources()).resources.map((r) => r.uri),
      [`${DOCS}/architecture.md`],
    );
    assert.deepEqual(
      (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate),
      ["demo://resource/dynamic/text/{resourceId}"],
    );
    assert.deepEqual(
      (await client.listPrompts()).prompts.map((p) => p.name),
      ["simple-prompt"],
    );
    // Tools are named by no rule: they stay open and unfiltered.
    assert.ok((await client.listTools()).tools.length > 5);
  });

  it("reads a granted resource and refuses another; templates' resources by their URI", async () => {
    const read = await client.readResource({ uri: `${DOCS}/architecture.md` });
    assert.equal(read.contents[0]?.uri, `${DOCS}/architecture.md`);
    assert.ok(await client.readResource({ uri: "demo://resource/dynamic/text/1" }));
    await assert.rejects(client.readResource({ uri: `${DOCS}/extension.md` }), /Forbidden: no rule names the resource/);
  });

  it("gets a granted prompt, refuses another, and judges completions by the prompt they complete", async () => {
    assert.ok((await client.getPrompt({ name: "simple-prompt" })).messages.length > 0);
    await assert.rejects(client.getPrompt({ name: "args-prompt", arguments: { city: "x" } }), /Forbidden/);
    await assert.rejects(
      client.complete({
        ref: { type: "ref/prompt", name: "completable-prompt" },
        argument: { name: "department", value: "E" },
      }),
      /Forbidden/,
    );
  });
});
