// Rules that span several fields, which the schema alone cannot say. Returns every
// problem, each naming the field and how to fix it.
import { isIP } from "node:net";
import ms from "ms";
import proxyAddr from "proxy-addr";
import { globProblem } from "../mcp/globs.ts";
import { isHostEntry } from "../middleware/host-check.ts";
import { type Config, PUBLIC_URL_PATTERN } from "./schema.ts";

const MIN_SECRET_LENGTH = 32;

export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || hostname === "::1" || /^127\./.test(hostname);
}

export function validateConfig(config: Config): string[] {
  return [
    ...authProblems(config),
    ...serverProblems(config),
    ...targetProblems(config),
    ...mcpAuthProblems(config),
    ...sessionProblems(config),
    ...redisProblems(config),
    ...secretSourceProblems(config),
    ...listProblems(config),
    ...mcpPolicyProblems(config),
  ];
}

function issuerProblems(config: Config, discoveryUrl: string): string[] {
  const issuer = new URL(discoveryUrl);
  if (issuer.protocol !== "http:" || isLoopbackHost(issuer.hostname)) return [];
  if (config.environment === "production")
    return [`oidc.discovery_url: must be https in production (got ${discoveryUrl})`];
  if (config.oidc.allow_insecure_issuer) return [];
  return [
    `oidc.discovery_url: ${discoveryUrl} is plain http; use https or set oidc.allow_insecure_issuer: true for a test provider`,
  ];
}

function authProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.auth.mode === "bypass" && config.environment === "production") {
    problems.push(
      'auth.mode: "bypass" turns authentication off and is refused when environment is production; use "oidc"',
    );
  }
  if (config.auth.mode !== "oidc") return problems;
  if (!config.oidc.discovery_url) {
    problems.push(
      "oidc.discovery_url: required when auth.mode is oidc (the provider's issuer URL; env OIDC_DISCOVERY_URL)",
    );
  } else {
    problems.push(...issuerProblems(config, config.oidc.discovery_url));
  }
  if (!config.oidc.client_id) {
    problems.push("oidc.client_id: required when auth.mode is oidc (env OIDC_CLIENT_ID)");
  }
  if (!config.oidc.scopes.includes("openid")) {
    problems.push('oidc.scopes: must include "openid" (the proxy signs users in with OpenID Connect)');
  }
  return problems;
}

function serverProblems(config: Config): string[] {
  const problems: string[] = [];
  const { headers_timeout: headers, request_timeout: request } = config.server;
  if (headers === 0) problems.push("server.headers_timeout: must be more than 0 (slow headers would hold connections)");
  if (request !== 0 && request < headers) {
    problems.push(
      `server.request_timeout: must be at least server.headers_timeout (${headers / 1000}s) or 0, since headers are part of the request`,
    );
  }
  if (config.environment === "production" && !config.server.public_url) {
    problems.push(
      "server.public_url: required in production, the URL clients use (e.g. https://mcp.example.com); env MCP_PUBLIC_URL",
    );
  }
  const publicUrl = config.server.public_url;
  if (publicUrl !== undefined && !PUBLIC_URL_PATTERN.test(publicUrl)) problems.push(publicUrlProblem(publicUrl));
  problems.push(...trustProxyProblems(config.server.trust_proxy));
  if (config.environment === "production" && config.metrics.enabled && config.metrics.port === 0) {
    problems.push(
      "metrics.port: give metrics their own port in production (e.g. 9090; env METRICS_PORT): on server.port they would be public (tool names, denials), or set metrics.enabled: false",
    );
  }
  if (config.metrics.port !== 0 && config.metrics.port === config.server.port) {
    problems.push(`metrics.port: ${config.metrics.port} is also server.port; choose another port or 0 to share it`);
  }
  return problems;
}

