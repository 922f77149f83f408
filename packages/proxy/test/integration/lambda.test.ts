// The serverless handler, invoked with the event shapes API Gateway (HTTP API 2.0, REST API
// 1.0) and Lambda function URLs deliver (test/fixtures/lambda), in front of a real MCP server.
// The streaming handler is given a response stream that behaves as the Lambda runtime's:
// HttpResponseStream.from writes the metadata prelude, then the body follows as written.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { parseDocument } from "yaml";
import { type DemoMcpServer, startDemoMcpServer } from "../../dev/mcp-server.ts";
import { buildLambda } from "../../scripts/build-lambda.ts";
import { loadConfig } from "../../src/config/load.ts";
import { createHostCheck } from "../../src/middleware/host-check.ts";
import { createLambdaProxy, type LambdaProxy, lambdaConfig, requestFromEvent } from "../../src/serverless/lambda.ts";
import { type Stack, startStack } from "../support/stack.ts";

/** CloudFormation's short forms, kept as the objects they stand for (deployed() resolves them). */
const CLOUDFORMATION_TAGS = ["Ref", "Sub", "GetAtt"].map((name) => ({
  tag: `!${name}`,
  resolve: (value: string) => ({ [name]: value }),
}));

/** What a deployment in eu-central-1 gives the parameters and resources the template names. */
const DEPLOYED: Record<string, string> = {
  PublicUrl: "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-central-1.on.aws",
  McpServerUrl: "http://10.0.0.5:8080",
  OidcIssuer: "https://idp.example.com",
  OidcClientId: "mcp-proxy",
  RedisUrl: "rediss://sessions.example.com:6379",
  HttpApi: "abcdef1234",
  "AWS::Region": "eu-central-1",
  "AWS::URLSuffix": "amazonaws.com",
};

function deployed(value: unknown): string {
  if (typeof value === "string") return value;
  const { Ref, Sub } = value as { Ref?: string; Sub?: string };
  if (Ref !== undefined && Ref in DEPLOYED) return DEPLOYED[Ref] as string;
  if (Sub !== undefined) return Sub.replace(/\$\{([^}]+)\}/g, (_, name: string) => DEPLOYED[name] ?? assert.fail(name));
  return assert.fail(`unresolved ${JSON.stringify(value)}`);
}

const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/lambda");
const fixture = <T>(name: string): T => JSON.parse(readFileSync(path.join(FIXTURES, name), "utf8")) as T;

const rpc = (method: string, params: Record<string, unknown> = {}, id = 1) =>
  JSON.stringify({ jsonrpc: "2.0", id, method, params });
const INITIALIZE = rpc("initialize", {
  protocolVersion: "2025-06-18",
  capabilities: {},
  clientInfo: { name: "lambda-test", version: "1" },
});

/** An HTTP API (2.0) or function URL event for `body` posted to /mcp, with extra headers. */
function v2Event(file: string, body: string, headers: Record<string, string> = {}, base64 = false) {
  const event = fixture<APIGatewayProxyEventV2>(file);
  event.body = base64 ? Buffer.from(body).toString("base64") : body;
  event.isBase64Encoded = base64;
  event.headers = { ...event.headers, ...headers, "content-length": String(Buffer.byteLength(body)) };
  return event;
}

/** The Lambda runtime's side of response streaming: a prelude of metadata, 8 NUL bytes, the body. */
class RecordedResponseStream extends Writable {
  readonly chunks: Buffer[] = [];
  onChunk: (text: string) => void = () => {};

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    this.onChunk(chunk.toString());
    done();
  }

  get metadata(): { statusCode: number; headers: Record<string, string>; cookies: string[] } {
    const all = Buffer.concat(this.chunks);
    return JSON.parse(all.subarray(0, all.indexOf(Buffer.alloc(8))).toString());
  }

  get body(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(all.indexOf(Buffer.alloc(8)) + 8).toString();
  }
}

function installLambdaRuntime(): void {
  globalThis.awslambda = {
    streamifyResponse: <T>(handler: T) => handler,
    // biome-ignore lint/complexity/noStaticOnlyClass: the Lambda runtime's HttpResponseStream is a class with a static from()
    HttpResponseStream: class {
      static from(stream: Writable, metadata: Record<string, unknown>) {
        stream.write(JSON.stringify(metadata));
        stream.write(Buffer.alloc(8));
        return stream;
      }
    },
  } as unknown as typeof awslambda;
}

