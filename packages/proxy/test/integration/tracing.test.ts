// OpenTelemetry tracing (issue 12, item 5), against an in-process OTLP/HTTP receiver: off by
// default with nothing of the SDK loaded and the client's traceparent passed through; on, a
// server span per request with authentication and upstream spans under it, the client's trace
// id kept, the upstream call's span as the MCP server's parent, no secret in any attribute,
// event streams' spans ended at their headers, failures marked, spans flushed at shutdown;
// log lines name their request, also those written from socket events (a client that left).
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import { registerHooks } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Logger } from "../../src/observability/logger.ts";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "../support/otlp-receiver.ts";

// Every module resolved from here on: the proxy is imported below, after this hook.
const resolved: string[] = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    resolved.push(specifier);
    return nextResolve(specifier, context);
  },
});
const { bypassProxy } = await import("../support/bypass-proxy.ts");
const { capturingLogger } = await import("../support/captured-log.ts");
const { tracingSettings } = await import("../../src/observability/tracing.ts");
const { startDemoMcpServer } = await import("../../dev/mcp-server.ts");
const { connectMcpClient, startStack } = await import("../support/stack.ts");
const { initializeWithToken } = await import("../support/mcp-oauth-client.ts");
const { exportJWK, generateKeyPair, SignJWT } = await import("jose");

const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const SECRET_TOKEN = "secret-token-0123456789";
const SECRET_COOKIE = "secret-cookie-abcdef";

interface Upstream {
  url: string;
  /** The traceparent / tracestate header lines each request carried. */
  seen: { path: string; traceparent: string[]; tracestate: string[] }[];
  close(): Promise<void>;
}

/** An MCP server stand-in that records trace headers; /stream answers an event stream that stays open. */
async function startUpstream(): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  const server = http.createServer((req, res) => {
    const values = (name: string) => {
      const out: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        if (req.rawHeaders[i]?.toLowerCase() === name) out.push(req.rawHeaders[i + 1] as string);
      return out;
    };
    seen.push({ path: req.url ?? "", traceparent: values("traceparent"), tracestate: values("tracestate") });
    req.resume();
    req.on("end", () => {
      if (req.url === "/stream") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/ping"}\n\n');
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"jsonrpc":"2.0","id":1,"result":{"content":[]}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const OTEL_VARIABLES = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_SERVICE_NAME",
  "OTEL_TRACES_SAMPLER",
];
const clearOtel = () => {
  for (const name of OTEL_VARIABLES) delete process.env[name];
};

/** OTLP over HTTP with JSON bodies, to `receiver`: what most tests export with. */
const otlpJson = (receiver: OtlpReceiver) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
});

/** A bypass proxy started while the `otel` variables are set (the SDK reads them at start), cleared after. */
async function tracedProxy(
  target: string,
  otel: Record<string, string>,
  options: { logger?: Logger; file?: string } = {},
) {
  Object.assign(process.env, otel);
  try {
    return await bypassProxy(target, options);
  } finally {
    clearOtel();
  }
}

const toolsCall = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "tools/call",
  params: { name: "echo", arguments: { message: "hi" } },
});

