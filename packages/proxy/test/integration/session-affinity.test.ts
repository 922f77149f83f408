// Stateful MCP servers with several replicas (issue 13): three real "everything" servers (each
// keeps its sessions in memory) behind two proxy replicas that share a real redis-server,
// reached through a round-robin balancer, so consecutive requests of one session land on
// different proxies. Without pinning, a naive balancer breaks the session at once; with it,
// every request of a session reaches the endpoint that opened it, a cut stream resumes
// through the other replica, and a killed endpoint's sessions get 404 and start again. Then a
// DNS name (a headless Service) whose answer changes, through a stand-in resolver.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { type RunningProxy, startProxy } from "../../src/proxy-server.ts";
import { TestBrowser } from "../support/browser.ts";
import { type Everything, startEverything, stopEverything } from "../support/everything-process.ts";
import { freePort, startRedis, type TestRedis } from "../support/redis-server.ts";
import { type RoundRobin, startRoundRobin } from "../support/round-robin.ts";
import { connectMcpClient, type Stack, startStack } from "../support/stack.ts";

const LONG_RUNNING = "trigger-long-running-operation";

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: "affinity-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", url)));
  return client;
}

/** One tools/call with streamed progress; resolves with the progress steps seen. */
async function longRunning(client: Client, steps = 2): Promise<number> {
  let progress = 0;
  const result = await client.callTool({ name: LONG_RUNNING, arguments: { duration: 0.01, steps } }, undefined, {
    onprogress: () => {
      progress++;
    },
  });
  assert.equal(result.isError, undefined, JSON.stringify(result));
  return progress;
}

/** The value of a metric series on a proxy's /metrics, by its full label text. */
async function metric(proxy: RunningProxy, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Sessions each endpoint holds, summed over the proxies. */
async function pinnedSessions(proxies: RunningProxy[], endpoints: string[]): Promise<number[]> {
  const counts: number[] = [];
  for (const endpoint of endpoints) {
    let sum = 0;
    for (const proxy of proxies)
      sum += (await metric(proxy, `mcp_proxy_upstream_sessions{endpoint="${endpoint}"}`)) ?? 0;
    counts.push(sum);
  }
  return counts;
}

const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

/** Reads an event stream until `stop` says so (then lets go of it, unless `keep`); returns the events read. */
async function readEvents(
  response: Response,
  stop: (event: EventSourceMessage) => boolean,
  keep?: (reader: ReadableStreamDefaultReader<Uint8Array>) => void,
): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  let done = false;
  const parser = createParser({
    onEvent: (event) => {
      if (done) return;
      events.push(event);
      done = stop(event);
    },
  });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  while (!done) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  if (keep) keep(reader);
  else await reader.cancel();
  return events;
}

