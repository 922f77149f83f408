// The environment every bench runs mcp-oidc-proxy with (make bench, bench-memory, bench/cpu.ts):
// the bundle behind the image's entrypoint sized for `memoryLimitMiB`, in front of the bench's
// upstream, signed in through its dev provider, sessions in its redis-server; how each bench
// starts it there and waits until it is ready; the MCP requests the benches send; and that
// provider, which signs with a key the bench holds too, so it mints access tokens as the
// provider would (mcp_auth.mode provider).
import type { ChildProcess } from "node:child_process";
import path from "node:path";
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

/** The image's entrypoint (heap sized from MCP_MEMORY_LIMIT), which every bench runs Node processes through. */
export const NODE_MEMORY = path.resolve(import.meta.dirname, "../../../deployments/docker/node-memory.sh");

/** The headers of an MCP client's POST, on every measured request. */
export const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };
/** The request of every run but the tool-call rows: a list the MCP policy would not filter (none is on). */
export const TOOLS_LIST = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" });
/** The policy rows' request: a tools/call the policy allows (it reads and judges the body). */
export const TOOLS_CALL = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "tools/call",
  params: { name: "echo", arguments: { text: "hello" } },
});

/** Polls `url` until it answers 200; with `child`, rejects once that process has exited instead. */
export async function untilReady(url: string, child?: ChildProcess): Promise<void> {
  while ((await fetch(url).catch(() => undefined))?.status !== 200) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`${url}: the process exited before it was ready`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** How a bench starts a process (and keeps it, to kill at the end). */
export type StartProcess = (
  command: string,
  args: string[],
  env: Record<string, string>,
) => ChildProcess | Promise<ChildProcess>;

export interface BenchProxyProcess {
  /** What runs: the bundle, or another build or the sources. */
  entry: string;
  /** Node's own flags (profiling, inspector). */
  nodeArgs?: string[];
  /** The proxy's flags. */
  proxyArgs?: string[];
  /** Over benchProxyEnv. */
  env?: Record<string, string>;
}

/** The proxy behind the image's entrypoint with the bench's environment; resolves once it answers /readyz (provider discovered, Redis connected). */
export async function startBenchProxy(
  start: StartProcess,
  proxy: BenchProxy,
  { entry, nodeArgs = [], proxyArgs = [], env = {} }: BenchProxyProcess,
): Promise<ChildProcess> {
  const child = await start(NODE_MEMORY, [process.execPath, ...nodeArgs, entry, ...proxyArgs], {
    ...benchProxyEnv(proxy),
    ...env,
  });
  await untilReady(`http://127.0.0.1:${proxy.port}/readyz`, child);
  return child;
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