function post(base: string, headers: Record<string, string>, body = toolsCall) {
  return fetch(`${base}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body,
  });
}

/** POSTs `body` to the proxy's MCP endpoint, expects 200 and reads the answer to its end. */
async function postAnswered(base: string, headers: Record<string, string>, body = toolsCall): Promise<void> {
  const res = await post(base, headers, body);
  assert.equal(res.status, 200);
  await res.text();
}

/**
 * A traced proxy (`otel`: its OTel variables, for the receiver) in front of a fresh upstream:
 * `requests` run against it, then all of it stops (the proxy's shutdown flushes its spans).
 * What the receiver and the upstream got stays readable.
 */
async function tracedRun(
  otel: (receiver: OtlpReceiver) => Record<string, string>,
  requests: (proxyUrl: string) => Promise<void>,
  options: { file?: string } = {},
): Promise<{ receiver: OtlpReceiver; upstream: Upstream }> {
  const receiver = await startOtlpReceiver();
  const upstream = await startUpstream();
  const proxy = await tracedProxy(upstream.url, otel(receiver), options);
  try {
    await requests(proxy.url);
  } finally {
    await proxy.shutdown();
    await upstream.close();
    await receiver.close();
  }
  return { receiver, upstream };
}

describe("tracing off (the default)", () => {
  let upstream: Upstream;
  before(async () => {
    clearOtel();
    upstream = await startUpstream();
  });
  after(() => upstream.close());

  it("loads nothing of the OpenTelemetry SDK and passes the client's traceparent through unchanged", async () => {
    const proxy = await bypassProxy(upstream.url);
    try {
      const traceparent = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
      await postAnswered(proxy.url, { traceparent, tracestate: "vendor=x" });
      const forwarded = upstream.seen.find((request) => request.path === "/mcp");
      assert.deepEqual(forwarded?.traceparent, [traceparent]);
      assert.deepEqual(forwarded?.tracestate, ["vendor=x"]);
      // @opentelemetry/api alone is prom-client's (exemplars), loaded with or without tracing.
      assert.deepEqual(
        resolved.filter(
          (specifier) =>
            (specifier.startsWith("@opentelemetry/") && specifier !== "@opentelemetry/api") ||
            specifier.endsWith("tracing-sdk.ts"),
        ),
        [],
      );
    } finally {
      await proxy.shutdown();
    }
  });
});

describe("log lines of upstream failures (tracing off)", () => {
  it("name the request that failed, on a connection an earlier request opened", async () => {
    // The first request opens the upstream connection and is answered; the second reuses it
    // and the connection closes before an answer. undici calls back from the socket's events,
    // whose async context is the first request's: the log line must still name the second.
    let served = 0;
    const upstream = http.createServer((req, res) => {
      if (req.url !== "/mcp") {
        res.end();
        return;
      }
      served++;
      req.resume();
      if (served === 1) req.on("end", () => res.end("{}"));
      else req.on("end", () => req.socket.destroy());
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const lines: string[] = [];
    const proxy = await bypassProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, {
      logger: capturingLogger(lines, "warn"),
    });
    try {
      const first = await post(proxy.url, {});
      assert.equal(first.status, 200);
      await first.text();
      const second = await post(proxy.url, {});
      assert.equal(second.status, 502);
      await second.text();
      assert.equal(served, 2);
      const failed = lines.map((line) => JSON.parse(line)).find((line) => line.message === "upstream request failed");
      assert.equal(failed?.request_id, second.headers.get("x-request-id"));
      assert.notEqual(failed?.request_id, first.headers.get("x-request-id"));
    } finally {
      await proxy.shutdown();
      upstream.closeAllConnections();
      upstream.close();
    }
  });
});

describe("access log lines of requests the client left (tracing off)", () => {
  it("name the request (499), though written when its socket closed", async () => {
    const reached = Promise.withResolvers<void>();
    const upstream = http.createServer((req, res) => {
      if (req.url !== "/mcp") res.end();
      else reached.resolve(); // never answered
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const lines: string[] = [];
    const proxy = await bypassProxy(
      `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      // The test is the trusted proxy in front that names the request.
      { env: { MCP_TRUST_PROXY: "loopback" }, logger: capturingLogger(lines, "info") },
    );
    try {
      const client = new AbortController();
      const left = fetch(`${proxy.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "left-early" },
        body: toolsCall,
        signal: client.signal,
      }).catch(() => undefined);
      await reached.promise;
      client.abort();
      await left;
      const logged = () => lines.map((line) => JSON.parse(line)).find((line) => line.status === 499);
      while (!logged()) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(logged()?.request_id, "left-early");
    } finally {
      await proxy.shutdown();
      upstream.closeAllConnections();
      upstream.close();
    }
  });
});

describe("tracing on (OTLP over HTTP, JSON)", () => {
  let receiver: OtlpReceiver;
  let upstream: Upstream;
  let spans: ReceivedSpan[];
  const byName = (name: string, traceId = CLIENT_TRACE) =>
    spans.filter((span) => span.name === name && span.traceId === traceId);

  before(async () => {
    const otel = (to: OtlpReceiver) => ({ ...otlpJson(to), OTEL_SERVICE_NAME: "proxy-under-test" });
    ({ receiver, upstream } = await tracedRun(otel, async (proxyUrl) => {
      // A tool call carrying a trace context and credentials that must never be exported.
      await postAnswered(proxyUrl, {
        traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
        tracestate: "vendor=x",
        authorization: `Bearer ${SECRET_TOKEN}`,
        cookie: `theirs=${SECRET_COOKIE}`,
      });
      // An event stream: read its first event, then leave.
      const abort = new AbortController();
      const stream = await fetch(`${proxyUrl}/stream`, {
        headers: { accept: "text/event-stream", traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
        signal: abort.signal,
      });
      const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      abort.abort();
      await reader.closed.catch(() => {});
    }));
    // Shutdown flushed: nothing was exported before it (the batch delay is 5 s).
    spans = receiver.spans;
  });

  it("exports a server span per request, child of the client's span, in the client's trace", () => {
    const server = byName("POST").find((span) => span.kind === 2);
    assert.ok(server, `no POST server span in ${JSON.stringify(spans.map((s) => s.name))}`);
    assert.equal(server.kind, 2);
    assert.equal(server.parentSpanId, CLIENT_SPAN);
    assert.equal(server.service, "proxy-under-test");
    assert.equal(server.attributes["http.request.method"], "POST");
    assert.equal(server.attributes["url.path"], "/mcp");
    assert.equal(server.attributes["http.response.status_code"], 200);
  });

  it("puts the authentication and upstream spans under the server span", () => {
    const server = byName("POST").find((span) => span.kind === 2) as ReceivedSpan;
    const [auth] = byName("mcp_proxy.authenticate").filter((span) => span.parentSpanId === server.spanId);
    assert.ok(auth);
    assert.equal(auth.attributes["mcp_proxy.auth.result"], "allowed");
    const [call] = byName("POST").filter((span) => span.kind === 3 && span.parentSpanId === server.spanId);
    assert.ok(call);
    assert.equal(call.attributes["http.response.status_code"], 200);
    assert.equal(call.attributes["url.full"], `${upstream.url}/mcp`);
  });

  it("sends the MCP server a traceparent of the client's trace whose parent is the upstream span, and the tracestate", () => {
    const call = byName("POST").find((span) => span.kind === 3) as ReceivedSpan;
    const forwarded = upstream.seen.find((request) => request.path === "/mcp");
    assert.deepEqual(forwarded?.traceparent, [`00-${CLIENT_TRACE}-${call.spanId}-01`]);
    assert.deepEqual(forwarded?.tracestate, ["vendor=x"]);
  });

  it("ends an event stream's spans when its headers are out (the stream is still open then)", () => {
    const server = byName("GET").find((span) => span.kind === 2) as ReceivedSpan;
    assert.ok(server);
    assert.equal(server.attributes["mcp_proxy.event_stream"], true);
    assert.equal(server.attributes["http.response.status_code"], 200);
    const call = byName("GET").find((span) => span.kind === 3 && span.parentSpanId === server.spanId);
    assert.equal(call?.attributes["http.response.status_code"], 200);
  });

  it("exports no token, cookie or user id", () => {
    const all = receiver.bodies.join("\n");
    assert.ok(all.length > 0);
    for (const secret of [SECRET_TOKEN, SECRET_COOKIE, "developer"]) assert.ok(!all.includes(secret), secret);
  });
});

describe("tracing on, a real MCP client and server", () => {
  it("gives every request the MCP server gets a traceparent of an exported upstream span, and exports no MCP session id", async () => {
    const receiver = await startOtlpReceiver();
    const mcp = await startDemoMcpServer();
    const proxy = await tracedProxy(mcp.url, otlpJson(receiver));
    let sessionId: string | undefined;
    try {
      // A client instrumented with OpenTelemetry sends its trace context with every request.
      const traced: typeof fetch = (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set("traceparent", `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`);
        return fetch(input, { ...init, headers });
      };
      const { client, transport } = await connectMcpClient(`${proxy.url}/mcp`, traced);
      const result = await client.callTool({ name: "echo", arguments: { text: "traced" } });
      assert.deepEqual(result.content, [{ type: "text", text: "traced" }]);
      sessionId = transport.sessionId;
      await client.close();
    } finally {
      await proxy.shutdown();
      await mcp.close();
      await receiver.close();
    }
    const upstreamSpans = new Map(
      receiver.spans.filter((span) => span.kind === 3).map((span) => [span.spanId, span] as const),
    );
    const toMcp = mcp.requests.filter((request) => request.url.startsWith("/mcp"));
    assert.ok(toMcp.length >= 3, `${toMcp.length} requests`); // initialize, initialized, tools/call (and more)
    for (const request of toMcp) {
      const [, traceId, spanId] = String(request.headers.traceparent).split("-");
      assert.equal(traceId, CLIENT_TRACE);
      const span = upstreamSpans.get(spanId as string);
      assert.ok(span, `${request.method} ${request.url}: no exported span ${spanId}`);
      assert.equal(span.attributes["http.request.method"], request.method);
    }
    assert.ok(sessionId);
    assert.ok(!receiver.bodies.join("\n").includes(sessionId));
  });
});

describe("tracing on, bearer tokens of the provider (mcp_auth.mode provider)", () => {
  it("records the authentication's outcome, never the token, the user or their e-mail", async () => {
    const receiver = await startOtlpReceiver();
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    Object.assign(process.env, otlpJson(receiver));
    const stack = await startStack({
      idp: { signingKeys: [{ ...(await exportJWK(privateKey)), kid: "key-a", alg: "RS256", use: "sig" }] },
      env: { MCP_AUTH_MODE: "provider", MCP_JWKS_REFRESH_COOLDOWN: "0s" },
    });
    clearOtel();
    const proxyUrl = `http://127.0.0.1:${stack.ports[0]}`;
    const now = Math.floor(Date.now() / 1000);
    const mint = (exp: number) =>
      new SignJWT({ iss: stack.idp.issuer, sub: "alice-sub", aud: proxyUrl, iat: now, exp, email: "alice@example.com" })
        .setProtectedHeader({ alg: "RS256", kid: "key-a" })
        .sign(privateKey);
    const valid = await mint(now + 600);
    const expired = await mint(now - 60);
    try {
      const ok = await initializeWithToken(`${proxyUrl}/mcp`, valid);
      assert.equal(ok.status, 200);
      await ok.text();
      const refused = await initializeWithToken(`${proxyUrl}/mcp`, expired);
      assert.equal(refused.status, 401);
      await refused.text();
    } finally {
      await stack.close();
      await receiver.close();
    }
    const results = receiver.spans
      .filter((span) => span.name === "mcp_proxy.authenticate")
      .map((span) => span.attributes["mcp_proxy.auth.result"]);
    assert.deepEqual(results.sort(), ["allowed", "anonymous"]);
    const refusedSpan = receiver.spans.find(
      (span) => span.kind === 2 && span.attributes["http.response.status_code"] === 401,
    );
    assert.ok(refusedSpan);
    assert.equal(refusedSpan.status, 0); // a 401 is an answer, not a failure of the proxy
    const all = receiver.bodies.join("\n");
    for (const secret of [valid, expired, valid.split(".")[2] as string, "alice-sub", "alice@example.com"])
      assert.ok(!all.includes(secret), secret.slice(0, 20));
  });
});

