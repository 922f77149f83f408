// Where settings come from besides files: the environment (MCP_HOST, OIDC_CLIENT_ID, ...: the
// names the README lists) and command-line flags, in one table: each entry maps one environment variable
// (and, for the most used settings, one flag) onto one config path. Values are passed on as
// text; the schema splits lists and reads numbers and booleans, so a file, a variable and a
// flag are read alike.

/** Secret references ("ENV=source#key,...") are the one syntax read here, not by the schema. */
type Kind = "vaultSecrets" | "awsSecrets";

/** A command-line flag: commander's usage ("--port <port>") and its help text. */
export interface FlagSpec {
  usage: `--${string} <${string}>`;
  description: string;
}

export interface Binding {
  path: string;
  kind?: Kind;
  flag?: FlagSpec;
}

/** Environment variables, documented in configs/config.example.yaml next to each field; some are flags too. */
export const environmentBindings: Readonly<Record<string, Binding>> = {
  MCP_ENV: { path: "environment" },
  MCP_HOST: { path: "server.host", flag: { usage: "--host <address>", description: "listen address" } },
  MCP_PORT: { path: "server.port", flag: { usage: "--port <port>", description: "listen port" } },
  MCP_PUBLIC_URL: {
    path: "server.public_url",
    flag: { usage: "--public-url <url>", description: "URL clients use to reach the proxy" },
  },
  MCP_TRUST_PROXY: { path: "server.trust_proxy" },
  MCP_ALLOWED_ORIGINS: { path: "server.allowed_origins" },
  MCP_ALLOWED_HOSTS: { path: "server.allowed_hosts" },
  MCP_SHUTDOWN_TIMEOUT: { path: "server.shutdown_timeout" },
  MCP_HEADERS_TIMEOUT: { path: "server.headers_timeout" },
  MCP_REQUEST_TIMEOUT: { path: "server.request_timeout" },
  MCP_TARGET_HOST: { path: "target.host", flag: { usage: "--target-host <host>", description: "MCP server host" } },
  MCP_TARGET_PORT: { path: "target.port", flag: { usage: "--target-port <port>", description: "MCP server port" } },
  MCP_TARGET_PROTOCOL: { path: "target.protocol" },
  MCP_TARGET_URL: {
    path: "target.url",
    flag: { usage: "--target-url <url>", description: "MCP server URL, instead of host and port" },
  },
  MCP_TARGET_URLS: { path: "target.urls" },
  MCP_TARGET_DISCOVERY: { path: "target.discovery" },
  MCP_TARGET_DNS_REFRESH_INTERVAL: { path: "target.dns_refresh_interval" },
  MCP_TARGET_HEALTH_PATH: { path: "target.health_path" },
  MCP_SSE_KEEPALIVE_INTERVAL: { path: "target.sse_keepalive_interval" },
  MCP_TARGET_RESPONSE_TIMEOUT: { path: "target.response_timeout" },
  MCP_MAX_STREAMS_PER_USER: { path: "target.max_streams_per_user" },
  AUTH_MODE: { path: "auth.mode", flag: { usage: "--auth-mode <mode>", description: "authentication mode" } },
  OIDC_DISCOVERY_URL: { path: "oidc.discovery_url" },
  OIDC_CLIENT_ID: { path: "oidc.client_id" },
  OIDC_CLIENT_SECRET: { path: "oidc.client_secret" },
  OIDC_CLIENT_SECRET_FILE: { path: "oidc.client_secret_file" },
  OIDC_SCOPES: { path: "oidc.scopes" },
  OIDC_REDIRECT_PATH: { path: "oidc.redirect_path" },
  OIDC_POST_LOGOUT_REDIRECT_URL: { path: "oidc.post_logout_redirect_url" },
  OIDC_GROUPS_CLAIM: { path: "oidc.groups_claim" },
  OIDC_CA_FILE: { path: "oidc.ca_file" },
  OIDC_REFRESH_BEFORE_EXPIRY: { path: "oidc.refresh_before_expiry" },
  OIDC_INSECURE_ALLOW_UNVERIFIED_EMAIL: { path: "oidc.insecure_allow_unverified_email" },
  SESSION_STORE: { path: "session.store", flag: { usage: "--session-store <store>", description: "session store" } },
  SESSION_SECRET: { path: "session.secret" },
  SESSION_SECRET_FILE: { path: "session.secret_file" },
  SESSION_TTL: { path: "session.ttl" },
  SESSION_CACHE_TTL: { path: "session.cache_ttl" },
  SESSION_STORE_TIMEOUT: { path: "session.store_timeout" },
  SESSION_COOKIE_NAME: { path: "session.cookie_name" },
  SESSION_COOKIE_SECURE: { path: "session.cookie_secure" },
  REDIS_MODE: { path: "redis.mode" },
  REDIS_URL: { path: "redis.url", flag: { usage: "--redis-url <url>", description: "Redis URL" } },
  REDIS_PASSWORD: { path: "redis.password" },
  REDIS_PASSWORD_FILE: { path: "redis.password_file" },
  REDIS_NODES: { path: "redis.nodes" },
  REDIS_SENTINEL_NAME: { path: "redis.sentinel_name" },
  REDIS_PREFIX: { path: "redis.prefix" },
  REDIS_OAUTH_PREFIX: { path: "redis.oauth_prefix" },
  ACCESS_PUBLIC_PATHS: { path: "access.public_paths" },
  ACCESS_REQUIRED_GROUPS: { path: "access.required_groups" },
  ACCESS_ALLOWED_EMAIL_DOMAINS: { path: "access.allowed_email_domains" },
  ACCESS_ALLOWED_USERS: { path: "access.allowed_users" },
  MCP_AUTH_MODE: { path: "mcp_auth.mode" },
  MCP_RESOURCE: { path: "mcp_auth.resource" },
  MCP_REQUIRED_SCOPES: { path: "mcp_auth.required_scopes" },
  MCP_TOKEN_AUDIENCES: { path: "mcp_auth.audiences" },
  MCP_TOKEN_CACHE_TTL: { path: "mcp_auth.token_cache_ttl" },
  MCP_JWKS_REFRESH_COOLDOWN: { path: "mcp_auth.jwks_refresh_cooldown" },
  MCP_ACCESS_TOKEN_TTL: { path: "mcp_auth.server.access_token_ttl" },
  MCP_REFRESH_TOKEN_TTL: { path: "mcp_auth.server.refresh_token_ttl" },
  MCP_CLIENT_TTL: { path: "mcp_auth.server.client_ttl" },
  MCP_PREAPPROVED_CLIENTS: { path: "mcp_auth.server.preapproved_clients" },
  MCP_CLIENT_METADATA_DOCUMENTS: { path: "mcp_auth.server.client_metadata_documents" },
  MCP_CLIENT_METADATA_PRIVATE_ADDRESSES: { path: "mcp_auth.server.client_metadata_private_addresses" },
  MCP_POLICY_MAX_BODY_SIZE: { path: "mcp_policy.max_body_size" },
  MCP_POLICY_MAX_BATCH_SIZE: { path: "mcp_policy.max_batch_size" },
  MCP_POLICY_MAX_LIST_SIZE: { path: "mcp_policy.max_list_size" },
  MCP_AUDIT_ENABLED: { path: "mcp_policy.audit.enabled" },
  MCP_AUDIT_OUTPUT: { path: "mcp_policy.audit.output" },
  MCP_AUDIT_ARGUMENTS_KEY: { path: "mcp_policy.audit.arguments_key" },
  MCP_AUDIT_ARGUMENTS_KEY_FILE: { path: "mcp_policy.audit.arguments_key_file" },
  VAULT_ADDR: { path: "vault.address" },
  VAULT_AUTH_METHOD: { path: "vault.auth_method" },
  VAULT_TOKEN: { path: "vault.token" },
  VAULT_TOKEN_FILE: { path: "vault.token_file" },
  VAULT_ROLE: { path: "vault.role" },
  VAULT_NAMESPACE: { path: "vault.namespace" },
  VAULT_CACERT: { path: "vault.ca_file" },
  VAULT_SECRETS: { path: "vault.secrets", kind: "vaultSecrets" },
  AWS_REGION: { path: "aws_secrets_manager.region" },
  AWS_SECRETS_MANAGER_ENDPOINT: { path: "aws_secrets_manager.endpoint" },
  AWS_SECRETS: { path: "aws_secrets_manager.secrets", kind: "awsSecrets" },
  METRICS_ENABLED: { path: "metrics.enabled" },
  METRICS_PORT: { path: "metrics.port" },
  TRACING_ENABLED: { path: "tracing.enabled" },
  LOG_LEVEL: { path: "logging.level", flag: { usage: "--log-level <level>", description: "log level" } },
  LOG_FORMAT: { path: "logging.format" },
};