/** initialize + notifications/initialized through `url`; the session's request headers. */
async function openSession(url: string): Promise<Record<string, string>> {
  const initialize = await fetch(`${url}/mcp`, {
    method: "POST",
    headers: MCP_HEADERS,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "resume", version: "1" } },
    }),
  });
  const sessionId = initialize.headers.get("mcp-session-id") as string;
  await initialize.text();
  assert.ok(sessionId);
  const session = { ...MCP_HEADERS, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" };
  const initialized = await fetch(`${url}/mcp`, {
    method: "POST",
    headers: session,
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  assert.equal(initialized.status, 202);
  return session;
}

/** A tools/call with three progress steps, answered as an event stream. */
function streamedCall(url: string, session: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/mcp`, {
    method: "POST",
    headers: session,
    ...(signal ? { signal } : {}),
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: LONG_RUNNING, arguments: { duration: 0.6, steps: 3 }, _meta: { progressToken: "p" } },
    }),
  });
}

const isProgress = (event: EventSourceMessage) => event.id !== undefined && event.data.includes("progress");

/** GET with Last-Event-ID through `url`: the rest of the call's stream, checked. */
async function resume(url: string, session: Record<string, string>, lastEventId: string): Promise<void> {
  const resumed = await fetch(`${url}/mcp`, {
    headers: {
      accept: "text/event-stream",
      "mcp-session-id": session["mcp-session-id"] as string,
      "mcp-protocol-version": "2025-06-18",
      "last-event-id": lastEventId,
    },
  });
  assert.equal(resumed.status, 200);
  const rest = await readEvents(resumed, (event) => event.data.includes('"id":2'));
  const messages = rest.filter((e) => e.data !== "").map((e) => JSON.parse(e.data) as Record<string, unknown>);
  const progress = messages.filter((m) => m.method === "notifications/progress");
  assert.deepEqual(
    progress.map((m) => (m.params as { progress: number }).progress),
    [2, 3],
    "the steps after the first arrive once",
  );
  assert.ok(
    messages.some((m) => m.id === 2 && m.result !== undefined),
    "and the result",
  );
}

describe("session affinity: stateful MCP servers with several replicas", () => {
  let redis: TestRedis;
  let servers: Everything[];
  const proxies: RunningProxy[] = [];
  const configs: Config[] = [];
  let balancer: RoundRobin;
  let dir: string;

  before(async () => {
    redis = await startRedis();
    servers = await Promise.all([startEverything(), startEverything(), startEverything()]);
    dir = mkdtempSync(path.join(tmpdir(), "mcp-affinity-"));
    const file = path.join(dir, "config.yaml");
    // Probes often, so a killed endpoint is noticed within the test.
    writeFileSync(file, "target:\n  health_interval: 100ms\n");
    const ports = [await freePort(), await freePort()];
    for (const port of ports) {
      const { config } = loadConfig({
        file,
        env: {
          MCP_HOST: "127.0.0.1",
          MCP_PORT: String(port),
          MCP_TARGET_URLS: servers.map((s) => s.origin).join(","),
          AUTH_MODE: "bypass",
          SESSION_STORE: "redis",
          REDIS_URL: redis.url,
          SESSION_SECRET: "affinity-test-session-secret-0123456789",
          LOG_LEVEL: "error",
        },
      });
      configs.push(config);
      proxies.push(await startProxy(config));
    }
    balancer = await startRoundRobin(0, () => proxies.map((p) => p.url));
  });

  after(async () => {
    await balancer?.close();
    for (const proxy of proxies) await proxy.shutdown();
    for (const server of servers ?? []) await stopEverything(server);
    await redis?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a naive round robin over the replicas breaks the session (the failure pinning fixes)", async () => {
    const naive = await startRoundRobin(0, () => servers.map((s) => s.origin));
    try {
      await assert.rejects(async () => {
        const client = await connect(naive.url);
        try {
          for (let i = 0; i < 50; i++) await longRunning(client);
        } finally {
          await client.close();
        }
      });
    } finally {
      await naive.close();
    }
  });

  it("an SDK client's session of 50 calls with streamed progress succeeds through both proxies", async () => {
    const client = await connect(balancer.url);
    try {
      for (let i = 0; i < 50; i++) assert.equal(await longRunning(client), 2, `call ${i}`);
    } finally {
      await client.close();
    }
    const used = new Set(balancer.log.map(([index]) => index));
    assert.deepEqual([...used].sort(), [0, 1], "both proxy replicas carried the session");
  });

  it("sessions opened without one are spread over the endpoints", async () => {
    const endpoints = servers.map((s) => `${s.origin}/`);
    const before = await pinnedSessions(proxies, endpoints);
    const clients = [];
    for (let i = 0; i < 6; i++) clients.push(await connect(balancer.url));
    const now = await pinnedSessions(proxies, endpoints);
    for (const client of clients) await client.close();
    const opened = now.map((count, i) => count - (before[i] as number));
    assert.equal(
      opened.reduce((a, b) => a + b, 0),
      6,
    );
    assert.ok(
      opened.every((count) => count > 0),
      `every endpoint got sessions: ${opened}`,
    );
  });

  it("a stream cut on one proxy replica resumes with Last-Event-ID through the other", async () => {
    const [first, second] = proxies as [RunningProxy, RunningProxy];
    const session = await openSession(first.url);
    const abort = new AbortController();
    const call = await streamedCall(first.url, session, abort.signal);
    assert.equal(call.headers.get("content-type"), "text/event-stream");
    const [firstEvent] = await readEvents(call, isProgress);
    abort.abort();
    assert.ok(firstEvent?.id, "the stream's events carry ids");
    await resume(second.url, session, firstEvent.id);
  });

  it("a stream cut by a proxy restart resumes with Last-Event-ID on the restarted replica", async () => {
    const session = await openSession((proxies[1] as RunningProxy).url);
    const call = await streamedCall((proxies[0] as RunningProxy).url, session);
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    const [firstEvent] = await readEvents(call, isProgress, (r) => {
      reader = r;
    });
    assert.ok(firstEvent?.id);
    // The restart ends the stream cleanly; nothing of the session is left in the new process.
    await (proxies[0] as RunningProxy).shutdown();
    for (;;) if ((await (reader as ReadableStreamDefaultReader<Uint8Array>).read()).done) break;
    proxies[0] = await startProxy(configs[0] as Config);
    await resume((proxies[0] as RunningProxy).url, session, firstEvent.id);
  });

  it("an endpoint killed: its session gets 404 and the client initializes again on a live one", async () => {
    const endpoints = servers.map((s) => `${s.origin}/`);
    const before = await pinnedSessions(proxies, endpoints);
    const client = await connect(balancer.url);
    assert.equal(await longRunning(client), 2);
    const now = await pinnedSessions(proxies, endpoints);
    const owner = now.findIndex((count, i) => count > (before[i] as number));
    assert.ok(owner >= 0, "the session is pinned to one endpoint");
    await stopEverything(servers[owner] as Everything);

    await assert.rejects(longRunning(client), /404|Session not found/);
    await client.close();
    // Both replicas learn from their probes that the endpoint is down (event: the gauge turns 0).
    for (const proxy of proxies) {
      for (let attempt = 0; ; attempt++) {
        if ((await metric(proxy, `mcp_proxy_backend_endpoint_up{endpoint="${endpoints[owner]}"}`)) === 0) break;
        assert.ok(attempt < 200, "the probe noticed the killed endpoint");
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
    assert.equal(await metric(proxies[0] as RunningProxy, "mcp_proxy_backend_up"), 1, "the others are up");
    const again = await connect(balancer.url);
    try {
      for (let i = 0; i < 10; i++) assert.equal(await longRunning(again), 2);
    } finally {
      await again.close();
    }
  });
});

describe("session affinity with discovery dns: the name resolved again (a stand-in resolver)", () => {
  let servers: Everything[];
  let proxy: RunningProxy;
  let answer = ["127.0.0.1"];
  let resolved: () => void = () => {};
  const nextResolution = () => new Promise<void>((resolve) => (resolved = resolve));
  let port: string;

  before(async () => {
    // Two "pods" of one name: the same port on two loopback addresses.
    const first = await startEverything();
    port = new URL(first.origin).port;
    servers = [first, await startEverything(["127.0.0.2", port])];
    const { config } = loadConfig({
      env: {
        MCP_HOST: "127.0.0.1",
        MCP_PORT: "0",
        MCP_TARGET_URL: `http://mcp.tools.svc:${port}`,
        MCP_TARGET_DISCOVERY: "dns",
        MCP_TARGET_DNS_REFRESH_INTERVAL: "50ms",
        AUTH_MODE: "bypass",
        LOG_LEVEL: "error",
      },
    });
    proxy = await startProxy(config, {
      resolve: async (host) => {
        assert.equal(host, "mcp.tools.svc");
        const addresses = answer;
        queueMicrotask(resolved);
        return addresses;
      },
    });
  });

  after(async () => {
    await proxy?.shutdown();
    for (const server of servers ?? []) await stopEverything(server);
  });

  it("a pod that left the DNS answer: its session gets 404, a new one lands on the pod that joined", async () => {
    const client = await connect(proxy.url);
    assert.equal(await longRunning(client), 2);
    assert.equal(await metric(proxy, `mcp_proxy_upstream_sessions{endpoint="http://127.0.0.1:${port}/"}`), 1);

    answer = ["127.0.0.2"];
    // Two lookups after the change: the first one's new endpoints are in place by the second.
    await nextResolution();
    await nextResolution();
    await assert.rejects(longRunning(client), /404|Session not found/);
    await client.close();

    const again = await connect(proxy.url);
    try {
      assert.equal(await longRunning(again), 2);
    } finally {
      await again.close();
    }
    assert.equal(await metric(proxy, `mcp_proxy_upstream_sessions{endpoint="http://127.0.0.2:${port}/"}`), 1);
    assert.equal(await metric(proxy, `mcp_proxy_backend_endpoint_up{endpoint="http://127.0.0.1:${port}/"}`), undefined);
  });
});

