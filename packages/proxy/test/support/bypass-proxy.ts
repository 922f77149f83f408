// A proxy in bypass mode (no sign-in) in front of `target`, configured through its environment
// and, for startBypassProxy, a YAML text written to a temporary file as a user's --config would
// be: for tests of what the proxy does to MCP traffic (policy, lists, streams, headers, tracing)
// without the sign-in in the way.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { type RunningProxy, startProxy } from "../../src/proxy-server.ts";
import { freePort } from "./ports.ts";

export interface BypassProxy {
  proxy: RunningProxy;
  /** The MCP endpoint through the proxy. */
  mcpUrl: string;
  close(): Promise<void>;
}

export interface BypassProxyOptions {
  /** Environment variables over the defaults; one set to undefined is left unset. */
  env?: Record<string, string | undefined>;
  /** A YAML config file under the environment. */
  file?: string;
  /** The proxy's logger (to capture what it logs); default: its own, on stdout. */
  logger?: Logger;
  /** Adjusts settings that have no environment variable. */
  changes?: (config: Config) => void;
  /** The clock by which an unwritable audit file is retried. */
  auditClock?: () => number;
}

/** A proxy without sign-in in front of `target`, at its own public URL (http://127.0.0.1:port). */
export async function bypassProxy(target: string, options: BypassProxyOptions = {}): Promise<RunningProxy> {
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    MCP_HOST: "127.0.0.1",
    MCP_PORT: String(port),
    MCP_PUBLIC_URL: `http://127.0.0.1:${port}`,
    MCP_TARGET_URL: target,
    AUTH_MODE: "bypass",
    LOG_LEVEL: "error",
    ...options.env,
  };
  const defined = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => !!entry[1]));
  const { config } = loadConfig({ env: defined, ...(options.file ? { file: options.file } : {}) });
  options.changes?.(config);
  return startProxy(config, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.auditClock ? { auditClock: options.auditClock } : {}),
  });
}

/** A bypass proxy (no public URL: the listen address) configured by `yaml` as a --config file. */
export async function startBypassProxy(yaml: string, target: string, logger?: Logger): Promise<BypassProxy> {
  const dir = mkdtempSync(path.join(tmpdir(), "mcp-bypass-proxy-"));
  const file = path.join(dir, "config.yaml");
  writeFileSync(file, yaml);
  const proxy = await bypassProxy(target, { file, env: { MCP_PUBLIC_URL: undefined }, ...(logger ? { logger } : {}) });
  return {
    proxy,
    mcpUrl: `${proxy.url}/mcp`,
    async close() {
      await proxy.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
