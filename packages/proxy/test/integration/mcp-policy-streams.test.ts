// List answers that arrive on a GET event stream are filtered per caller too: the 2024-11-05
// HTTP+SSE transport (every answer is a `message` event on the GET /sse stream; the demo
// server with the SDK's SSEServerTransport, the SDK's SSEClientTransport signed in through
// the proxy) and a Streamable HTTP stream resumed with Last-Event-ID (the everything server,
// whose event store replays a tools/list answer on the GET); the Python SDK's HTTP+SSE server
// (CRLF-framed events); a stream compressed against the proxy's asking is cut, not relayed.
// A denied call of an HTTP+SSE client gets its error on that client's stream at once (the TS
// and the Python SDK's clients, with and without a session binding), or a 403 from a replica
// that does not relay the stream (decision 049), or once its client has stopped reading and
// max_list_size waits for it (decision 052).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, get, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { type DemoMcpServer, startDemoMcpServer } from "../../dev/mcp-server.ts";
import { loadConfig } from "../../src/config/load.ts";
import { type RunningProxy, startProxy } from "../../src/proxy-server.ts";
import { TestBrowser } from "../support/browser.ts";
import { type BypassProxy, startBypassProxy } from "../support/bypass-proxy.ts";
import { type Everything, startEverything, stopEverything } from "../support/everything-process.ts";
import { freePort } from "../support/redis-server.ts";
import { type RedisStack, type Stack, startStack, startStackWithRedis } from "../support/stack.ts";

const DEMO_POLICY = path.resolve(import.meta.dirname, "../../dev/demo-policy.yaml");
const PYTHON = path.resolve(import.meta.dirname, "../../../../.tools/python/bin/python");

/** The demo policy's rules without its audit trail (which writes to stdout). */
function demoRules(): string {
  return readFileSync(DEMO_POLICY, "utf8").replace(/\n {2}audit:\n(?: {4}.*\n?)*/, "\n");
}

/** The tools the SDK's HTTP+SSE client lists at `sse`, signed in as `browser`'s user. */
async function listOverSse(sse: string, browser: TestBrowser): Promise<string[]> {
  const client = new Client({ name: "legacy-test", version: "1.0.0" });
  await client.connect(new SSEClientTransport(new URL(sse), { fetch: browser.fetch }));
  try {
    return (await client.listTools()).tools.map((t) => t.name).sort();
  } finally {
    await client.close();
  }
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

  const legacyTools = (browser: TestBrowser) => listOverSse(`http://127.0.0.1:${stack.ports[0]}/sse`, browser);

  it("admin_report listed on the GET /sse stream to bob, who may not use it: he no longer sees it", async () => {
    assert.deepEqual(await legacyTools(bob), ["count", "echo", "whoami"]);
  });

  it("alice (admins) still sees admin_report on her stream", async () => {
    assert.ok((await legacyTools(alice)).includes("admin_report"));
  });

  it("a denied call over HTTP+SSE fails at once with the -32003 error, sent on its stream; allowed calls go on", async () => {
    await assertLegacyDenial(`http://127.0.0.1:${stack.ports[0]}/sse`, bob.fetch);
    assert.equal(stack.mcp.toolCalls.get("admin_report") ?? 0, 0, "the denied call never ran");
  });
});

