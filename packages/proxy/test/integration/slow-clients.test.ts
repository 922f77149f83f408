// Clients that send slowly or hold back their body: slow headers and slow bodies are cut
// after the configured timeouts (raw sockets trickling, as a slowloris would), a refused
// request's body is never read (the connection closes), event streams are not cut, and
// "Expect: 100-continue" uploads (curl over 1 MB) are answered 100 Continue after
// authentication and forwarded without the Expect header. A client that leaves in the middle
// of its body while the MCP server reads none of it: its request is ended upstream and logged
// 499, also when its close waits behind bytes the proxy holds back (found out by interim
// 100 Continue answers, docs/decisions/030); a client that stays gets its answer.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import http, { type IncomingMessage } from "node:http";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import winston from "winston";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { type RunningProxy, startProxy } from "../../src/proxy-server.ts";
import { TestBrowser } from "../support/browser.ts";
import { freePort } from "../support/ports.ts";
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

describe("a client that leaves in the middle of its body while the MCP server reads none of it", () => {
  let upstream: http.Server;
  /** Who waits for the next request to reach the MCP server (which never reads its body). */
  const arrived: ((req: IncomingMessage, res: http.ServerResponse) => void)[] = [];
  const lines: string[] = [];
  let prompt: RunningProxy;

  /** A bypass proxy whose lines go to `lines` (the access log says 499 for a client that left). */
  async function proxyFor(env: Record<string, string>): Promise<RunningProxy> {
    const logger = createLogger("info");
    logger.clear().add(
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk: Buffer, _encoding, done) {
            lines.push(chunk.toString());
            done();
          },
        }),
      }),
    );
    const port = await freePort();
    const { config } = loadConfig({
      env: {
        MCP_HOST: "127.0.0.1",
        MCP_PORT: String(port),
        MCP_TARGET_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        AUTH_MODE: "bypass",
        ...env,
      },
    });
    return startProxy(config, { logger });
  }

  before(async () => {
    upstream = http.createServer((req, res) => {
      if (req.method === "GET") {
        res.end("{}"); // the health probe
        return;
      }
      req.on("error", () => undefined); // "aborted": the proxy cut it
      arrived.shift()?.(req, res);
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    // No request timeout: only the client's close can end its request.
    prompt = await proxyFor({ MCP_REQUEST_TIMEOUT: "0" });
  });
  after(async () => {
    await prompt.shutdown();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  /** Opens a connection and starts a POST with a `declared`-byte body; resolves once the MCP server has its head. */
  async function startUpload(
    proxy: RunningProxy,
    declared: number,
  ): Promise<{ socket: net.Socket; upstreamReq: IncomingMessage }> {
    const reached = new Promise<IncomingMessage>((resolve) => arrived.push(resolve));
    const socket = net.connect(Number(new URL(proxy.url).port), "127.0.0.1");
    socket.on("error", () => undefined);
    await once(socket, "connect");
    socket.write(
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n{`,
    );
    // (undici sends the request's head with the first bytes of its body.)
    return { socket, upstreamReq: await reached };
  }

  /** Waits for the proxy's 499 line of `count` clients that left. */
  async function left(count: number): Promise<void> {
    while (lines.filter((line) => line.includes('"status":499')).length < count)
      await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /** The MCP server reads on at last: its request ends cut (the proxy aborted it), not complete. */
  async function assertAbortedUpstream(req: IncomingMessage): Promise<void> {
    const closed = new Promise((resolve) => req.once("close", resolve)); // (once() would reject on "aborted")
    req.resume();
    await closed;
    assert.equal(req.complete, false, "the MCP server's request was cut, not finished");
  }

  it("is seen at once when its close reaches the proxy (the body so far fits the buffers): 499, the upstream request ended", async () => {
    const before = lines.filter((line) => line.includes('"status":499')).length;
    const { socket, upstreamReq } = await startUpload(prompt, 1_000_000);
    socket.write(Buffer.alloc(100_000, " "));
    socket.destroy();
    // No request timeout on this proxy: only noticing the close ends the wait.
    await left(before + 1);
    await assertAbortedUpstream(upstreamReq);
  });

  it("is found out while its close waits behind bytes the proxy holds back (not at the request timeout)", {
    timeout: 30_000,
  }, async () => {
    const before = lines.filter((line) => line.includes('"status":499')).length;
    const { socket, upstreamReq } = await startUpload(prompt, 1_000_000_000);
    // Sends until every buffer on the way is full: a chunk that the kernel has not taken
    // within half a second will not be taken (there is no event for "full"). Its FIN then
    // waits behind bytes the proxy must not read while the MCP server takes none.
    const chunk = Buffer.alloc(256 * 1024, " ");
    let sent = 0;
    for (let taken = true; taken && sent < 512 * 1024 * 1024; sent += chunk.length) {
      const written = new Promise<boolean>((resolve) => socket.write(chunk, () => resolve(true)));
      taken = await Promise.race([written, new Promise<boolean>((resolve) => setTimeout(resolve, 500, false))]);
    }
    socket.destroy();
    // No request timeout on this proxy: only finding out that the client left ends the wait.
    await left(before + 1);
    await assertAbortedUpstream(upstreamReq);
  });
});

describe("a client that stays while the MCP server holds its body back", () => {
  let upstream: http.Server;
  let proxy: RunningProxy;
  let held: Promise<{ req: IncomingMessage; res: http.ServerResponse }>;

  before(async () => {
    upstream = http.createServer((req, res) => {
      if (req.method === "GET") {
        res.end("{}"); // the health probe
        return;
      }
      heldBy({ req, res });
    });
    let heldBy: (exchange: { req: IncomingMessage; res: http.ServerResponse }) => void = () => {};
    held = new Promise((resolve) => {
      heldBy = resolve;
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const port = await freePort();
    const { config } = loadConfig({
      env: {
        MCP_HOST: "127.0.0.1",
        MCP_PORT: String(port),
        MCP_TARGET_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        AUTH_MODE: "bypass",
        LOG_LEVEL: "error",
      },
    });
    proxy = await startProxy(config);
  });
  after(async () => {
    await proxy.shutdown();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it("gets its answer once the body moves again; the interim 100 Continue answers are few (Go accepts 5)", async () => {
    const size = 64 * 1024 * 1024;
    const interim: number[] = [];
    let answered: (status: number) => void = () => {};
    const status = new Promise<number>((resolve) => {
      answered = resolve;
    });
    const req = http.request(`${proxy.url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": size },
    });
    req.on("information", (info) => interim.push(info.statusCode));
    const probed = once(req, "information");
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => answered(res.statusCode ?? 0));
    });
    req.end(Buffer.alloc(size, " "));
    // The MCP server reads nothing until the client was probed, then all of it.
    const upstreamSide = await held;
    await probed;
    upstreamSide.req.resume();
    upstreamSide.req.on("end", () => upstreamSide.res.end('{"ok":true}'));
    assert.equal(await status, 200);
    assert.ok(
      interim.every((code) => code === 100),
      String(interim),
    );
    assert.ok(interim.length <= 4, `${interim.length} interim answers`);
  });
});
