// Streams and transports through the proxy: events arrive before the upstream finishes,
// idle streams are kept alive, a departing client aborts the upstream request, the older
// HTTP+SSE transport and WebSocket upgrades pass, upstream failures become JSON errors.
// Authentication is off (bypass mode) here: these tests are about the pipe.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { type DemoMcpServer, startDemoMcpServer } from "../../dev/mcp-server.ts";
import { loadConfig } from "../../src/config/load.ts";
import { type RunningProxy, startProxy } from "../../src/proxy-server.ts";
import { connectMcpClient } from "../support/stack.ts";

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function bypassProxy(targetUrl: string, extra: Record<string, string> = {}): Promise<RunningProxy> {
  const { config } = loadConfig({
    env: {
      MCP_HOST: "127.0.0.1",
      MCP_PORT: "0",
      MCP_TARGET_URL: targetUrl,
      AUTH_MODE: "bypass",
      LOG_LEVEL: "error",
      ...extra,
    },
  });
  return startProxy(config);
}

describe("streaming through the proxy", () => {
  let mcp: DemoMcpServer;
  let proxy: RunningProxy;
  const gates = new Map<number, ReturnType<typeof deferred<void>>>();

  before(async () => {
    mcp = await startDemoMcpServer({
      // Step 2 of `count` waits until the test has seen step 1 arrive.
      stepGate: async (step) => {
        if (step === 1) await (gates.get(1) ?? deferred()).promise;
      },
    });
    proxy = await bypassProxy(mcp.url, { MCP_SSE_KEEPALIVE_INTERVAL: "1s" });
  });
  after(async () => {
    await proxy.shutdown();
    await mcp.close();
  });

  it("delivers an SSE event to the client before the upstream has finished the response", async () => {
    const gate = deferred();
    gates.set(1, gate);
    const { client } = await connectMcpClient(`${proxy.url}/mcp`, fetch);
    try {
      // The tool cannot finish until step 1 was received through the proxy: a buffering
      // proxy would hold step 1 back and this call would never return.
      const result = await client.callTool({ name: "count", arguments: { n: 2 } }, undefined, {
        onprogress: (p) => {
          if (p.progress === 1) gate.resolve();
        },
      });
      assert.deepEqual(result.content, [{ type: "text", text: "counted to 2" }]);
    } finally {
      gates.delete(1);
      await client.close();
    }
  });

  it("marks event streams unbuffered and pings them while idle", async () => {
    // An upstream that sends one event, then half of another, then falls silent.
    const quiet = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: first\n\n");
    });
    await new Promise<void>((resolve) => quiet.listen(0, "127.0.0.1", resolve));
    const quietProxy = await bypassProxy(`http://127.0.0.1:${(quiet.address() as { port: number }).port}`, {
      MCP_SSE_KEEPALIVE_INTERVAL: "1s",
    });
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${quietProxy.url}/mcp`, { headers: { accept: "text/event-stream" } }, resolve).on("error", reject);
    });
    try {
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers["content-type"]), /^text\/event-stream/);
      assert.equal(response.headers["x-accel-buffering"], "no");
      assert.match(String(response.headers["cache-control"]), /no-cache/);
      assert.equal(response.headers["content-encoding"], undefined);
      const received: string[] = [];
      await new Promise<void>((resolve) => {
        response.on("data", (chunk: Buffer) => {
          received.push(chunk.toString());
          if (chunk.toString().includes(": ping")) resolve();
        });
      });
      assert.deepEqual(received, ["data: first\n\n", ": ping\n\n"]);
    } finally {
      response.destroy();
      await quietProxy.shutdown();
      quiet.closeAllConnections();
      quiet.close();
    }
  });

  it("aborts the upstream request when the client goes away", async () => {
    const upstreamClosed = deferred();
    const slow = http.createServer((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: first\n\n");
      req.socket.once("close", () => upstreamClosed.resolve());
    });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    const slowProxy = await bypassProxy(`http://127.0.0.1:${(slow.address() as { port: number }).port}`);
    try {
      const request = http.get(`${slowProxy.url}/stream`);
      const response = await new Promise<http.IncomingMessage>((resolve) => request.once("response", resolve));
      await new Promise((resolve) => response.once("data", resolve));
      request.destroy();
      await upstreamClosed.promise; // would time the test out if the upstream request lived on
    } finally {
      await slowProxy.shutdown();
      slow.closeAllConnections();
      slow.close();
    }
  });

  it("carries the older HTTP+SSE transport", async () => {
    const client = new Client({ name: "legacy-client", version: "1.0.0" });
    await client.connect(new SSEClientTransport(new URL(`${proxy.url}/sse`)));
    try {
      const result = await client.callTool({ name: "echo", arguments: { text: "over legacy SSE" } });
      assert.deepEqual(result.content, [{ type: "text", text: "over legacy SSE" }]);
    } finally {
      await client.close();
    }
  });

  it("passes WebSocket upgrades with identity headers", async () => {
    const socket = await new Promise<import("node:net").Socket>((resolve, reject) => {
      const req = http.request(`${proxy.url}/ws`, {
        headers: { connection: "Upgrade", upgrade: "websocket", "x-user-id": "mallory" },
      });
      req.on("upgrade", (_res, sock) => resolve(sock));
      req.on("response", (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on("error", reject);
      req.end();
    });
    socket.write("hello through the proxy");
    const echoed = await new Promise<string>((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString())));
    socket.destroy();
    assert.equal(echoed, "hello through the proxy");
    const seen = mcp.requests.findLast((r) => r.method === "UPGRADE");
    assert.equal(seen?.headers["x-user-id"], "developer");
  });
});

