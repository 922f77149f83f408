// What reaches the MCP server, pinned against a real upstream that records every header line:
// no cookie, credential, identity look-alike or forwarding header of the client's; repeated
// headers stay repeated; the path decided on is the path forwarded; a foreign Host is refused
// before the MCP server's own DNS-rebinding guard is bypassed; CORS lets the MCP header
// families through. Regression tests of issue 9 (items 7, 8, 9, 21, 22, 23) and issue 11 (2).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";
import net, { type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { RunningProxy } from "../../src/proxy-server.ts";
import { bypassProxy } from "../support/bypass-proxy.ts";
import { initializeRequest } from "../support/mcp-oauth-client.ts";
import { type RecordingUpstream, startRecordingUpstream } from "../support/recording-upstream.ts";
import { type Stack, startStack } from "../support/stack.ts";
import { websocketHandshake } from "../support/websocket-handshake.ts";

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request exactly as written (no URL normalization, any Host), like curl --path-as-is. */
function send(
  base: string,
  path: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = http.request(
      { host: url.hostname, port: url.port, path, method: options.method ?? "GET", headers: options.headers ?? {} },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** A WebSocket handshake to `base`'s /ws. */
const upgrade = (base: string, headers: OutgoingHttpHeaders) => websocketHandshake(`${base}/ws`, headers);

/** `server` on a free loopback port with a bypass proxy in front; close() stops the proxy, then the server. */
async function inFrontOf(server: http.Server | net.Server): Promise<{ proxy: RunningProxy; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxy = await bypassProxy(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return {
    proxy,
    async close() {
      await proxy.shutdown();
      if (server instanceof http.Server) server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("headers and cookies toward the MCP server", () => {
  let upstream: RecordingUpstream;
  let proxy: RunningProxy;
  before(async () => {
    upstream = await startRecordingUpstream();
    proxy = await bypassProxy(upstream.url);
  });
  after(async () => {
    await proxy.shutdown();
    await upstream.close();
  });

  it("sends none of the authorization server's cookies (mcp_oauth, .sig, interaction, resume) upstream", async () => {
    const cookie = [
      "theirs=1",
      "mcp_oauth=a",
      "mcp_oauth.sig=b",
      "__Host-mcp_oauth=c",
      "__Host-mcp_oauth.sig=d",
      "mcp_oauth_interaction=e",
      "mcp_oauth_interaction.sig=f",
      "mcp_oauth_resume=g",
      "mcp_oauth_resume.sig=h",
      "mcp_session=s%3Ax.y",
      "__Host-mcp_session=s%3Ax.y",
      "mcp_login_abcdef=t",
      "other=%22quoted%22",
    ].join("; ");
    const answer = await send(proxy.url, "/mcp", { headers: { cookie } });
    assert.equal(answer.status, 200);
    assert.deepEqual(upstream.values(upstream.requests.at(-1), "cookie"), ["theirs=1; other=%22quoted%22"]);
  });

  it("passes a Cookie header without the proxy's cookies byte for byte", async () => {
    await send(proxy.url, "/mcp", { headers: { cookie: 'a=1;b="two" ;  c=3' } });
    assert.deepEqual(upstream.values(upstream.requests.at(-1), "cookie"), ['a=1;b="two" ;  c=3']);
  });

  const spoofed = {
    X_User_ID: "mallory",
    X_User_Groups: "admins",
    "x-user_email": "mallory@evil.example",
    Forwarded: "for=6.6.6.6;host=evil.example;proto=https",
    "X-Real-IP": "6.6.6.6",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "gopher",
    "X-Forwarded-For": "6.6.6.6",
    "X-Forwarded-Port": "1",
    X_Forwarded_Host: "evil.example",
    // Identity headers of other authenticating proxies, which an MCP server may have been written for.
    "X-Auth-Request-User": "mallory",
    "X-Auth-Request-Email": "mallory@evil.example",
    "Remote-User": "mallory",
    // An id of the client's choosing (another request's, say) for its lines in the logs and the audit trail.
    "X-Request-ID": "forged-id",
  };
  const assertNoSpoofing = (request: RecordingUpstream["requests"][number] | undefined) => {
    for (const name of ["x_user_id", "x_user_groups", "x-user_email", "forwarded", "x-real-ip", "x-forwarded-port"]) {
      assert.deepEqual(upstream.values(request, name), [], name);
    }
    assert.deepEqual(upstream.values(request, "x-user-id"), ["developer"]);
    assert.deepEqual(upstream.values(request, "x-user-groups"), []);
    for (const name of ["x-auth-request-user", "x-auth-request-email", "remote-user"]) {
      assert.deepEqual(upstream.values(request, name), [], name);
    }
    const [requestId] = upstream.values(request, "x-request-id");
    assert.ok(requestId && requestId !== "forged-id", `the proxy's own request id (${requestId})`);
    assert.deepEqual(upstream.values(request, "x_forwarded_host"), []);
    assert.deepEqual(upstream.values(request, "x-forwarded-host"), [new URL(proxy.url).host]);
    assert.deepEqual(upstream.values(request, "x-forwarded-proto"), ["http"]);
    assert.deepEqual(upstream.values(request, "x-forwarded-for"), ["127.0.0.1"]);
  };

  it("strips identity look-alikes (X_User_ID) and client forwarding headers on HTTP requests", async () => {
    const answer = await send(proxy.url, "/mcp", { method: "POST", headers: spoofed, body: "{}" });
    assert.equal(answer.status, 200);
    assertNoSpoofing(upstream.requests.at(-1));
  });

  it("strips them alike on WebSocket upgrades, where X-Forwarded-* used to pass verbatim", async () => {
    const { socket, status } = await upgrade(proxy.url, { ...spoofed, cookie: "mcp_oauth=a; theirs=1" });
    assert.equal(status, 101);
    socket?.destroy();
    const seen = upstream.requests.findLast((r) => r.method === "UPGRADE");
    assertNoSpoofing(seen);
    assert.deepEqual(upstream.values(seen, "cookie"), ["theirs=1"]);
    assert.deepEqual(upstream.values(seen, "upgrade"), ["websocket"]);
  });

  it("sends the public URL's host as X-Forwarded-Host, whichever accepted Host the client used", async () => {
    await send(proxy.url, "/mcp", { headers: { host: "127.0.0.1:1" } });
    assert.deepEqual(upstream.values(upstream.requests.at(-1), "x-forwarded-host"), [new URL(proxy.url).host]);
  });

  it("forwards repeated Mcp-Method and Mcp-Param-* headers as separate lines, not merged", async () => {
    await send(proxy.url, "/mcp", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "Mcp-Method": ["tools/list", "tools/list"],
        "Mcp-Param-Region": ["eu", "us"],
      },
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
    });
    const seen = upstream.requests.at(-1);
    assert.deepEqual(upstream.values(seen, "mcp-method"), ["tools/list", "tools/list"]);
    assert.deepEqual(upstream.values(seen, "mcp-param-region"), ["eu", "us"]);
  });
});

describe("public paths decide on the path that is forwarded", () => {
  let stack: Stack;
  let upstream: RecordingUpstream;
  let url: string;
  before(async () => {
    upstream = await startRecordingUpstream();
    stack = await startStack({ env: { MCP_TARGET_URL: upstream.url, ACCESS_PUBLIC_PATHS: "/public/*" } });
    url = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(async () => {
    await stack.close();
    await upstream.close();
  });

  it("forwards a public path unauthenticated, exactly as asked", async () => {
    const answer = await send(url, "/public/a%2Fb;v=1?q=1");
    assert.equal(answer.status, 200);
    assert.equal(upstream.requests.at(-1)?.url, "/public/a%2Fb;v=1?q=1");
  });

  for (const path of [
    "/public/../mcp",
    "/public/%2e%2e/mcp",
    "/public/.%2e/mcp",
    "/public/%2E./mcp",
    "/public/..%2fmcp",
    "/public/..%5Cmcp",
    "/public/..\\mcp",
    "/public/..;x=1/mcp",
    "/public/./x",
  ]) {
    it(`refuses ${path} with 400 instead of forwarding it unauthenticated`, async () => {
      const before = upstream.requests.length;
      const answer = await send(url, path, { headers: { accept: "application/json" } });
      assert.equal(answer.status, 400);
      assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, "BAD_REQUEST");
      assert.equal(upstream.requests.length, before, "nothing reached the MCP server");
    });
  }

  it("still asks for sign-in on a protected path", async () => {
    const answer = await send(url, "/mcp", { headers: { accept: "application/json" } });
    assert.equal(answer.status, 401);
  });
});

describe("Host check (DNS rebinding of the MCP server's own guard)", () => {
  let reference: http.Server;
  let referenceUrl: string;
  let proxy: RunningProxy;
  let aliased: RunningProxy;
  before(async () => {
    // The TS SDK's reference setup: createMcpExpressApp on 127.0.0.1 validates Host itself.
    const { createMcpExpressApp } = await import("@modelcontextprotocol/sdk/server/express.js");
    const { McpServer } = await import("@modelcontextprotocol/sdk/server/mcp.js");
    const { StreamableHTTPServerTransport } = await import("@modelcontextprotocol/sdk/server/streamableHttp.js");
    const app = createMcpExpressApp();
    app.post("/mcp", async (req, res) => {
      const server = new McpServer({ name: "reference", version: "1.0.0" });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID() });
      res.on("close", () => void server.close());
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    });
    reference = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => reference.once("listening", resolve));
    referenceUrl = `http://127.0.0.1:${(reference.address() as AddressInfo).port}`;
    proxy = await bypassProxy(referenceUrl);
    aliased = await bypassProxy(referenceUrl, { env: { MCP_ALLOWED_HOSTS: "mcp.internal, mcp.ns.svc" } });
  });
  after(async () => {
    await proxy.shutdown();
    await aliased.shutdown();
    reference.closeAllConnections();
    await new Promise((resolve) => reference.close(resolve));
  });

  const initialize = initializeRequest();
  const withHost = (host: string) => initializeRequest({ host });

  it("the reference server refuses a foreign Host by itself", async () => {
    assert.equal((await send(referenceUrl, "/mcp", withHost("evil.example"))).status, 403);
  });

  it("answers a foreign Host with 421 JSON instead of passing it on with the target's Host", async () => {
    const answer = await send(proxy.url, "/mcp", withHost("evil.example"));
    assert.equal(answer.status, 421);
    assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, "BAD_REQUEST");
    const refused = await upgrade(proxy.url, { host: "evil.example" });
    assert.equal(refused.status, 421);
  });

  it("serves the public URL's host, configured aliases and health probes by pod IP", async () => {
    assert.equal((await send(proxy.url, "/mcp", initialize)).status, 200);
    assert.equal((await send(proxy.url, "/mcp", withHost("127.0.0.1"))).status, 200, "any port");
    assert.equal((await send(aliased.url, "/mcp", withHost("MCP.internal:8080"))).status, 200);
    assert.equal((await send(aliased.url, "/mcp", withHost("mcp.ns.svc"))).status, 200);
    assert.equal((await send(aliased.url, "/mcp", withHost("mcp.ns.svc.evil.example"))).status, 421);
    for (const path of ["/healthz", "/readyz", "/health"]) {
      assert.equal((await send(proxy.url, path, { headers: { host: "10.1.2.3:8080" } })).status, 200, path);
    }
  });

  it("accepts any Host when neither a public URL nor allowed hosts are configured", async () => {
    const open = await bypassProxy(referenceUrl, { env: { MCP_PUBLIC_URL: undefined } });
    try {
      assert.equal((await send(open.url, "/mcp", withHost("anything.example"))).status, 200);
    } finally {
      await open.shutdown();
    }
  });
});

describe("CORS for browser MCP clients", () => {
  let upstream: RecordingUpstream;
  let proxy: RunningProxy;
  before(async () => {
    upstream = await startRecordingUpstream();
    proxy = await bypassProxy(upstream.url, {
      changes: (config) => {
        config.headers.request_id = "X-Correlation-ID";
      },
    });
  });
  after(async () => {
    await proxy.shutdown();
    await upstream.close();
  });

  it("allows Mcp-Param-* and the other MCP headers in preflights, and the configured request id", async () => {
    const answer = await send(proxy.url, "/mcp", {
      method: "OPTIONS",
      headers: {
        origin: proxy.url,
        "access-control-request-method": "POST",
        "access-control-request-headers":
          "content-type,mcp-method,mcp-name,mcp-param-region,mcp-protocol-version,mcp-session-id,x-correlation-id,x-user-id",
      },
    });
    assert.equal(answer.status, 204);
    const allowed = String(answer.headers["access-control-allow-headers"]).toLowerCase().split(",");
    for (const name of ["content-type", "mcp-method", "mcp-name", "mcp-param-region", "mcp-protocol-version"]) {
      assert.ok(allowed.includes(name), `${name} in ${allowed}`);
    }
    assert.ok(allowed.includes("x-correlation-id"));
    assert.ok(!allowed.includes("x-user-id"), "identity headers are not the client's to send");
    assert.match(String(answer.headers.vary), /Access-Control-Request-Headers/i);
  });

  it("exposes the configured request id header, not a hard-coded X-Request-ID", async () => {
    const answer = await send(proxy.url, "/mcp", { headers: { origin: proxy.url } });
    assert.equal(answer.status, 200);
    const exposed = String(answer.headers["access-control-expose-headers"]);
    assert.match(exposed, /X-Correlation-ID/);
    assert.match(exposed, /Mcp-Session-Id/);
    assert.ok(answer.headers["x-correlation-id"]);
  });
});

describe("headers from the MCP server", () => {
  let proxy: RunningProxy;
  let close: () => Promise<void>;
  before(async () => {
    // Names its own header hop-by-hop (RFC 9110 §7.6.1): meant for the proxy's connection only.
    const upstream = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, {
        "content-type": req.url === "/stream" ? "text/event-stream" : "application/json",
        connection: "keep-alive, X-Private",
        "x-private": "for-the-proxy",
        "x-kept": "for-the-client",
      });
      res.end(req.url === "/stream" ? "data: {}\n\n" : "{}");
    });
    ({ proxy, close } = await inFrontOf(upstream));
  });
  after(() => close());

  it("drops what the answer's Connection header names, on answers and event streams alike", async () => {
    for (const path of ["/mcp", "/stream"]) {
      const answer = await send(proxy.url, path);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.headers["x-private"], undefined, path);
      assert.equal(answer.headers["x-kept"], "for-the-client", path);
    }
  });
});

