// The MCP conformance suite (npm @modelcontextprotocol/conformance) against the proxy:
// - its authorization-server scenarios against the proxy's own authorization server
//   (mcp_auth.mode proxy), the person's sign-in done by the scripted browser;
// - its server scenarios (current revisions and the draft) against the SDK's "everything"
//   server, directly, through the proxy, and through the proxy with an MCP policy on (rules
//   that grant everything, so every body is read and judged and every list filtered):
//   whatever the server passes directly it must pass through the proxy in both modes, and the
//   proxy adds what it promises on its own (DNS rebinding protection). Scenarios the server
//   does not implement fail alike every way.
// A check that fails for a known reason is listed below with that reason; a listed check
// that passes fails the test, so the list never goes stale (the suite's own baseline rule).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { type RunningProxy, startProxy } from "../../src/proxy-server.ts";
import { TestBrowser } from "../support/browser.ts";
import { type Everything, startEverything, stopEverything } from "../support/everything-process.ts";
import { freePort } from "../support/ports.ts";
import { finished } from "../support/process.ts";
import { type Stack, startStack } from "../support/stack.ts";

const ROOT = path.resolve(import.meta.dirname, "../../../..");
const CONFORMANCE = path.join(ROOT, "node_modules/@modelcontextprotocol/conformance/dist/index.js");

const GRANT = "authorization-code-grant authorization-code-grant AuthorizationCodeGrant";
const METADATA = "authorization-server-metadata-endpoint authorization-server-metadata AuthorizationServerMetadata";
const METADATA_CIMD =
  "authorization-server-metadata-endpoint authorization-server-metadata-cimd AuthorizationServerMetadataCIMD";

interface Check {
  id: string;
  name: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "SKIPPED" | "INFO";
  errorMessage?: string;
}

/** Runs the suite's CLI with `args`; every scenario's checks.json under the output directory. */
function conformance(args: string[]): { child: ChildProcess; results: () => Promise<Map<string, Check>> } {
  const output = mkdtempSync(path.join(tmpdir(), "mcp-conformance-"));
  const child = spawn(process.execPath, [CONFORMANCE, ...args, "--output-dir", output], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: output,
  });
  const exit = finished(child);
  return {
    child,
    async results() {
      const { stdout, stderr } = await exit;
      const checks = new Map<string, Check>();
      for (const run of readdirSync(output)) {
        // <mode>-<scenario>-<timestamp>: the key is the scenario and the check's own id and name.
        const scenario = run.replace(/^(server|authorization-server)-/, "").replace(/-\d{4}-\d\d-\d\dT.*$/, "");
        const list = JSON.parse(readFileSync(path.join(output, run, "checks.json"), "utf8")) as Check[];
        for (const check of list) checks.set(`${scenario} ${check.id} ${check.name}`, check);
      }
      rmSync(output, { recursive: true, force: true });
      assert.ok(checks.size > 0, `the suite produced no results: ${stdout.slice(-1000)} ${stderr.slice(-1000)}`);
      return checks;
    },
  };
}

const failing = (checks: Map<string, Check>) =>
  [...checks].filter(([, c]) => c.status === "FAILURE").map(([key, c]) => `${key}: ${c.errorMessage ?? ""}`);

describe("MCP conformance: authorization-server scenarios against the proxy's authorization server", () => {
  let stack: Stack;
  let base: string;

  before(async () => {
    stack = await startStack({ env: { MCP_AUTH_MODE: "proxy", MCP_REQUIRED_SCOPES: "mcp:tools" } });
    base = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());

  /** Registers a client for the suite's callback, runs its scenarios and signs alice in when asked. */
  async function runScenarios(metadata: Record<string, unknown>): Promise<Map<string, Check>> {
    const callbackPort = await freePort();
    const registration = await fetch(`${base}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        client_name: "MCP conformance suite",
        redirect_uris: [`http://127.0.0.1:${callbackPort}/callback`],
        ...metadata,
      }),
    });
    assert.equal(registration.status, 201);
    const client = (await registration.json()) as { client_id: string; client_secret?: string };
    const run = conformance([
      "authorization",
      "--url",
      base,
      "--client-id",
      client.client_id,
      ...(client.client_secret ? ["--client-secret", client.client_secret] : []),
      "--resource",
      base,
      "--port",
      String(callbackPort),
    ]);
    // The suite prints the authorization URL for a person to open, then waits for the callback.
    const lines = createInterface({ input: run.child.stdout as NodeJS.ReadableStream });
    let authorizationUrl: string | undefined;
    for await (const line of lines) {
      if (line.startsWith(`${base}/oauth/authorize?`)) {
        authorizationUrl = line.trim();
        break;
      }
    }
    assert.ok(authorizationUrl, "the suite asked for a sign-in");
    const landing = await new TestBrowser().signIn(authorizationUrl, "alice");
    assert.equal(new URL(landing.url).port, String(callbackPort), "the browser came back to the suite's callback");
    const checks = await run.results();
    for (const key of [GRANT, METADATA, METADATA_CIMD]) assert.ok(checks.has(key), `the suite ran ${key}`);
    return checks;
  }

  it("passes the metadata and authorization-code-grant scenarios with a public client", async () => {
    assertAgainstExpected(await runScenarios({ token_endpoint_auth_method: "none" }), {});
  });

  it("with a client_secret_basic client (registered without a method): the suite's auth choice is listed", async () => {
    const checks = await runScenarios({});
    assertAgainstExpected(checks, {
      // The suite authenticates with "none" whenever the server also lists "none", even when
      // given --client-secret; the proxy holds a client registered for client_secret_basic to
      // that method, as RFC 6749 2.3 asks, so the code exchange is invalid_client (401).
      [GRANT]: "the suite sends no secret for a confidential client",
    });
    assert.equal(checks.get(GRANT)?.errorMessage, "Invalid status code: 401");
  });
});

