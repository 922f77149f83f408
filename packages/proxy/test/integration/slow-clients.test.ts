// Clients that send slowly or hold back their body: slow headers and slow bodies are cut
// after the configured timeouts (raw sockets trickling, as a slowloris would), a refused
// request's body is never read (the connection closes), event streams are not cut, and
// "Expect: 100-continue" uploads (curl over 1 MB) are answered 100 Continue after
// authentication and forwarded without the Expect header. A fetch client whose body pauses
// gets only its final answer (no interim one: undici refuses those it did not ask for).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { TestBrowser } from "../support/browser.ts";
import { type BypassProxy, startBypassProxy } from "../support/bypass-proxy.ts";
import { type Stack, startStack } from "../support/stack.ts";

/** Opens a raw connection, writes `first`, then `trickle` one byte at a time until the server closes; resolves with all it answered. */
function rawExchange(port: number, first: string, trickle = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let answer = "";
    let sent = 0;
    const dribble = setInterval(() => {
      if (sent < trickle.length && socket.writable) socket.write(trickle[sent++] as string);
    }, 100);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      answer += chunk;
    });
    socket.once("error", reject);
    socket.once("close", () => {
      clearInterval(dribble);
      resolve(answer);
    });
    socket.write(first);
  });
}

/** An MCP initialize of `size` bytes (a long client name): a real request, just big. */
function bigInitialize(size: number): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "x".repeat(size), version: "1" },
    },
  });
}

describe("slow and holding-back clients", () => {
  let stack: Stack;
  let port: number;
  let url: string;
  let cookie: string;
  const alice = new TestBrowser();

  before(async () => {
    stack = await startStack({
      env: {
        MCP_HEADERS_TIMEOUT: "1s",
        MCP_REQUEST_TIMEOUT: "1s",
        // Longer than the request timeout: a stream that sees a ping outlived it.
        MCP_SSE_KEEPALIVE_INTERVAL: "2s",
      },
    });
    port = stack.ports[0] as number;
    url = `http://127.0.0.1:${port}`;
    assert.equal((await alice.signIn(`${url}/`, "alice")).status, 200);
    cookie = await alice.jar.getCookieString(url);
  });
  after(() => stack.close());

  it("cuts a client that trickles its headers (server.headers_timeout)", async () => {
    const answer = await rawExchange(
      port,
      "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n",
      "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    );
    assert.match(answer, /^HTTP\/1\.1 408 /);
  });

  it("cuts a signed-in client that trickles its body (server.request_timeout)", async () => {
    const body = bigInitialize(200);
    const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\n\r\n`;
    const answer = await rawExchange(port, head + body.slice(0, 10), body.slice(10));
    assert.match(answer, /^HTTP\/1\.1 408 /);
  });

  it("answers 401 to an anonymous upload without reading its body, and closes the connection", async () => {
    const head =
      "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{";
    // Never finishes the body: resolves only because the proxy closes the connection.
    const answer = await rawExchange(port, head, "x".repeat(1000));
    assert.match(answer, /^HTTP\/1\.1 401 /);
    assert.match(answer, /\r\nconnection: close\r\n/i);
  });

  it("does not cut an event stream that outlives the request timeout", async () => {
    const response = await alice.fetch(`${url}/sse`, { headers: { accept: "text/event-stream" } });
    assert.equal(response.status, 200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let seen = "";
    while (!seen.includes(": ping")) {
      const { value, done } = await reader.read();
      assert.equal(done, false, `the stream ended early: ${seen}`);
      seen += Buffer.from(value as Uint8Array).toString();
    }
    await reader.cancel();
  });

  it("answers Expect: 100-continue after authentication and forwards the upload without Expect", async () => {
    const body = bigInitialize(1_200_000);
    const send = (headers: Record<string, string>) =>
      new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
        let continued = false;
        const req = http.request(`${url}/mcp`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "content-length": String(Buffer.byteLength(body)),
            expect: "100-continue",
            ...headers,
          },
        });
        req.once("continue", () => {
          continued = true;
          req.end(body);
        });
        req.once("response", (res) => {
          res.resume();
          res.once("end", () => resolve({ status: res.statusCode ?? 0, continued }));
        });
        req.once("error", reject);
        req.flushHeaders();
      });
    assert.deepEqual(await send({}), { status: 401, continued: false }, "no 100 Continue before authentication");
    const before = stack.mcp.requests.length;
    assert.deepEqual(await send({ cookie }), { status: 200, continued: true });
    const forwarded = stack.mcp.requests.slice(before).find((r) => r.method === "POST");
    assert.ok(forwarded, "the upload reached the MCP server");
    assert.equal(forwarded.headers.expect, undefined);
  });

  it("lets curl upload over 1 MB (curl sends Expect: 100-continue)", async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-upload-"));
    const file = path.join(dir, "initialize.json");
    writeFileSync(file, bigInitialize(1_200_000));
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)("curl", [
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        `Cookie: ${cookie}`,
        "-H",
        "Content-Type: application/json",
        "-H",
        "Accept: application/json, text/event-stream",
        "--data-binary",
        `@${file}`,
        `${url}/mcp`,
      ]));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return t.skip("curl is not installed");
      throw error;
    }
    assert.equal(stdout, "200");
  });
});

describe("a Node fetch client whose streamed body pauses", () => {
  let upstream: http.Server;
  let bypass: BypassProxy;

  before(async () => {
    // An MCP server that reads every body and says how many bytes it got.
    upstream = http.createServer((req, res) => {
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
      });
      req.on("end", () => res.end(JSON.stringify({ size })));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    bypass = await startBypassProxy("", `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`);
  });
  after(async () => {
    await bypass.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  // undici destroys the connection on a 1xx it did not ask for ("bad response"): nothing but
  // the final answer may reach it, however long its body stands still (decision 030).
  it("gets its answer after the pause, no interim answer in between", async () => {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode('{"jsonrpc":"2.0",'));
        // The client's own pause (a body produced as it goes).
        await new Promise((resolve) => setTimeout(resolve, 2500));
        controller.enqueue(encoder.encode('"id":1,"method":"ping"}'));
        controller.close();
      },
    });
    const response = await fetch(bypass.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), '{"size":40}');
  });
});
