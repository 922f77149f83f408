// The environment every bench runs mcp-oidc-proxy with (make bench, bench-memory, bench/cpu.ts):
// the bundle behind the image's entrypoint sized for `memoryLimitMiB`, in front of the bench's
// upstream, signed in through its dev provider, sessions in its redis-server.
export interface BenchProxy {
  port: number;
  upstreamPort: number;
  issuer: string;
  redisUrl: string;
  memoryLimitMiB: number;
  mcpAuthMode?: "provider" | "proxy";
}

export function benchProxyEnv(proxy: BenchProxy): Record<string, string> {
  return {
    MCP_MEMORY_LIMIT: String(proxy.memoryLimitMiB * 2 ** 20),
    MCP_HOST: "127.0.0.1",
    MCP_PORT: String(proxy.port),
    MCP_PUBLIC_URL: `http://127.0.0.1:${proxy.port}`,
    MCP_TARGET_PORT: String(proxy.upstreamPort),
    OIDC_DISCOVERY_URL: proxy.issuer,
    OIDC_CLIENT_ID: "bench",
    OIDC_CLIENT_SECRET: "bench-secret",
    SESSION_STORE: "redis",
    REDIS_URL: proxy.redisUrl,
    SESSION_SECRET: "bench-session-secret-0123456789abcdef",
    MCP_AUTH_MODE: proxy.mcpAuthMode ?? "provider",
    LOG_LEVEL: "warn",
  };
}