/** The long flag's name as commander keys it: "--public-url <url>" → "publicUrl". */
export function flagKey(flag: FlagSpec): string {
  const name = flag.usage.slice(2, flag.usage.indexOf(" "));
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Command-line flags (commander's camelCase option keys) and the binding each comes from. */
export const flagBindings: Readonly<Record<string, Binding & { env: string; flag: FlagSpec }>> = Object.fromEntries(
  Object.entries(environmentBindings).flatMap(([env, binding]) =>
    binding.flag ? [[flagKey(binding.flag), { ...binding, env, flag: binding.flag }]] : [],
  ),
);

/** A tree of settings as read from one source, before validation. */
export type RawTree = { [key: string]: unknown };

/** Settings from one source, plus which outside name set each path (for error messages). */
export interface SourceLayer {
  tree: RawTree;
  origins: Map<string, string>;
}

/** "ENV=source#key,ENV2=source2" → entries; a malformed item is kept whole so validation names it. */
function secretReferences(raw: string): { env: string; source: string; key: string | undefined }[] {
  return raw
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const equals = item.indexOf("=");
      const reference = equals === -1 ? "" : item.slice(equals + 1);
      const hash = reference.lastIndexOf("#");
      return {
        env: equals === -1 ? item : item.slice(0, equals),
        source: hash === -1 ? reference : reference.slice(0, hash),
        key: hash === -1 ? undefined : reference.slice(hash + 1),
      };
    });
}