describe("tracing on, with an MCP policy", () => {
  it("adds the policy span and the MCP method and tool name; a denied call has no upstream span", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-tracing-"));
    const file = path.join(dir, "config.yaml");
    writeFileSync(file, "mcp_policy:\n  rules:\n    - name: echo-for-all\n      tools: [echo]\n");
    const call = (tool: string) =>
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: tool, arguments: {} } });
    const { receiver } = await tracedRun(
      otlpJson,
      async (proxyUrl) => {
        for (const tool of ["echo", "admin_reset"]) await postAnswered(proxyUrl, {}, call(tool));
      },
      { file },
    );
    const servers = receiver.spans.filter((span) => span.kind === 2);
    const serverFor = (tool: string) => servers.find((span) => span.attributes["gen_ai.tool.name"] === tool);
    const childOf = (parent: ReceivedSpan | undefined, name: string) =>
      receiver.spans.find((span) => span.parentSpanId === parent?.spanId && span.name === name);
    const allowed = serverFor("echo");
    const denied = serverFor("admin_reset");
    assert.equal(allowed?.attributes["mcp.method.name"], "tools/call");
    assert.equal(denied?.attributes["mcp.method.name"], "tools/call");
    assert.equal(childOf(allowed, "mcp_proxy.policy")?.attributes["mcp_proxy.policy.result"], "forwarded");
    assert.equal(childOf(denied, "mcp_proxy.policy")?.attributes["mcp_proxy.policy.result"], "answered");
    assert.ok(receiver.spans.some((span) => span.kind === 3 && span.parentSpanId === allowed?.spanId));
    assert.ok(!receiver.spans.some((span) => span.kind === 3 && span.parentSpanId === denied?.spanId));
  });
});

