// oauth2-proxy (Go) for make bench: the reference the proxy is measured against, configured
// like the bench's mcp-oidc-proxy: loopback only, in front of the same trivial upstream,
// sessions in the same redis-server, signed in through the same dev OpenID provider. The
// binary is built once per machine from the pinned Go module (scripts/ensure-oauth2-proxy.sh).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";

export const OAUTH2_PROXY_CLIENT = { client_id: "bench-oauth2-proxy", client_secret: "bench-oauth2-proxy-secret" };

/** The cached oauth2-proxy binary (built on first use: a few minutes). */
export function oauth2ProxyBinary(): string {
  const script = path.resolve(import.meta.dirname, "../../../scripts/ensure-oauth2-proxy.sh");
  return execFileSync(script, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/** Its command line: flags only (no config file), each a documented oauth2-proxy flag. */
export function oauth2ProxyArgs(options: { port: number; upstreamPort: number; issuer: string; redisUrl: string }) {
  return [
    `--http-address=127.0.0.1:${options.port}`,
    `--upstream=http://127.0.0.1:${options.upstreamPort}/`,
    "--provider=oidc",
    `--oidc-issuer-url=${options.issuer}`,
    `--client-id=${OAUTH2_PROXY_CLIENT.client_id}`,
    `--client-secret=${OAUTH2_PROXY_CLIENT.client_secret}`,
    `--redirect-url=http://127.0.0.1:${options.port}/oauth2/callback`,
    "--code-challenge-method=S256",
    "--email-domain=*",
    // A 32-byte secret: the session cookie then holds only the ticket of the Redis session.
    `--cookie-secret=${randomBytes(16).toString("hex")}`,
    "--cookie-secure=false",
    "--session-store-type=redis",
    `--redis-connection-url=${options.redisUrl}`,
    "--skip-provider-button=true",
    // Like the bench's mcp-oidc-proxy (LOG_LEVEL=warn): no line per request.
    "--request-logging=false",
    "--auth-logging=false",
  ];
}