/** Why a public URL is not an origin; credentials in it are named, never shown. */
function publicUrlProblem(publicUrl: string): string {
  const url = URL.parse(publicUrl);
  if (url && (url.username || url.password)) {
    return `server.public_url: must be an origin such as https://mcp.example.com, without a user name or password (got ${url.protocol}//…@${url.host}): clients reach the proxy at it and browsers refuse credentials in it`;
  }
  return `server.public_url: must be an origin such as https://mcp.example.com, with no path, query or fragment (got ${publicUrl}): the proxy serves /mcp, /callback, /oauth/* and /.well-known/* at the root of its host and cannot be served under a path prefix; give it a host name of its own`;
}

/** Each listed address as Express reads it (proxy-addr): an IP, a CIDR range or a named range. */
function trustProxyProblems(trust: Config["server"]["trust_proxy"]): string[] {
  if (!Array.isArray(trust)) return [];
  return trust.flatMap((entry) => {
    try {
      // proxy-addr reads "1" or "0x1" as 0.0.0.1: the address must be one as Node reads them.
      const named = ["loopback", "linklocal", "uniquelocal"].includes(entry);
      if (!named && isIP(entry.split("/")[0] as string) === 0) throw new Error("not an address");
      proxyAddr.compile(entry);
      return [];
    } catch {
      return [
        `server.trust_proxy: "${entry}" is not an IP address, a CIDR range (10.0.0.0/8) or one of loopback, linklocal, uniquelocal (env MCP_TRUST_PROXY)`,
      ];
    }
  });
}

function targetProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.target.urls.length > 0 && config.target.url !== undefined) {
    problems.push("target.urls: set either target.url (one endpoint) or target.urls (several), not both");
  }
  if (config.target.discovery === "dns" && config.target.urls.length > 0) {
    problems.push("target.discovery: dns resolves the host of target.url (or target.host); leave target.urls empty");
  }
  if (config.target.discovery === "dns" && config.target.dns_refresh_interval === 0) {
    problems.push("target.dns_refresh_interval: must be more than 0 with discovery dns (replicas come and go)");
  }
  return problems;
}

function mcpAuthProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.mcp_auth.mode === "provider" && config.auth.mode !== "oidc") {
    problems.push('mcp_auth.mode: "provider" validates tokens of the OpenID provider, so auth.mode must be "oidc"');
  }
  if (config.mcp_auth.mode !== "proxy") return problems;
  if (config.auth.mode !== "oidc") {
    problems.push(
      'mcp_auth.mode: "proxy" signs MCP clients\' users in at the OpenID provider, so auth.mode must be "oidc"',
    );
  }
  // A client forgotten while its refresh token lives loses the grant at its next refresh
  // (unknown client); a client kept longer than its tokens only waits for a new sign-in.
  const { client_ttl: clientTtl, refresh_token_ttl: refreshTtl } = config.mcp_auth.server;
  if (clientTtl !== 0 && clientTtl < refreshTtl) {
    problems.push(
      `mcp_auth.server.client_ttl: must be at least mcp_auth.server.refresh_token_ttl (${ms(refreshTtl)}) or 0 (got ${ms(clientTtl)}): a client forgotten after its last use would strand the refresh tokens it still holds (env MCP_CLIENT_TTL)`,
    );
  }
  return problems;
}

function sessionProblems(config: Config): string[] {
  const problems: string[] = [];
  const production = config.environment === "production";
  if (config.session.store_timeout === 0) {
    problems.push("session.store_timeout: must be more than 0 (a hung store would hang requests)");
  }
  const secrets = config.session.secret ?? [];
  if (secrets.length === 0 && (production || config.session.store === "redis")) {
    problems.push(
      `session.secret: required ${production ? "in production" : "with the redis store"} so every instance signs cookies alike; set SESSION_SECRET or session.secret_file (${MIN_SECRET_LENGTH}+ random characters)`,
    );
  }
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) {
      problems.push(
        `session.secret: each secret needs at least ${MIN_SECRET_LENGTH} characters (one has ${secret.length})`,
      );
    }
  }
  if (config.session.cookie_same_site === "none" && config.session.cookie_secure === "never") {
    problems.push(
      'session.cookie_same_site: "none" requires Secure cookies; set session.cookie_secure to auto or always',
    );
  }
  return problems;
}