/** A POST of `size` bytes, streamed (past the proxy's 64 KiB read-first size); the answer, read whole. */
function upload(base: string, size: number, agent: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/mcp`, {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", "content-length": size },
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    // The client may still be sending when the answer came and the connection closed.
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE" && error.code !== "ECONNRESET") reject(error);
    });
    req.end(Buffer.alloc(size, " "));
  });
}

describe("an MCP server that answers before it has read the request body (413)", () => {
  let proxy: RunningProxy;
  let abruptProxy: RunningProxy;
  const closers: (() => Promise<void>)[] = [];
  const refusal = '{"error":"request body too large"}';
  before(async () => {
    // Answers as soon as the headers are in, then closes its side and reads (and drops) the
    // rest until the client is done: the lingering close nginx does (RFC 9112 §9.6).
    const graceful = net.createServer((socket) => {
      let head = "";
      socket.on("data", (chunk: Buffer) => {
        if (head.endsWith("\r\n\r\n")) return;
        head += chunk.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        head = head.slice(0, end + 4);
        const health = head.startsWith("GET ");
        const body = health ? "{}" : refusal;
        socket.end(
          `HTTP/1.1 ${health ? "200 OK" : "413 Content Too Large"}\r\ncontent-type: application/json\r\nx-max-body: 1024\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
        );
      });
      socket.on("error", () => undefined);
    });
    const gracefulFront = await inFrontOf(graceful);
    proxy = gracefulFront.proxy;
    closers.push(gracefulFront.close);
    // Node's own server: answers 413 unread and closes at once, so the unread body makes its
    // kernel reset the connection (RST), which may reach the proxy before the answer does.
    const abrupt = http.createServer((req, res) => {
      if (req.method === "GET") {
        res.end("{}");
        return;
      }
      res.writeHead(413, { "content-type": "application/json", connection: "close" });
      res.end(refusal);
    });
    const abruptFront = await inFrontOf(abrupt);
    abruptProxy = abruptFront.proxy;
    closers.push(abruptFront.close);
  });
  after(async () => {
    for (const close of closers) await close();
  });

  it("relays the 413 (status, headers, body) and the client's next request is answered", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const answer = await upload(proxy.url, 4_000_000, agent);
        assert.equal(answer.status, 413, answer.body);
        assert.equal(answer.headers["x-max-body"], "1024");
        assert.equal(answer.body, refusal);
        // Its body unread, the connection cannot carry another request: the client is told.
        assert.equal(answer.headers.connection, "close");
      }
    } finally {
      agent.destroy();
    }
  });

  it("answers 502 naming the cut body when the MCP server's reset overtook its answer", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const answer = await upload(abruptProxy.url, 4_000_000, agent);
        // The answer is relayed whenever undici read it before the reset (docs/decisions/030).
        if (answer.status === 413) continue;
        assert.equal(answer.status, 502, answer.body);
        const { error } = JSON.parse(answer.body) as { error: { code: string; message: string } };
        assert.equal(error.code, "PROXY_ERROR");
        assert.match(error.message, /before .* whole request body/);
        assert.equal(answer.headers.connection, "close");
      }
    } finally {
      agent.destroy();
    }
  });
});