describe("MCP policy over HTTP+SSE: a client that stops reading its stream (decision 052)", () => {
  let stack: Stack;
  let dir: string;
  const bob = new TestBrowser();
  const LIMIT = 64 * 1024;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "mcp-policy-stalled-"));
    const configFile = path.join(dir, "config.yaml");
    writeFileSync(configFile, demoRules());
    stack = await startStack({ configFile, env: { MCP_POLICY_MAX_LIST_SIZE: `${LIMIT}` } });
    assert.equal((await bob.signIn(`http://127.0.0.1:${stack.ports[0]}/`, "bob")).status, 200);
  });
  after(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A batch of 50 denied calls, ids from `first` on: 50 error events on the stream (~20 KB). */
  const BATCH = 50;
  const deniedBatch = (first: number) =>
    JSON.stringify(
      Array.from({ length: BATCH }, (_, i) => ({
        jsonrpc: "2.0",
        id: first + i,
        method: "tools/call",
        params: { name: "admin_report" },
      })),
    );

  it("past max_list_size unsent, a denied POST gets 403, nothing more is queued, and the stream goes on", async () => {
    const base = `http://127.0.0.1:${stack.ports[0]}`;
    const cookie = await bob.jar.getCookieString(`${base}/sse`);
    const stream = await new Promise<IncomingMessage>((resolve, reject) =>
      get(`${base}/sse`, { headers: { cookie, accept: "text/event-stream" } }, resolve).on("error", reject),
    );
    const events: EventSourceMessage[] = [];
    const ids: number[] = []; // of the error events, in order
    let seen: (() => void) | undefined;
    const parser = createParser({
      onEvent: (event) => {
        events.push(event);
        if (event.event === "message") ids.push((JSON.parse(event.data) as { id: number }).id);
        seen?.();
      },
    });
    stream.setEncoding("utf8").on("data", (text: string) => parser.feed(text));
    const next = (until: () => boolean) =>
      new Promise<void>((resolve) => {
        seen = () => until() && resolve();
        seen();
      });
    await next(() => events.some((event) => event.event === "endpoint"));
    const address = (events.find((event) => event.event === "endpoint") as EventSourceMessage).data;
    // From here on the client reads nothing: the socket fills, then the proxy's buffer does.
    stream.pause();
    const deny = (first: number) =>
      bob.fetch(`${base}${address}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: deniedBatch(first),
      });
    const accepted: number[] = [];
    let refused: { status: number; body: string } | undefined;
    // Bounded: the sockets' buffers take a few MB (measured: ~4.5), 64 KB more and the proxy refuses.
    for (let post = 0; post < 1000 && !refused; post++) {
      const answer = await deny(post * 100);
      const body = await answer.text();
      if (answer.status === 202) accepted.push(post * 100);
      else refused = { status: answer.status, body };
    }
    assert.ok(refused, "a denial was refused once the stream's client stopped reading");
    assert.equal(refused.status, 403);
    // The 403 carries the errors as body, as where no stream is relayed (decision 049).
    const [first] = JSON.parse(refused.body) as { error: { code: number } }[];
    assert.equal(first?.error.code, -32003);
    for (let post = 1000; post < 1003; post++) {
      const answer = await deny(post * 100);
      await answer.arrayBuffer();
      assert.equal(answer.status, 403, "still refused: nothing more is queued");
    }
    // Reading again: every accepted denial arrives, none of the refused ones; then it goes on.
    stream.resume();
    await next(() => ids.length >= accepted.length * BATCH);
    assert.deepEqual(
      ids,
      accepted.flatMap((first) => Array.from({ length: BATCH }, (_, i) => first + i)),
    );
    const again = await deny(5000);
    await again.arrayBuffer();
    assert.equal(again.status, 202, "room again once the client read");
    await next(() => ids.at(-1) === 5000 + BATCH - 1);
    stream.destroy();
    assert.equal(stack.mcp.toolCalls.get("admin_report") ?? 0, 0, "no denied call ran");
  });
});

/** A denied call's error, which a legacy client gets at once: the JSON-RPC error itself. */
function assertPolicyDenied(error: unknown): true {
  assert.ok(error instanceof McpError, String(error));
  assert.equal(error.code, -32003);
  assert.match(error.message, /Forbidden: no rule grants the tool "admin_report"/);
  return true;
}

/**
 * The SDK's HTTP+SSE client at `sse`: admin_report is denied at once with the policy's error,
 * and echo works after it. A timeout far beyond the test's: a denial the client never read
 * would end in that timeout's error (-32001), never in the policy's.
 */
async function assertLegacyDenial(sse: string, fetchWith?: typeof fetch): Promise<void> {
  const client = new Client({ name: "legacy-test", version: "1.0.0" });
  await client.connect(new SSEClientTransport(new URL(sse), fetchWith ? { fetch: fetchWith } : {}));
  try {
    const waitLong = { timeout: 600_000 };
    await assert.rejects(
      client.callTool({ name: "admin_report", arguments: {} }, undefined, waitLong),
      assertPolicyDenied,
    );
    const echo = await client.callTool({ name: "echo", arguments: { text: "still here" } }, undefined, waitLong);
    assert.deepEqual(echo.content, [{ type: "text", text: "still here" }]);
  } finally {
    await client.close();
  }
}

describe("MCP policy over HTTP+SSE without a session binding (bypass mode, one endpoint)", () => {
  let mcp: DemoMcpServer;
  let bypass: BypassProxy;

  before(async () => {
    mcp = await startDemoMcpServer();
    bypass = await startBypassProxy(demoRules(), mcp.url);
  });
  after(async () => {
    await bypass?.close();
    await mcp?.close();
  });

  it("a denied call fails at once all the same: the client's POST accepts no event stream", async () => {
    await assertLegacyDenial(`${bypass.proxy.url}/sse`);
  });

  it("the Python SDK's HTTP+SSE client gets the denial at once too, and its session goes on", async () => {
    const python = spawn(PYTHON, [path.resolve(import.meta.dirname, "../support/python_sse_denied_call.py")], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { PATH: "", SSE_URL: `${bypass.proxy.url}/sse` },
    });
    const lines: string[] = [];
    for await (const line of createInterface({ input: python.stdout as Readable })) lines.push(line);
    const [denied, echo] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(denied?.code, -32003, lines.join("\n"));
    assert.match(String(denied?.message), /Forbidden: no rule grants the tool "admin_report"/);
    assert.deepEqual(echo, { text: "still here" });
  });
});

describe("MCP policy over HTTP+SSE: the POST reaches another replica than the stream (Redis)", () => {
  let redis: RedisStack;
  const bob = new TestBrowser();

  before(async () => {
    const configFile = path.join(mkdtempSync(path.join(tmpdir(), "mcp-policy-replicas-")), "config.yaml");
    writeFileSync(configFile, demoRules());
    redis = await startStackWithRedis({ proxies: 2, configFile });
    // Signed in once: the session is in Redis, and the browser's cookie goes to both (cookies ignore ports).
    assert.equal((await bob.signIn(`http://127.0.0.1:${redis.stack.ports[0]}/`, "bob")).status, 200);
  });
  after(() => redis?.close());

  it("the denial is a 403 with the JSON-RPC error as body: the client's send fails at once", async () => {
    const [first, second] = redis.stack.ports.map((port) => `http://127.0.0.1:${port}`);
    const stream = new AbortController();
    const sse = await bob.fetch(`${first}/sse`, { headers: { accept: "text/event-stream" }, signal: stream.signal });
    try {
      const address = await endpointAddress(sse);
      const denied = await bob.fetch(`${second}${address}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "admin_report" } }),
      });
      assert.equal(denied.status, 403);
      const body = (await denied.json()) as { id: number; error: { code: number } };
      assert.equal(body.id, 5);
      assert.equal(body.error.code, -32003);
    } finally {
      stream.abort();
    }
  });
});

/** The address of an HTTP+SSE stream's `endpoint` event (the stream stays open). */
async function endpointAddress(response: Response): Promise<string> {
  const events = await readEvents(response, (event) => event.event === "endpoint");
  return (events.find((event) => event.event === "endpoint") as EventSourceMessage).data;
}

describe("MCP policy on GET streams: the Python SDK's HTTP+SSE server (CRLF-framed events)", () => {
  let stack: Stack;
  let python: ChildProcess;
  let dir: string;
  const alice = new TestBrowser();
  const bob = new TestBrowser();

  before(async () => {
    python = spawn(PYTHON, [path.resolve(import.meta.dirname, "../support/python_sse_server.py")], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { PATH: "" },
    });
    const [port] = (await once(createInterface({ input: python.stdout as Readable }), "line")) as [string];
    dir = mkdtempSync(path.join(tmpdir(), "mcp-policy-streams-py-"));
    const configFile = path.join(dir, "config.yaml");
    writeFileSync(
      configFile,
      "mcp_policy:\n  rules:\n    - name: admins-only\n      tools: [secret]\n      groups: [admins]\n",
    );
    stack = await startStack({ configFile, env: { MCP_TARGET_URL: `http://127.0.0.1:${port}` } });
    const base = `http://127.0.0.1:${stack.ports[0]}/`;
    await alice.signIn(base, "alice");
    await bob.signIn(base, "bob");
  });
  after(async () => {
    await stack?.close();
    python?.kill();
    if (python) await once(python, "exit");
    rmSync(dir, { recursive: true, force: true });
  });

  it("bob (not an admin) does not see the admins' tool listed on the stream; alice does", async () => {
    const sse = `http://127.0.0.1:${stack.ports[0]}/sse`;
    assert.deepEqual(await listOverSse(sse, bob), []);
    assert.deepEqual(await listOverSse(sse, alice), ["secret"]);
  });
});

/** The events of an SSE body, read until `until` holds for one (then the body is cancelled). */
async function readEvents(
  response: Response,
  until: (event: EventSourceMessage) => boolean,
): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  let done = false;
  const parser = createParser({
    onEvent: (event) => {
      events.push(event);
      if (until(event)) done = true;
    },
  });
  const decoder = new TextDecoder();
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  while (!done) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  await reader.cancel();
  return events;
}

const hasResult = (event: EventSourceMessage) => event.data.includes('"result"');

describe("MCP policy on GET streams: a Streamable HTTP stream resumed with Last-Event-ID (everything server)", () => {
  let everything: Everything;
  let bypass: BypassProxy;
  let proxy: RunningProxy;

  before(async () => {
    everything = await startEverything();
    bypass = await startBypassProxy(
      "mcp_policy:\n  rules:\n    - name: echo-only\n      tools: [echo]\n",
      everything.origin,
    );
    proxy = bypass.proxy;
  });
  after(async () => {
    await bypass?.close();
    await stopEverything(everything);
  });

  it("a tools/list answer replayed on the resumed GET holds only what the caller may use, its event id kept", async () => {
    const url = `${proxy.url}/mcp`;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-11-25",
    };
    const send = (body: unknown) => fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
    const initialize = await send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "resume-test", version: "1" } },
    });
    headers["mcp-session-id"] = initialize.headers.get("mcp-session-id") ?? "";
    await readEvents(initialize, hasResult);
    await (await send({ jsonrpc: "2.0", method: "notifications/initialized" })).arrayBuffer();
    // The POST's stream opens with a priming event (an id, no data): what a client resumes from.
    const listed = await readEvents(await send({ jsonrpc: "2.0", id: 2, method: "tools/list" }), hasResult);
    const priming = listed[0]?.id;
    assert.ok(priming, "the server primes its stream with an event id");
    assert.deepEqual(
      (JSON.parse(listed.find(hasResult)?.data ?? "{}") as { result: { tools: { name: string }[] } }).result.tools.map(
        (t) => t.name,
      ),
      ["echo"],
      "the POST's answer is filtered (as before)",
    );
    const resumed = await fetch(url, {
      headers: { ...headers, accept: "text/event-stream", "last-event-id": priming },
    });
    assert.equal(resumed.status, 200);
    const replayed = (await readEvents(resumed, hasResult)).find(hasResult);
    assert.ok(replayed, "the server replayed the tools/list answer");
    const message = JSON.parse(replayed.data) as { id: number; result: { tools: { name: string }[] } };
    assert.equal(message.id, 2);
    assert.deepEqual(
      message.result.tools.map((t) => t.name),
      ["echo"],
    );
    assert.equal(replayed.id, listed.find(hasResult)?.id, "the replayed event keeps its id");
  });
});

