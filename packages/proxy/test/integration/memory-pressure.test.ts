// Near its memory limit the proxy refuses new event streams with 503 + Retry-After instead of
// taking them until V8 runs out of heap (which ends every open stream with the process), while
// plain requests keep answering (WebSocket upgrades are refused alike); with the memory back,
// streams open again. Against a real
// proxy process whose heap is small (as the image's entrypoint sizes it) and filled on demand.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { createInterface, type Interface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { websocketHandshake } from "../support/websocket-handshake.ts";

const BALLAST_PROXY = path.join(import.meta.dirname, "../support/heap-ballast-proxy.ts");

/** An MCP server stand-in: GET answers an event stream that stays open, POST a JSON answer. */
async function startUpstream(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume();
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": open\n\n");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** Opens a GET event stream and gives its status (the stream is closed at once). */
async function streamStatus(base: string): Promise<{ status: number; retryAfter: string | null }> {
  const abort = new AbortController();
  const res = await fetch(`${base}/mcp`, { headers: { accept: "text/event-stream" }, signal: abort.signal });
  const answer = { status: res.status, retryAfter: res.headers.get("retry-after") };
  abort.abort();
  await res.body?.cancel().catch(() => {});
  return answer;
}

/** The first stream answer with `status`: the proxy's reading of its memory is up to 250 ms old. */
async function streamWithin(base: string, status: number): Promise<{ status: number; retryAfter: string | null }> {
  let answer = await streamStatus(base);
  for (let attempt = 0; attempt < 40 && answer.status !== status; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    answer = await streamStatus(base);
  }
  return answer;
}

describe("new event streams near the memory limit", () => {
  let upstream: http.Server;
  let child: ChildProcess;
  let lines: Interface;
  let base: string;
  const next = () =>
    new Promise<Record<string, unknown>>((resolve) => lines.once("line", (l) => resolve(JSON.parse(l))));
  const command = async (line: string) => {
    const answered = next();
    child.stdin?.write(`${line}\n`);
    return answered;
  };

  before(async () => {
    upstream = await startUpstream();
    const target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    child = spawn(
      process.execPath,
      ["--max-old-space-size=64", "--max-semi-space-size=1", "--expose-gc", BALLAST_PROXY, target],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    base = String((await next()).url);
  });
  after(async () => {
    child.stdin?.end();
    await new Promise((resolve) => child.once("exit", resolve));
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it("opens streams while there is room", async () => {
    assert.equal((await streamStatus(base)).status, 200);
  });

  it("refuses a new stream with 503 and Retry-After once the heap is nearly full; requests still answer", async () => {
    await command("fill");
    const refused = await streamWithin(base, 503);
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.retryAfter) > 0, `Retry-After: ${refused.retryAfter}`);
    // A WebSocket upgrade would hold an upstream socket as long: refused alike, before it is relayed.
    const upgrade = await websocketHandshake(`${base}/mcp`);
    assert.equal(upgrade.status, 503);
    assert.equal((JSON.parse(upgrade.body ?? "") as { error: { code: string } }).error.code, "PROXY_ERROR");
    const post = await fetch(`${base}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    assert.equal(post.status, 200);
    await post.text();
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^mcp_proxy_streams_shed_total [1-9]/m);
  });

  it("opens streams again once the memory is back", async () => {
    await command("release");
    const { status } = await streamWithin(base, 200);
    assert.equal(status, 200);
  });
});