describe("forwarding headers of a peer that is not a trusted proxy", () => {
  let upstream: RecordingUpstream;
  before(async () => {
    upstream = await startRecordingUpstream();
  });
  after(() => upstream.close());

  // 10.9.9.9: a proxy this client (127.0.0.1) is not; 0: Express's "trust no hop".
  for (const trust of ["10.9.9.9", "0"]) {
    it(`starts X-Forwarded-For at the peer and keeps none of its ids (MCP_TRUST_PROXY=${trust})`, async () => {
      const proxy = await bypassProxy(upstream.url, { env: { MCP_TRUST_PROXY: trust } });
      try {
        const answer = await send(proxy.url, "/mcp", {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": "6.6.6.6", "x-request-id": "chosen" },
          body: "{}",
        });
        assert.equal(answer.status, 200);
        const seen = upstream.requests.at(-1);
        assert.notEqual(upstream.values(seen, "x-request-id")[0], "chosen");
        assert.deepEqual(upstream.values(seen, "x-forwarded-for"), ["127.0.0.1"]);
      } finally {
        await proxy.shutdown();
      }
    });
  }

  it("keeps both from a trusted one (loopback)", async () => {
    const proxy = await bypassProxy(upstream.url, { env: { MCP_TRUST_PROXY: "loopback" } });
    try {
      await send(proxy.url, "/mcp", {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.9", "x-request-id": "ingress-1" },
        body: "{}",
      });
      const seen = upstream.requests.at(-1);
      assert.deepEqual(upstream.values(seen, "x-request-id"), ["ingress-1"]);
      assert.deepEqual(upstream.values(seen, "x-forwarded-for"), ["203.0.113.9, 127.0.0.1"]);
    } finally {
      await proxy.shutdown();
    }
  });
});

