// The environment every bench runs mcp-oidc-proxy with (make bench, bench-memory, bench/cpu.ts):
// the bundle behind the image's entrypoint sized for `memoryLimitMiB`, in front of the bench's
// upstream, signed in through its dev provider, sessions in its redis-server; and that provider,
// which signs with a key the bench holds too, so it mints access tokens as the provider would
// (mcp_auth.mode provider).
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { ClientMetadata } from "oidc-provider";
import { type DevIdentityProvider, startDevIdentityProvider } from "../dev/identity-provider.ts";

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

export interface BenchProvider {
  idp: DevIdentityProvider;
  /** An access token for alice, for `audience` (a proxy's URL), valid for an hour. */
  tokenFor(audience: string): Promise<string>;
}

/** The dev provider with the proxies' client ("bench", redirected to `redirectUris`) and any `others`. */
export async function startBenchProvider(
  redirectUris: string[],
  others: ClientMetadata[] = [],
): Promise<BenchProvider> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: "bench", alg: "RS256", use: "sig" };
  const idp = await startDevIdentityProvider({
    signingKeys: [signingKey],
    host: "localhost",
    clients: [
      {
        client_id: "bench",
        client_secret: "bench-secret",
        redirect_uris: redirectUris,
        grant_types: ["authorization_code", "refresh_token"],
      },
      ...others,
    ],
  });
  const tokenFor = (audience: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: idp.issuer, sub: "alice", aud: audience, iat: now, exp: now + 3600 })
      .setProtectedHeader({ alg: "RS256", kid: "bench" })
      .sign(privateKey);
  };
  return { idp, tokenFor };
}