describe("AWS Lambda handler", () => {
  let mcp: DemoMcpServer;
  let lambda: LambdaProxy;
  let release: () => void = () => {};

  before(async () => {
    installLambdaRuntime();
    mcp = await startDemoMcpServer({
      // Step 2 of `count` waits until the test saw step 1 leave the handler: a buffering
      // handler would hold step 1 back and the call would never finish.
      stepGate: async (step) => {
        if (step === 1) await new Promise<void>((resolve) => (release = resolve));
      },
    });
    lambda = createLambdaProxy(() => {
      const { config } = loadConfig({
        env: { AUTH_MODE: "bypass", MCP_TARGET_URL: mcp.url, LOG_LEVEL: "error", MCP_HOST: "127.0.0.1" },
      });
      return { ...config, server: { ...config.server, port: 0 } };
    });
  });
  after(async () => {
    await lambda.close();
    await mcp.close();
  });

  it("answers an HTTP API (2.0) event: MCP initialize with its session id, identity added upstream", async () => {
    const event = v2Event("http-api-v2.json", INITIALIZE, { "x-user-id": "mallory" });
    const result = (await lambda.handler(event)) as APIGatewayProxyStructuredResultV2;
    assert.equal(result.statusCode, 200);
    assert.ok(result.headers?.["mcp-session-id"], "the MCP session id comes back");
    assert.match(String(result.body), /"serverInfo"/);
    const seen = mcp.requests.findLast((r) => r.url === "/mcp");
    assert.equal(seen?.headers["x-user-id"], "developer", "a client's own identity header is replaced");
  });

  it("answers REST API (1.0) events: a base64 body, multi-value headers and query", async () => {
    const event = fixture<APIGatewayProxyEvent>("rest-api-v1.json");
    event.body = Buffer.from(INITIALIZE).toString("base64");
    event.isBase64Encoded = true;
    const result = await lambda.handler(event);
    assert.equal(result.statusCode, 200, JSON.stringify(result));
    assert.match(String(result.body), /"protocolVersion"/);
    const health = fixture<APIGatewayProxyEvent>("rest-api-v1.json");
    Object.assign(health, {
      httpMethod: "GET",
      path: "/health",
      body: null,
      multiValueHeaders: { ...health.multiValueHeaders, Accept: ["application/json"] },
      multiValueQueryStringParameters: { verbose: ["1", "2"] },
    });
    const answer = await lambda.handler(health);
    assert.equal(answer.statusCode, 200);
    assert.equal((JSON.parse(String(answer.body)) as { status: string }).status, "healthy");
  });

  it("refuses a GET event stream in the buffered handler with 405, as MCP allows", async () => {
    const event = v2Event("http-api-v2.json", "", { accept: "text/event-stream" });
    event.requestContext.http.method = "GET";
    const result = (await lambda.handler(event)) as APIGatewayProxyStructuredResultV2;
    assert.equal(result.statusCode, 405);
  });

  it("streams an SSE answer through a function URL as it is produced", async () => {
    const init = (await lambda.handler(v2Event("function-url.json", INITIALIZE))) as APIGatewayProxyStructuredResultV2;
    const session = String(init.headers?.["mcp-session-id"]);
    const headers = { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
    await lambda.handler(
      v2Event("function-url.json", JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }), headers),
    );

    const stream = new RecordedResponseStream();
    stream.onChunk = (text) => {
      if (text.includes('"progress":1')) release();
    };
    const call = rpc("tools/call", { name: "count", arguments: { n: 2 }, _meta: { progressToken: "p" } }, 2);
    await lambda.streamingHandler(v2Event("function-url.json", call, headers), stream);
    assert.equal(stream.metadata.statusCode, 200);
    assert.match(stream.metadata.headers["content-type"] ?? "", /text\/event-stream/);
    assert.match(stream.body, /"progress":1/);
    assert.match(stream.body, /counted to 2/);
  });
});

