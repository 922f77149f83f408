// What every packaged form of the proxy (the production bundle, the single executable) is
// tried with: a provider that knows the proxy as its client, a real MCP server, a config file
// the way a user writes one, and the run a user makes of it: the SDK's OAuth client signs in,
// calls a tool as alice, and SIGTERM stops the proxy cleanly.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { type DevIdentityProvider, startDevIdentityProvider } from "../../dev/identity-provider.ts";
import { type DemoMcpServer, startDemoMcpServer } from "../../dev/mcp-server.ts";
import { VERSION } from "../../src/version.ts";
import { connectWithOAuth } from "./mcp-oauth-client.ts";
import { finished, logLine } from "./process.ts";

export interface PackagedStack {
  idp: DevIdentityProvider;
  mcp: DemoMcpServer;
  close(): Promise<void>;
}

/** The provider (with `clientId` registered for the proxy on `port`) and the MCP server. */
export async function startPackagedStack(clientId: string, port: number): Promise<PackagedStack> {
  const idp = await startDevIdentityProvider({
    host: "localhost",
    clients: [
      {
        client_id: clientId,
        client_secret: `${clientId}-secret`,
        redirect_uris: [`http://127.0.0.1:${port}/callback`],
        grant_types: ["authorization_code", "refresh_token"],
      },
    ],
  });
  const mcp = await startDemoMcpServer();
  return {
    idp,
    mcp,
    async close() {
      await mcp.close();
      await idp.close();
    },
  };
}

/** Writes `dir/config.yaml`: the proxy on `port` as its own authorization server; sessions in Redis when given. */
export function writePackagedConfig(
  dir: string,
  stack: PackagedStack,
  clientId: string,
  port: number,
  redisUrl?: string,
) {
  const lines = [
    "server:",
    "  host: 127.0.0.1",
    `  port: ${port}`,
    `  public_url: http://127.0.0.1:${port}`,
    "target:",
    `  url: ${stack.mcp.url}`,
    "oidc:",
    `  discovery_url: ${stack.idp.issuer}`,
    `  client_id: ${clientId}`,
    `  client_secret: ${clientId}-secret`,
    "session:",
    ...(redisUrl ? ["  store: redis"] : []),
    `  secret: ${clientId}-session-secret-0123456789abcdef`,
    ...(redisUrl ? ["redis:", `  url: ${redisUrl}`] : []),
    "mcp_auth:",
    "  mode: proxy",
    "",
  ];
  writeFileSync(path.join(dir, "config.yaml"), lines.join("\n"));
}

/**
 * Waits until `proxy` listens, runs `whileUp` (checks of the running process), signs alice in
 * with the SDK's OAuth client and calls whoami through it, then stops it with SIGTERM: it must
 * exit 0 having said so.
 */
export async function signInThenStop(proxy: ChildProcess, port: number, whileUp?: () => void): Promise<void> {
  const exited = finished(proxy);
  try {
    const listening = await logLine(proxy, "mcp-oidc-proxy listening");
    assert.equal(listening.version, VERSION);
    whileUp?.();
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
}