describe("upstream failures", () => {
  it("answers 502 JSON while the MCP server is down, then opens the circuit (503)", async () => {
    const port = await import("../support/ports.ts").then((m) => m.freePort());
    const proxy = await bypassProxy(`http://127.0.0.1:${port}`);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const response = await fetch(`${proxy.url}/mcp`, { method: "POST", body: "{}" });
        const body = (await response.json()) as { error: { code: string } };
        assert.equal(body.error.code, "PROXY_ERROR");
        statuses.push(response.status);
      }
      // Five connection failures (the default threshold), then the breaker answers at once.
      assert.deepEqual(statuses, [502, 502, 502, 502, 502, 503]);
      const health = (await (await fetch(`${proxy.url}/health`)).json()) as { status: string; backend_status: string };
      assert.equal(health.backend_status, "unreachable");
      assert.equal(health.status, "degraded");
      const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
      assert.match(metrics, /^mcp_proxy_backend_up 0$/m);
      assert.match(metrics, /^mcp_proxy_requests_total\{method="POST",status="502"\} 5$/m);
    } finally {
      await proxy.shutdown();
    }
  });

  it("answers 504 JSON when the MCP server does not start answering in time", async () => {
    const silent = http.createServer(() => {
      // accepts the request and never answers
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const proxy = await bypassProxy(`http://127.0.0.1:${(silent.address() as { port: number }).port}`, {
      MCP_TARGET_RESPONSE_TIMEOUT: "1s",
    });
    try {
      const response = await fetch(`${proxy.url}/mcp`, { method: "POST", body: "{}" });
      assert.equal(response.status, 504);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, "PROXY_ERROR");
    } finally {
      await proxy.shutdown();
      silent.closeAllConnections();
      silent.close();
    }
  });

  it("serves /metrics on its own port when metrics.port is set", async () => {
    const mcp = await startDemoMcpServer();
    const metricsPort = await import("../support/ports.ts").then((m) => m.freePort());
    const proxy = await bypassProxy(mcp.url, { METRICS_PORT: String(metricsPort) });
    try {
      await (await fetch(`${proxy.url}/anything`)).body?.cancel();
      assert.equal(proxy.metricsUrl, `http://127.0.0.1:${metricsPort}/metrics`);
      const metrics = await (await fetch(proxy.metricsUrl ?? "")).text();
      assert.match(metrics, /^mcp_proxy_requests_total\{method="GET",status="404"\} 1$/m);
      const onMain = await fetch(`${proxy.url}/metrics`);
      assert.equal(onMain.status, 404, "not on the main port any more: the MCP server answers there");
      await onMain.body?.cancel();
    } finally {
      await proxy.shutdown();
      await mcp.close();
    }
  });

  it("reports a backend without a /health route as reachable", async () => {
    const mcp = await startDemoMcpServer();
    const proxy = await bypassProxy(mcp.url);
    try {
      let health: { status: string; backend_status: string; version: string; uptime: number };
      do {
        health = (await (await fetch(`${proxy.url}/health`)).json()) as typeof health;
      } while (health.backend_status === "unknown");
      assert.equal(health.backend_status, "reachable");
      assert.equal(health.status, "healthy");
      assert.match(health.version, /^\d+\.\d+\.\d+/);
      const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
      assert.match(metrics, /^mcp_proxy_backend_up 1$/m);
    } finally {
      await proxy.shutdown();
      await mcp.close();
    }
  });
});
