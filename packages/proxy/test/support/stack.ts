// The whole cast on loopback for an integration test: the development OpenID provider, the
// demo MCP server and one or more proxies configured through their environment variables,
// optionally with their sessions in a redis-server of their own.
import {
  type DevIdentityProvider,
  type DevIdentityProviderOptions,
  startDevIdentityProvider,
} from "../../dev/identity-provider.ts";
import { type DemoMcpServer, type DemoMcpServerOptions, startDemoMcpServer } from "../../dev/mcp-server.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { type RunningProxy, startProxy } from "../../src/proxy-server.ts";
import { freePort } from "./ports.ts";
import { startRedis, type TestRedis } from "./redis-server.ts";

export const CLIENT_ID = "test-proxy";
export const CLIENT_SECRET = "test-proxy-secret";
export const SESSION_SECRET = "test-session-secret-0123456789abcdef";

export interface Stack {
  idp: DevIdentityProvider;
  mcp: DemoMcpServer;
  proxies: RunningProxy[];
  /** Port i of the proxies (stable across restarts). */
  ports: number[];
  envFor(index: number): Record<string, string>;
  /**
   * Starts the provider again at the same address after `stack.idp.close()`, with no memory
   * of earlier grants (as after a restart without persistence), optionally with other keys.
   */
  reviveProvider(changes?: Pick<DevIdentityProviderOptions, "signingKeys">): Promise<DevIdentityProvider>;
  /** Starts (or restarts) proxy `index` with its environment plus `extra`. */
  startProxy(index: number, extra?: Record<string, string>): Promise<RunningProxy>;
  close(): Promise<void>;
}

export interface StackOptions {
  proxies?: number;
  env?: Record<string, string>;
  accessTokenTtl?: number;
  mcp?: DemoMcpServerOptions;
  /** Extra settings of the development provider (signing keys, MCP resource scope). */
  idp?: Pick<
    DevIdentityProviderOptions,
    "signingKeys" | "mcpResourceScope" | "tls" | "claimsOnlyInUserinfo" | "omitEmailVerified"
  >;
  /** One public URL for all proxies (a load balancer in front of them); default: each its own. */
  publicUrl?: string;
  /** A YAML config file under the environment (for settings without an environment variable). */
  configFile?: string;
  /** The proxies' logger (to capture what they log); default: their own, on stdout. */
  logger?: Logger;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const count = options.proxies ?? 1;
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const publicUrls = ports.map((port) => options.publicUrl ?? `http://127.0.0.1:${port}`);
  const providerOptions: DevIdentityProviderOptions = {
    // Another host name than the proxies' (127.0.0.1), as in real life: the browser keeps
    // the provider's cookies apart from the proxy's (cookies ignore ports).
    host: "localhost",
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [...new Set(publicUrls)].map((url) => `${url}/callback`),
        post_logout_redirect_uris: [...new Set(publicUrls)].map((url) => `${url}/`),
        grant_types: ["authorization_code", "refresh_token"],
      },
    ],
    ...(options.accessTokenTtl ? { accessTokenTtl: options.accessTokenTtl } : {}),
    ...options.idp,
  };
  const idp = await startDevIdentityProvider(providerOptions);
  const mcp = await startDemoMcpServer(options.mcp);
  const envFor = (index: number): Record<string, string> => ({
    MCP_HOST: "127.0.0.1",
    MCP_PORT: String(ports[index]),
    MCP_PUBLIC_URL: publicUrls[index] as string,
    MCP_TARGET_URL: mcp.url,
    OIDC_DISCOVERY_URL: idp.issuer,
    OIDC_CLIENT_ID: CLIENT_ID,
    OIDC_CLIENT_SECRET: CLIENT_SECRET,
    OIDC_POST_LOGOUT_REDIRECT_URL: `${publicUrls[index]}/`,
    SESSION_SECRET,
    LOG_LEVEL: "error",
    ...options.env,
  });
  const proxies: RunningProxy[] = [];
  const stack: Stack = {
    idp,
    mcp,
    proxies,
    ports,
    envFor,
    async startProxy(index, extra = {}) {
      const { config } = loadConfig({
        env: { ...envFor(index), ...extra },
        ...(options.configFile ? { file: options.configFile } : {}),
      });
      const proxy = await startProxy(config, options.logger ? { logger: options.logger } : {});
      proxies[index] = proxy;
      return proxy;
    },
    async reviveProvider(changes = {}) {
      const issuer = new URL(stack.idp.issuer);
      stack.idp = await startDevIdentityProvider({
        ...providerOptions,
        ...changes,
        host: issuer.hostname,
        port: Number(issuer.port),
      });
      return stack.idp;
    },
    async close() {
      for (const proxy of proxies) await proxy?.shutdown();
      await mcp.close();
      await stack.idp.close();
    },
  };
  for (let i = 0; i < count; i++) await stack.startProxy(i);
  return stack;
}

export interface RedisStack {
  stack: Stack;
  redis: TestRedis;
  /** Stops the stack, then Redis. */
  close(): Promise<void>;
}

/** A stack whose proxies keep their sessions in a redis-server started for it (`options.env` may add to that). */
export async function startStackWithRedis(options: StackOptions = {}): Promise<RedisStack> {
  const redis = await startRedis();
  const stack = await startStack({ ...options, env: { SESSION_STORE: "redis", REDIS_URL: redis.url, ...options.env } });
  return { stack, redis, close: () => stack.close().then(() => redis.close()) };
}

/** An MCP SDK client over Streamable HTTP that carries the browser's session cookie. */
export async function connectMcpClient(url: string, fetchWithCookies: typeof fetch) {
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  const client = new Client({ name: "integration-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: fetchWithCookies });
  await client.connect(transport);
  return { client, transport };
}
