// A proxy in bypass mode (no sign-in) in front of `target`, configured by a YAML text written
// to a temporary file as a user's --config would be: for tests of what the proxy does to MCP
// traffic (policy, lists, streams) without the sign-in in the way.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { type RunningProxy, startProxy } from "../../src/proxy-server.ts";
import { freePort } from "./ports.ts";

export interface BypassProxy {
  proxy: RunningProxy;
  /** The MCP endpoint through the proxy. */
  mcpUrl: string;
  close(): Promise<void>;
}

export async function startBypassProxy(yaml: string, target: string): Promise<BypassProxy> {
  const dir = mkdtempSync(path.join(tmpdir(), "mcp-bypass-proxy-"));
  const file = path.join(dir, "config.yaml");
  writeFileSync(file, yaml);
  const port = await freePort();
  const { config } = loadConfig({
    file,
    env: {
      AUTH_MODE: "bypass",
      MCP_HOST: "127.0.0.1",
      MCP_PORT: String(port),
      MCP_TARGET_URL: target,
      LOG_LEVEL: "error",
    },
  });
  const proxy = await startProxy(config);
  return {
    proxy,
    mcpUrl: `${proxy.url}/mcp`,
    async close() {
      await proxy.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