describe("MCP policy on GET streams: a server that compresses its event stream anyway", () => {
  let upstream: Server;
  let proxy: RunningProxy;
  let dir: string;
  const seen: (string | undefined)[] = [];

  before(async () => {
    // As a server behind compression middleware that ignores Accept-Encoding would answer.
    upstream = createServer((req, res) => {
      if (req.url === "/sse") seen.push(req.headers["accept-encoding"]);
      res.writeHead(200, { "content-type": "text/event-stream", "content-encoding": "gzip" });
      const list = { jsonrpc: "2.0", id: 1, result: { tools: [{ name: "echo" }, { name: "admin_report" }] } };
      res.end(gzipSync(`event: message\ndata: ${JSON.stringify(list)}\n\n`));
    });
    upstream.listen(0, "127.0.0.1");
    await once(upstream, "listening");
    dir = mkdtempSync(path.join(tmpdir(), "mcp-policy-gzip-"));
    const file = path.join(dir, "config.yaml");
    writeFileSync(file, "mcp_policy:\n  rules:\n    - name: echo-only\n      tools: [echo]\n");
    const { config } = loadConfig({
      file,
      env: {
        AUTH_MODE: "bypass",
        MCP_HOST: "127.0.0.1",
        MCP_PORT: String(await freePort()),
        MCP_TARGET_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        LOG_LEVEL: "error",
      },
    });
    proxy = await startProxy(config);
  });
  after(async () => {
    await proxy?.shutdown();
    upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a compressed GET stream is asked for uncompressed and, sent compressed all the same, cut: never relayed unfiltered", async () => {
    const response = await fetch(`${proxy.url}/sse`, {
      headers: { accept: "text/event-stream", "accept-encoding": "gzip" },
    });
    await assert.rejects(response.arrayBuffer(), "the stream is cut, not ended as if whole");
    assert.deepEqual(seen, [undefined], "the proxy asked for an uncompressed stream");
  });
});