describe("tracing on, upstream unreachable", () => {
  it("marks the upstream span failed with the error code and the server span with the 502; the log line names the trace", async () => {
    const receiver = await startOtlpReceiver();
    const closed = await startUpstream();
    await closed.close();
    const lines: string[] = [];
    const proxy = await tracedProxy(closed.url, otlpJson(receiver), { logger: capturingLogger(lines, "warn") });
    try {
      const res = await post(proxy.url, {});
      assert.equal(res.status, 502);
      await res.text();
    } finally {
      await proxy.shutdown();
      await receiver.close();
    }
    const server = receiver.spans.find((span) => span.kind === 2);
    const call = receiver.spans.find((span) => span.kind === 3);
    assert.equal(server?.attributes["http.response.status_code"], 502);
    assert.equal(server?.status, 2);
    assert.equal(call?.attributes["error.type"], "ECONNREFUSED");
    assert.equal(call?.status, 2);
    assert.equal(call?.parentSpanId, server?.spanId);
    const failed = lines.map((line) => JSON.parse(line)).find((line) => line.message === "upstream request failed");
    assert.equal(failed?.trace_id, server?.traceId);
  });
});

describe("tracing on, the OTLP defaults", () => {
  it("exports protobuf (OTLP's default protocol) to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, the client's trace in it", async () => {
    const { receiver } = await tracedRun(
      (to) => ({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${to.url}/v1/traces` }),
      (proxyUrl) => postAnswered(proxyUrl, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` }),
    );
    assert.deepEqual(receiver.contentTypes, ["application/x-protobuf"]);
    // Trace ids are raw bytes in protobuf: the client's is in the export.
    assert.ok(receiver.raw[0]?.includes(Buffer.from(CLIENT_TRACE, "hex")));
  });

  it("samples as OTEL_TRACES_SAMPLER says: parentbased_always_off exports nothing and tells the MCP server so", async () => {
    const { receiver, upstream } = await tracedRun(
      (to) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: to.url, OTEL_TRACES_SAMPLER: "parentbased_always_off" }),
      (proxyUrl) => postAnswered(proxyUrl, {}),
    );
    assert.deepEqual(receiver.bodies, []);
    const [traceparent] = upstream.seen.find((request) => request.path === "/mcp")?.traceparent ?? [];
    assert.match(traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });
});