function redisProblems(config: Config): string[] {
  const problems: string[] = [];
  if ((config.redis.mode === "sentinel" || config.redis.mode === "cluster") && config.redis.nodes.length === 0) {
    problems.push(`redis.nodes: required when redis.mode is ${config.redis.mode} (host:port list)`);
  }
  for (const node of config.redis.nodes) {
    if (!/^[^:\s]+:\d+$/.test(node)) problems.push(`redis.nodes: "${node}" is not host:port`);
  }
  return problems;
}

/** Entries of lists the schema takes as text: paths, origins, host names. */
function listProblems(config: Config): string[] {
  const problems: string[] = [];
  for (const publicPath of config.access.public_paths) {
    if (!publicPath.startsWith("/")) problems.push(`access.public_paths: "${publicPath}" must start with /`);
  }
  for (const origin of config.server.allowed_origins) {
    if (!URL.canParse(origin)) problems.push(`server.allowed_origins: "${origin}" is not an origin`);
  }
  for (const host of config.server.allowed_hosts) {
    if (!isHostEntry(host)) {
      problems.push(
        `server.allowed_hosts: "${host}" is not a host name (write e.g. mcp.example.com, no scheme or path)`,
      );
    }
  }
  return problems;
}

/** Rules of mcp_policy the schema cannot say. */
function mcpPolicyProblems(config: Config): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  config.mcp_policy.rules.forEach((rule, index) => {
    const field = `mcp_policy.rules[${index}]${rule.name ? ` (${rule.name})` : ""}`;
    if (rule.tools.length + rule.resources.length + rule.prompts.length === 0) {
      problems.push(`${field}: names no tools, resources or prompts; list the globs the rule covers`);
    }
    for (const kind of ["tools", "resources", "prompts"] as const) {
      rule[kind].forEach((glob, at) => {
        const problem = globProblem(glob, kind);
        if (problem) problems.push(`${field}.${kind}[${at}]: ${problem}`);
      });
    }
    if (rule.name !== undefined) {
      if (names.has(rule.name)) problems.push(`${field}: the name "${rule.name}" is used by another rule`);
      names.add(rule.name);
    }
    if ((rule.clients.length > 0 || rule.scopes.length > 0) && config.mcp_auth.mode === "off") {
      problems.push(
        `${field}: clients and scopes are properties of bearer tokens, so mcp_auth.mode must be "proxy" or "provider"`,
      );
    }
  });
  const audit = config.mcp_policy.audit;
  if (audit.arguments_key !== undefined && audit.arguments_key.length < MIN_SECRET_LENGTH) {
    problems.push(`mcp_policy.audit.arguments_key: needs at least ${MIN_SECRET_LENGTH} characters`);
  }
  return problems;
}

/** Rules of the secret sources, checked before their secrets are fetched. */
export function secretSourceProblems(config: Config): string[] {
  const problems: string[] = [];
  const vault = config.vault;
  if (vault.enabled ?? vault.secrets.length > 0) {
    if (!vault.address) problems.push("vault.address: required to fetch secrets from Vault (env VAULT_ADDR)");
    if (vault.auth_method === "token" && !vault.token && !vault.token_file) {
      problems.push("vault.token: required with auth_method token (env VAULT_TOKEN, or vault.token_file)");
    }
    if (vault.auth_method === "kubernetes" && !vault.role) {
      problems.push("vault.role: required with auth_method kubernetes (env VAULT_ROLE)");
    }
    if (vault.secrets.length === 0) problems.push("vault.secrets: Vault is enabled but no secret is listed");
  }
  const aws = config.aws_secrets_manager;
  if ((aws.enabled ?? false) && aws.secrets.length === 0) {
    problems.push("aws_secrets_manager.secrets: AWS Secrets Manager is enabled but no secret is listed");
  }
  return problems;
}