describe("AWS SAM template", () => {
  it("passes cfn-lint and deploys the bundle's two handlers", () => {
    const template = path.resolve(import.meta.dirname, "../../../../deployments/serverless/template.yaml");
    const lint = spawnSync(path.resolve(import.meta.dirname, "../../../../.tools/python/bin/cfn-lint"), [template], {
      encoding: "utf8",
    });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    const text = readFileSync(template, "utf8");
    assert.match(text, /Handler: index\.streamingHandler/);
    assert.match(text, /InvokeMode: RESPONSE_STREAM/);
    assert.match(text, /Handler: index\.handler/);
  });

  // A new user's trial: both functions had MCP_PUBLIC_URL = PublicUrl (the function URL), so
  // the HTTP API function answered 421 to every request, which carries the execute-api Host.
  it("configures each function, under the production rules, for the Host it is reached at", async () => {
    const template = path.resolve(import.meta.dirname, "../../../../deployments/serverless/template.yaml");
    const parsed = parseDocument(readFileSync(template, "utf8"), { customTags: CLOUDFORMATION_TAGS }).toJS() as {
      Globals: { Function: { Environment: { Variables: Record<string, unknown> } } };
      Resources: Record<string, { Properties: { Environment?: { Variables: Record<string, unknown> } } }>;
    };
    const reachedBy = { StreamingFunction: "function-url.json", ApiFunction: "http-api-v2.json" };
    for (const [name, eventFile] of Object.entries(reachedBy)) {
      // SAM merges a function's variables over the Globals'; AWS_SECRETS is fetched at cold start.
      const { AWS_SECRETS: _fetched, ...variables } = {
        ...parsed.Globals.Function.Environment.Variables,
        ...parsed.Resources[name]?.Properties.Environment?.Variables,
      };
      const env = Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, deployed(value)]));
      const config = await lambdaConfig({
        ...env,
        OIDC_CLIENT_SECRET: "client-secret",
        SESSION_SECRET: "0123456789abcdef0123456789abcdef",
      });
      assert.equal(config.environment, "production");
      assert.equal(config.metrics.enabled, false, "no /metrics on the public function URL");
      const { headers } = requestFromEvent(fixture<APIGatewayProxyEventV2>(eventFile));
      const check = createHostCheck(config.server);
      assert.ok(check, `${name}: a public URL`);
      assert.doesNotThrow(() => check({ headers: { host: headers.get("host") ?? "" } } as IncomingMessage), name);
    }
  });
});

describe("AWS Lambda function bundle (make lambda)", () => {
  let stack: Stack;
  let module: {
    handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
    close: () => Promise<void>;
  };
  const saved = { ...process.env };

  before(async () => {
    installLambdaRuntime();
    stack = await startStack({ env: { MCP_AUTH_MODE: "proxy" } });
    // The function is configured through its environment, as in the SAM template.
    // The events' Host is API Gateway's, while the stack's public URL is loopback: an alias.
    Object.assign(process.env, stack.envFor(0), {
      MCP_PORT: "0",
      MCP_ALLOWED_HOSTS: "abcdef1234.execute-api.eu-central-1.amazonaws.com",
    });
    const bundle = await buildLambda();
    module = (await import(bundle)) as typeof module;
  });
  after(async () => {
    await module?.close();
    process.env = saved;
    await stack.close();
  });

  it("sends browsers to sign in (cookies in the 2.0 cookies list) and MCP clients a 401 challenge", async () => {
    const page = fixture<APIGatewayProxyEventV2>("http-api-v2.json");
    page.requestContext.http.method = "GET";
    page.rawPath = "/";
    page.headers = { ...page.headers, accept: "text/html", "sec-fetch-mode": "navigate" };
    delete page.body;
    const login = await module.handler(page);
    assert.equal(login.statusCode, 302, JSON.stringify(login));
    assert.match(String(login.headers?.location), new RegExp(`^${stack.idp.issuer}`));
    assert.ok(
      login.cookies?.some((c) => c.includes("HttpOnly")),
      "the login transaction cookie",
    );

    const mcpCall = v2Event("http-api-v2.json", INITIALIZE);
    const challenge = await module.handler(mcpCall);
    assert.equal(challenge.statusCode, 401);
    assert.match(String(challenge.headers?.["www-authenticate"]), /resource_metadata=/);
  });
});
