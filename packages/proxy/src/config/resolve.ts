// The values the proxy derives from a validated configuration, computed once: the public
// base and the resource identifier, the accepted token audiences, the allowed origins, the
// path scopes, and the authentication modes as a discriminated union, so code that runs in
// oidc mode gets the provider's client id and discovery URL typed as present.
import type { Config } from "./schema.ts";

/** The provider settings once auth.mode is oidc: validation made these two required. */
export type OidcSettings = Config["oidc"] & { discovery_url: string; client_id: string };

/** How MCP clients (bearer tokens) are authorized; see mcp_auth.mode in schema.ts. */
export type McpAuthMode =
  | { mode: "off" }
  /** Tokens of the upstream provider; `audiences` is what their aud must contain. */
  | { mode: "provider"; audiences: ReadonlySet<string> }
  | { mode: "proxy" };

export type AuthMode =
  | { mode: "bypass"; user: Config["auth"]["bypass_user"] }
  | { mode: "oidc"; oidc: OidcSettings; mcp: McpAuthMode };

export interface ResolvedConfig {
  config: Config;
  auth: AuthMode;
  /** The URL clients reach the proxy at, without a trailing slash (public_url or the listen address). */
  publicBase: string;
  /** This MCP server's resource identifier (RFC 8707), without a trailing slash. */
  resource: string;
  /** Origins allowed besides the public URL's (server.allowed_origins, as origins). */
  extraOrigins: readonly string[];
  /** With a configured public URL, every allowed origin; undefined when it follows the request. */
  fixedOrigins: ReadonlySet<string> | undefined;
  /** The configured public URL's host and scheme ("https"), when there is one. */
  publicHost: string | undefined;
  publicProtocol: string | undefined;
  /** Scopes per path prefix, longest prefix first (the first match wins). */
  pathScopes: readonly [string, string[]][];
  /** Every scope a token may need here: advertised in the metadata documents. */
  scopesSupported: string[];
  /** How long a verified bearer token is reused on a replica, in either mcp_auth mode. */
  tokenCacheTtlMs: number;
}

/** Provider JWTs cannot be revoked, so re-checking their signature is the only cost saved. */
const PROVIDER_TOKEN_CACHE_TTL_MS = 30_000;

/**
 * mcp_auth.token_cache_ttl when set; else 30 s for provider JWTs and, for the proxy's own
 * tokens, session.cache_ttl: a token revoked on another replica is refused here as soon as a
 * session ended there would be.
 */
function tokenCacheTtl(config: Config): number {
  const configured = config.mcp_auth.token_cache_ttl;
  if (configured !== undefined) return configured;
  return config.mcp_auth.mode === "proxy" ? config.session.cache_ttl : PROVIDER_TOKEN_CACHE_TTL_MS;
}

/** Raised when a configuration that skipped validation reaches the proxy without what a mode needs. */
export class UnresolvedConfigError extends Error {}

export function listenUrl(server: Config["server"]): string {
  const host = server.host === "0.0.0.0" || server.host === "::" ? "localhost" : server.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
}

function authMode(config: Config, resource: string): AuthMode {
  if (config.auth.mode === "bypass") return { mode: "bypass", user: config.auth.bypass_user };
  const { discovery_url, client_id } = config.oidc;
  if (!discovery_url || !client_id) {
    throw new UnresolvedConfigError("oidc.discovery_url and oidc.client_id: required when auth.mode is oidc");
  }
  const oidc = { ...config.oidc, discovery_url, client_id };
  const { mcp_auth } = config;
  if (mcp_auth.mode !== "provider") return { mode: "oidc", oidc, mcp: { mode: mcp_auth.mode } };
  // A client may send the resource with or without the trailing slash URL parsers add.
  const audiences = new Set(mcp_auth.audiences.length > 0 ? mcp_auth.audiences : [resource, `${resource}/`]);
  return { mode: "oidc", oidc, mcp: { mode: "provider", audiences } };
}

/** Scopes per path prefix, longest prefix first (the first match wins). */
function sortedPathScopes(config: Config): [string, string[]][] {
  return Object.entries(config.mcp_auth.path_scopes).sort(([a], [b]) => b.length - a.length);
}

/**
 * Every scope a token may need here: the required ones, the paths' and, so that a client told
 * to step up to one can get it, those the MCP policy's rules name. Fixed at start: the
 * metadata and the authorization server are built with it (decision 048).
 */
export function supportedScopes(config: Config): string[] {
  return [
    ...new Set([
      ...config.mcp_auth.required_scopes,
      ...sortedPathScopes(config).flatMap(([, scopes]) => scopes),
      ...config.mcp_policy.rules.flatMap((rule) => rule.scopes ?? []),
    ]),
  ];
}

/** Derives everything once; `config` must have passed validateConfig. */
export function resolveConfig(config: Config): ResolvedConfig {
  const publicUrl = config.server.public_url ? new URL(config.server.public_url) : undefined;
  const publicBase = (config.server.public_url ?? listenUrl(config.server)).replace(/\/$/, "");
  const resource = (config.mcp_auth.resource ?? publicBase).replace(/\/$/, "");
  const extraOrigins = config.server.allowed_origins.map((origin) => new URL(origin).origin);
  const pathScopes = sortedPathScopes(config);
  return {
    config,
    auth: authMode(config, resource),
    publicBase,
    resource,
    extraOrigins,
    fixedOrigins: publicUrl ? new Set([publicUrl.origin, ...extraOrigins]) : undefined,
    publicHost: publicUrl?.host,
    publicProtocol: publicUrl?.protocol.slice(0, -1),
    pathScopes,
    scopesSupported: supportedScopes(config),
    tokenCacheTtlMs: tokenCacheTtl(config),
  };
}