describe("MCP conformance: server scenarios, directly and through the proxy", () => {
  /**
   * Checks that pass directly against the everything server but fail through the proxy,
   * with why. Keys: "<scenario> <check id> <name>". (none today)
   */
  const EXPECTED_PROXY_REGRESSIONS: Record<string, string> = {};
  /** Checks the proxy passes whatever the server behind it does: protections it adds itself. */
  const PROXY_PROVIDES = [
    "dns-rebinding-protection localhost-host-rebinding-rejected DNSRebindingRejected",
    "dns-rebinding-protection localhost-host-valid-accepted LocalhostHostAccepted",
  ];
  let everything: Everything;
  let proxy: RunningProxy;
  let proxied: string;
  let policyProxy: RunningProxy;
  let policyProxied: string;
  let policyDir: string;

  before(async () => {
    everything = await startEverything();
    const port = await freePort();
    const { config } = loadConfig({
      env: {
        AUTH_MODE: "bypass",
        MCP_HOST: "127.0.0.1",
        MCP_PORT: String(port),
        MCP_PUBLIC_URL: `http://127.0.0.1:${port}`,
        MCP_TARGET_URL: everything.origin,
        LOG_LEVEL: "error",
      },
    });
    proxy = await startProxy(config);
    proxied = `http://127.0.0.1:${port}/mcp`;
    // The same with a policy: rules for every kind (so bodies are read and lists filtered)
    // that grant the bypass user everything, and the audit trail on.
    policyDir = mkdtempSync(path.join(tmpdir(), "mcp-conformance-policy-"));
    const policyFile = path.join(policyDir, "config.yaml");
    writeFileSync(
      policyFile,
      `mcp_policy:
  rules:
    - { name: everything, tools: ["**"], resources: ["**"], prompts: ["**"], users: [developer] }
  audit: { enabled: true, output: ${path.join(policyDir, "audit.jsonl")} }
`,
    );
    const policyPort = await freePort();
    const policyConfig = loadConfig({
      file: policyFile,
      env: {
        AUTH_MODE: "bypass",
        MCP_HOST: "127.0.0.1",
        MCP_PORT: String(policyPort),
        MCP_PUBLIC_URL: `http://127.0.0.1:${policyPort}`,
        MCP_TARGET_URL: everything.origin,
        LOG_LEVEL: "error",
      },
    }).config;
    policyProxy = await startProxy(policyConfig);
    policyProxied = `http://127.0.0.1:${policyPort}/mcp`;
  });
  after(async () => {
    await proxy?.shutdown();
    await policyProxy?.shutdown();
    rmSync(policyDir, { recursive: true, force: true });
    await stopEverything(everything);
  });

  it("passes through the proxy every check the server passes directly, and the proxy's own protections", async () => {
    // The current revisions' scenarios and the draft's (2026-07-28: stateless requests).
    const run = async (url: string) => {
      const active = await conformance(["server", "--url", url]).results();
      const draft = await conformance(["server", "--url", url, "--suite", "draft"]).results();
      return new Map([...active, ...draft]);
    };
    const direct = await run(everything.url);
    for (const [mode, url] of [
      ["proxy", proxied],
      ["proxy with a policy", policyProxied],
    ] as const) {
      const through = await run(url);
      const lost: string[] = [];
      const unexpectedlyKept: string[] = [];
      for (const [key, check] of direct) {
        if (check.status !== "SUCCESS") continue;
        const other = through.get(key);
        const passes = other?.status === "SUCCESS";
        if (!passes && !(key in EXPECTED_PROXY_REGRESSIONS)) lost.push(`${key}: ${other?.errorMessage ?? "missing"}`);
        if (passes && key in EXPECTED_PROXY_REGRESSIONS) unexpectedlyKept.push(key);
      }
      assert.deepEqual(lost, [], `checks the server passes but the ${mode} breaks`);
      assert.deepEqual(unexpectedlyKept, [], "listed as expected regressions but passing: remove them from the list");
      for (const key of PROXY_PROVIDES) {
        assert.equal(
          through.get(key)?.status,
          "SUCCESS",
          `${mode}: ${key}: ${through.get(key)?.errorMessage ?? "missing"}`,
        );
      }
      // Scenarios the suite has and the server does not implement fail alike every way.
      assert.ok(
        direct.size > 100 && through.size === direct.size,
        `every scenario ran directly and through the ${mode}`,
      );
    }
  });
});

function assertAgainstExpected(checks: Map<string, Check>, expected: Record<string, string>): void {
  const unexpected = failing(checks).filter((entry) => !Object.keys(expected).some((key) => entry.startsWith(key)));
  assert.deepEqual(unexpected, [], "checks that fail without being listed as expected failures");
  const stale = Object.keys(expected).filter((key) => checks.get(key)?.status !== "FAILURE");
  assert.deepEqual(stale, [], "listed as expected failures but passing: remove them from the list");
}