describe("tracingSettings", () => {
  it("is off unless configured, on with tracing.enabled or an OTEL_* exporter variable", () => {
    assert.equal(tracingSettings({}, {}).enabled, false);
    assert.deepEqual(tracingSettings({ enabled: true }, {}), {
      enabled: true,
      exporter: "otlp",
      protocol: "http/protobuf",
    });
    assert.equal(
      tracingSettings({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/v1/traces" }).enabled,
      true,
    );
    assert.equal(tracingSettings({}, { OTEL_TRACES_EXPORTER: "console" }).enabled, true);
  });

  it("is off with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none, whatever the config says", () => {
    assert.equal(tracingSettings({ enabled: true }, { OTEL_SDK_DISABLED: "true" }).enabled, false);
    assert.equal(tracingSettings({ enabled: true }, { OTEL_TRACES_EXPORTER: "none" }).enabled, false);
    assert.equal(tracingSettings({ enabled: false }, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://x" }).enabled, false);
  });

  it("refuses an exporter or protocol it does not have, naming the variable", () => {
    assert.throws(() => tracingSettings({}, { OTEL_TRACES_EXPORTER: "zipkin" }), /OTEL_TRACES_EXPORTER/);
    assert.throws(() => tracingSettings({ enabled: true }, { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }), /PROTOCOL/);
  });
});