describe("session affinity for signed-in users (auth.mode oidc): the pin and the user binding together", () => {
  let redis: TestRedis;
  let servers: Everything[];
  let stack: Stack;
  let balancer: RoundRobin;
  const alice = new TestBrowser();
  const carol = new TestBrowser();

  before(async () => {
    redis = await startRedis();
    servers = await Promise.all([startEverything(), startEverything()]);
    const port = await freePort();
    stack = await startStack({
      proxies: 2,
      publicUrl: `http://127.0.0.1:${port}`,
      env: {
        MCP_TARGET_URL: "",
        MCP_TARGET_URLS: servers.map((s) => s.origin).join(","),
        SESSION_STORE: "redis",
        REDIS_URL: redis.url,
      },
    });
    balancer = await startRoundRobin(port, () => stack.ports.map((p) => `http://127.0.0.1:${p}`));
    // The sign-in ends on the MCP server's "/" (404 from the everything server): what counts is the session.
    for (const [browser, user] of [
      [alice, "alice"],
      [carol, "carol"],
    ] as const) {
      await browser.signIn(`${balancer.url}/`, user);
      assert.equal((await browser.fetch(`${balancer.url}/api/v1/session`)).status, 200, `${user} is signed in`);
    }
  });

  after(async () => {
    await balancer?.close();
    await stack?.close();
    for (const server of servers ?? []) await stopEverything(server);
    await redis?.close();
  });

  it("alice's session of 20 calls reaches its endpoint through both proxies; carol gets 404 for it", async () => {
    const { client, transport } = await connectMcpClient(`${balancer.url}/mcp`, alice.fetch);
    try {
      for (let i = 0; i < 20; i++) assert.equal(await longRunning(client), 2, `call ${i}`);
      const stolen = await fetch(`${balancer.url}/mcp`, {
        method: "POST",
        headers: {
          ...MCP_HEADERS,
          cookie: await carol.jar.getCookieString(balancer.url),
          "mcp-session-id": transport.sessionId as string,
          "mcp-protocol-version": "2025-06-18",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
      });
      assert.equal(stolen.status, 404);
      assert.equal(await longRunning(client), 2, "alice's session lives on");
    } finally {
      await client.close();
    }
  });
});

describe("session affinity: an endpoint that refuses connections before its probe says so", () => {
  let server: Everything;
  let gone: http.Server;
  let proxy: RunningProxy;
  let redis: TestRedis;

  before(async () => {
    redis = await startRedis();
    server = await startEverything();
    // Answers the probe (any status is an answer), then goes away: its port refuses connections.
    gone = http.createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((resolve) => gone.listen(0, "127.0.0.1", resolve));
    const goneOrigin = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
    const port = await freePort();
    const { config } = loadConfig({
      env: {
        MCP_HOST: "127.0.0.1",
        MCP_PORT: String(port),
        // The one that goes away first: the first request without a session is sent to it.
        MCP_TARGET_URLS: `${goneOrigin},${server.origin}`,
        AUTH_MODE: "bypass",
        SESSION_STORE: "redis",
        REDIS_URL: redis.url,
        SESSION_SECRET: "affinity-test-session-secret-0123456789",
        LOG_LEVEL: "error",
      },
    });
    proxy = await startProxy(config);
    const up = `mcp_proxy_backend_endpoint_up{endpoint="${goneOrigin}/"}`;
    for (let attempt = 0; (await metric(proxy, up)) !== 1; attempt++) {
      assert.ok(attempt < 200, "the first probe answered");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    gone.closeAllConnections();
    await new Promise((resolve) => gone.close(resolve));
  });

  after(async () => {
    await proxy?.shutdown();
    await stopEverything(server);
    await redis?.close();
  });

  it("sends a request without a session to another endpoint, and pins the session it opens there", async () => {
    for (let i = 0; i < 3; i++) {
      // openSession asserts the initialize got a session id and the next request, sent with
      // it, reached the endpoint that holds the session (202).
      const session = await openSession(proxy.url);
      const listed = await fetch(`${proxy.url}/mcp`, {
        method: "POST",
        headers: session,
        body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list" }),
      });
      assert.equal(listed.status, 200);
      await listed.text();
    }
  });
});
