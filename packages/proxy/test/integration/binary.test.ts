// The single executable (make binary, which make test runs first): one file, no Node or
// node_modules beside it, run with a config file the way a user runs it on a server, in
// front of a real MCP server with a real provider, and used by the SDK's OAuth client.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type DevIdentityProvider, startDevIdentityProvider } from "../../dev/identity-provider.ts";
import { type DemoMcpServer, startDemoMcpServer } from "../../dev/mcp-server.ts";
import { VERSION } from "../../src/version.ts";
import { connectWithOAuth } from "../support/mcp-oauth-client.ts";
import { freePort } from "../support/ports.ts";
import { finished, logLine } from "../support/process.ts";

const BINARY = path.resolve(import.meta.dirname, "../../../../dist/mcp-oidc-proxy");

/** Runs the binary from an empty directory with an environment that has no Node on PATH. */
function runBinary(args: string[], cwd: string) {
  return spawn(BINARY, args, { cwd, env: { PATH: "/usr/bin:/bin" }, stdio: ["ignore", "pipe", "pipe"] });
}

describe("single executable", () => {
  let idp: DevIdentityProvider;
  let mcp: DemoMcpServer;
  let dir: string;
  let port: number;

  before(async () => {
    assert.ok(existsSync(BINARY), "dist/mcp-oidc-proxy is missing: run make binary");
    port = await freePort();
    idp = await startDevIdentityProvider({
      host: "localhost",
      clients: [
        {
          client_id: "binary",
          client_secret: "binary-secret",
          redirect_uris: [`http://127.0.0.1:${port}/callback`],
          grant_types: ["authorization_code", "refresh_token"],
        },
      ],
    });
    mcp = await startDemoMcpServer();
    dir = mkdtempSync(path.join(tmpdir(), "mcp-binary-"));
  });
  after(async () => {
    await mcp.close();
    await idp.close();
  });

  it("prints its version, and refuses an invalid config naming the field (exit 2)", async () => {
    const version = await finished(runBinary(["--version"], dir));
    assert.equal(version.stdout.trim(), VERSION);
    writeFileSync(path.join(dir, "bad.yaml"), "server:\n  port: eighty\n");
    const bad = await finished(runBinary(["--config", "bad.yaml"], dir));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /server\.port/);
  });

  it("runs from a config file, signs an MCP client in and proxies its calls, and stops on SIGTERM", async () => {
    writeFileSync(
      path.join(dir, "config.yaml"),
      [
        "server:",
        "  host: 127.0.0.1",
        `  port: ${port}`,
        `  public_url: http://127.0.0.1:${port}`,
        "target:",
        `  url: ${mcp.url}`,
        "oidc:",
        `  discovery_url: ${idp.issuer}`,
        "  client_id: binary",
        "  client_secret: binary-secret",
        "session:",
        "  secret: binary-session-secret-0123456789abcdef",
        "mcp_auth:",
        "  mode: proxy",
        "",
      ].join("\n"),
    );
    const proxy = runBinary(["--config", "config.yaml"], dir);
    const exited = finished(proxy);
    try {
      const listening = await logLine(proxy, "mcp-oidc-proxy listening");
      assert.equal(listening.version, VERSION);
      const { client } = await connectWithOAuth(`http://127.0.0.1:${port}/mcp`, "alice");
      const who = await client.callTool({ name: "whoami", arguments: {} });
      assert.match((who.content as { text: string }[])[0]?.text ?? "", /"x-user-id":"alice"/);
      await client.close();
    } finally {
      proxy.kill("SIGTERM");
    }
    const { code, stdout } = await exited;
    assert.equal(code, 0);
    assert.match(stdout, /shutdown complete/);
  });
});