describe("every answer names its request (X-Request-ID, once)", () => {
  let proxy: RunningProxy;
  let close: () => Promise<void>;
  const received: (string | undefined)[] = [];
  before(async () => {
    const upstream = http.createServer((req, res) => {
      req.resume();
      const id = req.headers["x-request-id"];
      received.push(typeof id === "string" ? id : undefined);
      const type = req.url === "/stream" ? "text/event-stream" : "application/json";
      // An MCP server that names the answer itself: its value is what the client gets.
      const own = req.url === "/own-id" ? { "X-Request-Id": "from-the-mcp-server" } : {};
      res.writeHead(200, { "content-type": type, ...own });
      res.end(req.url === "/stream" ? "data: {}\n\n" : "{}");
    });
    ({ proxy, close } = await inFrontOf(upstream));
  });
  after(() => close());

  /** The answer's request id lines, by raw header line (a duplicate would show twice). */
  async function idsOf(path: string, headers: OutgoingHttpHeaders = {}): Promise<{ answer: Answer; ids: string[] }> {
    const answer = await new Promise<Answer & { raw: string[] }>((resolve, reject) => {
      const url = new URL(proxy.url);
      const req = http.request({ host: url.hostname, port: url.port, path, headers }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, raw: res.rawHeaders }));
      });
      req.on("error", reject);
      req.end();
    });
    const ids = answer.raw.filter((_, i) => i % 2 === 1 && answer.raw[i - 1]?.toLowerCase() === "x-request-id");
    return { answer, ids };
  }

  it("on proxied answers and event streams: the id the MCP server was sent", async () => {
    for (const path of ["/mcp", "/stream"]) {
      const { answer, ids } = await idsOf(path);
      assert.equal(answer.status, 200, path);
      assert.equal(ids.length, 1, `${path}: ${ids}`);
      assert.match(ids[0] ?? "", /^[0-9a-f-]{36}$/, path);
      assert.equal(received.at(-1), ids[0], path);
    }
  });

  it("replaces an untrusted client's id, and keeps the MCP server's own when its answer names one", async () => {
    const replaced = await idsOf("/mcp", { "x-request-id": "client-chosen-1" });
    assert.equal(replaced.ids.length, 1);
    assert.match(replaced.ids[0] ?? "", /^[0-9a-f-]{36}$/);
    const own = await idsOf("/own-id");
    assert.deepEqual(own.ids, ["from-the-mcp-server"]);
  });

  it("on the proxy's own answers: errors, its routes and health probes", async () => {
    const refused = await idsOf("/a/%2e%2e/mcp");
    assert.equal(refused.answer.status, 400);
    assert.equal(refused.ids.length, 1);
    assert.equal((JSON.parse(refused.answer.body) as { request_id: string }).request_id, refused.ids[0]);
    for (const path of ["/api/v1/session", "/healthz", "/health"]) {
      const { answer, ids } = await idsOf(path);
      assert.equal(answer.status, 200, path);
      assert.equal(ids.length, 1, `${path}: ${ids}`);
      assert.match(ids[0] ?? "", /^[0-9a-f-]{36}$/, path);
    }
  });
});
