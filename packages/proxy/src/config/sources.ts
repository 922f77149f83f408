// Where settings come from besides files: the environment (the seed document's variable
// names) and command-line flags. Each entry maps one outside name onto one config path.

type Kind = "string" | "int" | "bool" | "list" | "vaultSecrets" | "awsSecrets";

interface Binding {
  path: string;
  kind: Kind;
}

/** Environment variables, documented in config.example.yaml next to each field. */
export const environmentBindings: Readonly<Record<string, Binding>> = {
  MCP_ENV: { path: "environment", kind: "string" },
  MCP_HOST: { path: "server.host", kind: "string" },
  MCP_PORT: { path: "server.port", kind: "int" },
  MCP_PUBLIC_URL: { path: "server.public_url", kind: "string" },
  MCP_TRUST_PROXY: { path: "server.trust_proxy", kind: "string" },
  MCP_ALLOWED_ORIGINS: { path: "server.allowed_origins", kind: "list" },
  MCP_ALLOWED_HOSTS: { path: "server.allowed_hosts", kind: "list" },
  MCP_SHUTDOWN_TIMEOUT: { path: "server.shutdown_timeout", kind: "string" },
  MCP_HEADERS_TIMEOUT: { path: "server.headers_timeout", kind: "string" },
  MCP_REQUEST_TIMEOUT: { path: "server.request_timeout", kind: "string" },
  MCP_TARGET_HOST: { path: "target.host", kind: "string" },
  MCP_TARGET_PORT: { path: "target.port", kind: "int" },
  MCP_TARGET_PROTOCOL: { path: "target.protocol", kind: "string" },
  MCP_TARGET_URL: { path: "target.url", kind: "string" },
  MCP_TARGET_URLS: { path: "target.urls", kind: "list" },
  MCP_TARGET_DISCOVERY: { path: "target.discovery", kind: "string" },
  MCP_TARGET_DNS_REFRESH_INTERVAL: { path: "target.dns_refresh_interval", kind: "string" },
  MCP_TARGET_HEALTH_PATH: { path: "target.health_path", kind: "string" },
  MCP_SSE_KEEPALIVE_INTERVAL: { path: "target.sse_keepalive_interval", kind: "string" },
  MCP_TARGET_RESPONSE_TIMEOUT: { path: "target.response_timeout", kind: "string" },
  MCP_MAX_STREAMS_PER_USER: { path: "target.max_streams_per_user", kind: "int" },
  AUTH_MODE: { path: "auth.mode", kind: "string" },
  OIDC_DISCOVERY_URL: { path: "oidc.discovery_url", kind: "string" },
  OIDC_CLIENT_ID: { path: "oidc.client_id", kind: "string" },
  OIDC_CLIENT_SECRET: { path: "oidc.client_secret", kind: "string" },
  OIDC_CLIENT_SECRET_FILE: { path: "oidc.client_secret_file", kind: "string" },
  OIDC_SCOPES: { path: "oidc.scopes", kind: "list" },
  OIDC_REDIRECT_PATH: { path: "oidc.redirect_path", kind: "string" },
  OIDC_POST_LOGOUT_REDIRECT_URL: { path: "oidc.post_logout_redirect_url", kind: "string" },
  OIDC_GROUPS_CLAIM: { path: "oidc.groups_claim", kind: "string" },
  OIDC_CA_FILE: { path: "oidc.ca_file", kind: "string" },
  OIDC_REFRESH_BEFORE_EXPIRY: { path: "oidc.refresh_before_expiry", kind: "string" },
  OIDC_INSECURE_ALLOW_UNVERIFIED_EMAIL: { path: "oidc.insecure_allow_unverified_email", kind: "bool" },
  SESSION_STORE: { path: "session.store", kind: "string" },
  SESSION_SECRET: { path: "session.secret", kind: "list" },
  SESSION_SECRET_FILE: { path: "session.secret_file", kind: "string" },
  SESSION_TTL: { path: "session.ttl", kind: "string" },
  SESSION_CACHE_TTL: { path: "session.cache_ttl", kind: "string" },
  SESSION_STORE_TIMEOUT: { path: "session.store_timeout", kind: "string" },
  SESSION_COOKIE_NAME: { path: "session.cookie_name", kind: "string" },
  SESSION_COOKIE_SECURE: { path: "session.cookie_secure", kind: "string" },
  REDIS_MODE: { path: "redis.mode", kind: "string" },
  REDIS_URL: { path: "redis.url", kind: "string" },
  REDIS_PASSWORD: { path: "redis.password", kind: "string" },
  REDIS_PASSWORD_FILE: { path: "redis.password_file", kind: "string" },
  REDIS_NODES: { path: "redis.nodes", kind: "list" },
  REDIS_SENTINEL_NAME: { path: "redis.sentinel_name", kind: "string" },
  REDIS_PREFIX: { path: "redis.prefix", kind: "string" },
  REDIS_OAUTH_PREFIX: { path: "redis.oauth_prefix", kind: "string" },
  ACCESS_PUBLIC_PATHS: { path: "access.public_paths", kind: "list" },
  ACCESS_REQUIRED_GROUPS: { path: "access.required_groups", kind: "list" },
  ACCESS_ALLOWED_EMAIL_DOMAINS: { path: "access.allowed_email_domains", kind: "list" },
  ACCESS_ALLOWED_USERS: { path: "access.allowed_users", kind: "list" },
  MCP_AUTH_MODE: { path: "mcp_auth.mode", kind: "string" },
  MCP_RESOURCE: { path: "mcp_auth.resource", kind: "string" },
  MCP_REQUIRED_SCOPES: { path: "mcp_auth.required_scopes", kind: "list" },
  MCP_TOKEN_AUDIENCES: { path: "mcp_auth.audiences", kind: "list" },
  MCP_JWKS_REFRESH_COOLDOWN: { path: "mcp_auth.jwks_refresh_cooldown", kind: "string" },
  MCP_ACCESS_TOKEN_TTL: { path: "mcp_auth.server.access_token_ttl", kind: "string" },
  MCP_REFRESH_TOKEN_TTL: { path: "mcp_auth.server.refresh_token_ttl", kind: "string" },
  MCP_CLIENT_TTL: { path: "mcp_auth.server.client_ttl", kind: "string" },
  MCP_PREAPPROVED_CLIENTS: { path: "mcp_auth.server.preapproved_clients", kind: "list" },
  MCP_CLIENT_METADATA_DOCUMENTS: { path: "mcp_auth.server.client_metadata_documents", kind: "bool" },
  MCP_CLIENT_METADATA_PRIVATE_ADDRESSES: { path: "mcp_auth.server.client_metadata_private_addresses", kind: "bool" },
  MCP_POLICY_MAX_BODY_SIZE: { path: "mcp_policy.max_body_size", kind: "string" },
  MCP_POLICY_MAX_LIST_SIZE: { path: "mcp_policy.max_list_size", kind: "string" },
  MCP_AUDIT_ENABLED: { path: "mcp_policy.audit.enabled", kind: "bool" },
  MCP_AUDIT_OUTPUT: { path: "mcp_policy.audit.output", kind: "string" },
  MCP_AUDIT_ARGUMENTS_KEY: { path: "mcp_policy.audit.arguments_key", kind: "string" },
  MCP_AUDIT_ARGUMENTS_KEY_FILE: { path: "mcp_policy.audit.arguments_key_file", kind: "string" },
  VAULT_ADDR: { path: "vault.address", kind: "string" },
  VAULT_AUTH_METHOD: { path: "vault.auth_method", kind: "string" },
  VAULT_TOKEN: { path: "vault.token", kind: "string" },
  VAULT_TOKEN_FILE: { path: "vault.token_file", kind: "string" },
  VAULT_ROLE: { path: "vault.role", kind: "string" },
  VAULT_NAMESPACE: { path: "vault.namespace", kind: "string" },
  VAULT_CACERT: { path: "vault.ca_file", kind: "string" },
  VAULT_SECRETS: { path: "vault.secrets", kind: "vaultSecrets" },
  AWS_REGION: { path: "aws_secrets_manager.region", kind: "string" },
  AWS_SECRETS_MANAGER_ENDPOINT: { path: "aws_secrets_manager.endpoint", kind: "string" },
  AWS_SECRETS: { path: "aws_secrets_manager.secrets", kind: "awsSecrets" },
  METRICS_ENABLED: { path: "metrics.enabled", kind: "bool" },
  METRICS_PORT: { path: "metrics.port", kind: "int" },
  TRACING_ENABLED: { path: "tracing.enabled", kind: "bool" },
  LOG_LEVEL: { path: "logging.level", kind: "string" },
  LOG_FORMAT: { path: "logging.format", kind: "string" },
};

/** Command-line flags (commander's camelCase option keys) and the config path each sets. */
export const flagBindings: Readonly<Record<string, Binding>> = {
  host: { path: "server.host", kind: "string" },
  port: { path: "server.port", kind: "int" },
  publicUrl: { path: "server.public_url", kind: "string" },
  targetHost: { path: "target.host", kind: "string" },
  targetPort: { path: "target.port", kind: "int" },
  targetUrl: { path: "target.url", kind: "string" },
  authMode: { path: "auth.mode", kind: "string" },
  sessionStore: { path: "session.store", kind: "string" },
  redisUrl: { path: "redis.url", kind: "string" },
  logLevel: { path: "logging.level", kind: "string" },
};

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

function convert(raw: string, kind: Kind): unknown {
  switch (kind) {
    case "int":
      // Left as text when not a whole number, so validation names the field and the value.
      return /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case "bool":
      if (/^(true|1|yes|on)$/i.test(raw)) return true;
      if (/^(false|0|no|off)$/i.test(raw)) return false;
      return raw;
    case "list":
      return raw
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean);
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