function convert(raw: string, kind: Kind | undefined): unknown {
  switch (kind) {
    case "vaultSecrets":
      // VAULT_SECRETS=OIDC_CLIENT_SECRET=secret/data/mcp/oidc#client_secret,SESSION_SECRET=...
      return secretReferences(raw).map(({ env, source, key }) => ({ env, path: source, key }));
    case "awsSecrets":
      // AWS_SECRETS=OIDC_CLIENT_SECRET=arn:aws:secretsmanager:...:secret:mcp-oidc#client_secret,...
      return secretReferences(raw).map(({ env, source, key }) => ({
        env,
        secret_id: source,
        ...(key !== undefined ? { key } : {}),
      }));
    default:
      return raw;
  }
}

export function setPath(tree: RawTree, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as RawTree;
  }
  node[keys[keys.length - 1] as string] = value;
}

function layerFrom(
  values: Record<string, unknown>,
  bindings: Readonly<Record<string, Binding>>,
  label: (name: string) => string,
): SourceLayer {
  const layer: SourceLayer = { tree: {}, origins: new Map() };
  for (const [name, binding] of Object.entries(bindings)) {
    const value = values[name];
    if (value === undefined || value === "") continue;
    setPath(layer.tree, binding.path, typeof value === "string" ? convert(value, binding.kind) : value);
    layer.origins.set(binding.path, label(name));
  }
  return layer;
}

export function environmentLayer(env: NodeJS.ProcessEnv): SourceLayer {
  return layerFrom(env, environmentBindings, (name) => `environment variable ${name}`);
}

export function flagLayer(flags: Record<string, unknown>): SourceLayer {
  return layerFrom(flags, flagBindings, (name) => `flag --${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}
