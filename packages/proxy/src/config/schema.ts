// The proxy's configuration: one zod schema that is at once the TypeScript type, the
// defaults and the validation. Field names are snake_case so the YAML file, the
// ConfigMap the operator renders and this schema read the same.
import { isIPv6 } from "node:net";
import ms from "ms";
import { z } from "zod";

/**
 * A duration written as "30s", "5m", "24h" or a number of seconds; parsed to milliseconds.
 * A number is seconds however it arrives: unquoted in YAML, or as text from a quoted YAML
 * value, an environment variable or a flag (ms() alone would read "30" as 30 ms).
 */
const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const text = typeof value === "string" ? value.trim() : undefined;
  const seconds = text === undefined ? value : /^\d+(\.\d+)?$/.test(text) ? Number(text) : undefined;
  const millis = seconds !== undefined ? (seconds as number) * 1000 : ms(text as ms.StringValue);
  if (typeof millis !== "number" || !Number.isFinite(millis) || millis < 0) {
    ctx.addIssue({
      code: "custom",
      message: `"${value}" is not a duration; write e.g. 30s, 5m, 24h or a number of seconds (not negative)`,
    });
    return z.NEVER;
  }
  return millis;
});

/** true/false, also as text from the environment or a flag: 1/0, yes/no, on/off. */
const bool = z.union(
  [z.boolean(), z.stringbool({ truthy: ["true", "1", "yes", "on"], falsy: ["false", "0", "no", "off"] })],
  { error: "must be true or false (also 1/0, yes/no, on/off)" },
);
// Numbers and lists are read from text too (environment, flags): z.coerce, stringList.
const port = z.coerce.number().int().min(0).max(65535);
const headerName = z.string().regex(/^[A-Za-z0-9-]+$/, "must be an HTTP header name (letters, digits, dashes)");
const stringList = z
  .union([z.array(z.string()), z.string()])
  .transform((value) => (Array.isArray(value) ? value : value.split(",")).map((item) => item.trim()).filter(Boolean));
/**
 * Paths, each starting with /: the pattern is for the JSON schema only (the Helm chart's
 * values.schema.json, so `helm install` refuses a bad one); validate.ts checks it with a
 * message that says how to fix it, alongside every other problem.
 */
const pathList = z
  .union([z.array(z.string().meta({ pattern: "^/" })), z.string()])
  .transform((value) => (Array.isArray(value) ? value : value.split(",")).map((item) => item.trim()).filter(Boolean));
const absoluteUrl = z.url({ protocol: /^https?$/, error: "must be an absolute http(s) URL" });
/**
 * target.host is a host alone: a DNS name, an IPv4 address or an IPv6 address (bracketed or
 * not). It is written into target.url or into protocol://host:port, and a URL's setters
 * silently ignore or cut what is not a host (`evil.example:9999`, `user@h`, `h/x`, a space, a
 * zone id), so such a value would leave the old host in use or send traffic to a part of it.
 * The pattern reaches the chart's values.schema.json too.
 */
const HOST_PROBLEM =
  "must be a host name or IP address alone (no port, user, path or spaces), e.g. mcp-server or 10.0.0.5; the port is target.port";
const HOST_PATTERN = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?|\[?[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\]?)$/;
const hostName = z
  .string()
  .meta({ pattern: HOST_PATTERN.source })
  .refine((value) => HOST_PATTERN.test(value) && isUrlHost(value), HOST_PROBLEM);

/**
 * A host a URL keeps as written: an IPv6 address, or a name or IPv4 address that WHATWG URL
 * parsing leaves as it is. "1.2.3.256" and "foo.123" it refuses (a setter then silently keeps
 * the old host), "0x7f.1" it rewrites to another address: both are refused.
 */
function isUrlHost(value: string): boolean {
  if (value.includes(":")) return isIPv6(value.replace(/^\[(.*)\]$/, "$1"));
  return URL.parse(`http://${value}/`)?.hostname === value.toLowerCase();
}

/**
 * server.public_url is an origin (decision 035): the proxy's routes are at the root of its
 * host, and the URLs it derives from the public URL (redirect URI, issuer, metadata) would
 * drop a path. validate.ts refuses others with a message; the Helm chart's _helpers.tpl and,
 * as CEL, the operator CRD's spec.publicUrl rule check the same pattern (tests hold them equal).
 * Scheme and host are case-insensitive (RFC 3986 3.1, 3.2.2): HTTPS://MCP.example.com passes and
 * is read as https://mcp.example.com, so every URL derived from it, the audience and the
 * cookies' Secure choice (a test of "https:") see one spelling.
 */
export const PUBLIC_URL_PATTERN_SOURCE = "^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]+)?/?$";
export const PUBLIC_URL_PATTERN = new RegExp(PUBLIC_URL_PATTERN_SOURCE);

/** An origin the pattern takes, with scheme and host in lower case; anything else as written, for validate.ts to name. */
function lowerCaseOrigin(value: string): string {
  if (!PUBLIC_URL_PATTERN.test(value)) return value;
  const url = new URL(value);
  return `${url.protocol}//${url.host}${value.endsWith("/") ? "/" : ""}`;
}

export const environments = ["development", "staging", "production"] as const;

const serverSchema = z.strictObject({
  host: z.string().min(1).default("0.0.0.0"),
  port: port.default(8080),
  /** The URL clients use to reach the proxy; required behind TLS termination. */
  public_url: absoluteUrl.transform(lowerCaseOrigin).optional(),
  /** Express "trust proxy": false, true, a hop count, or a list of addresses/CIDRs. */
  trust_proxy: z
    .preprocess(
      (value) => (typeof value === "string" ? value.trim() : value),
      z.union([
        z.boolean(),
        z.number().int().min(0),
        // As text (MCP_TRUST_PROXY): true/false and a hop count, before a list of addresses.
        z.stringbool({ truthy: ["true", "yes", "on"], falsy: ["false", "no", "off"] }),
        z.string().regex(/^\d+$/).transform(Number),
        stringList,
      ]),
    )
    // Trusting no hop is not trusting: one spelling, so `!== false` means some proxy is.
    .transform((trust) => (trust === 0 || (Array.isArray(trust) && trust.length === 0) ? false : trust))
    .default(false),
  /** Extra origins (besides the public URL's) allowed to call the proxy from a browser. */
  allowed_origins: stringList.default([]),
  /**
   * Extra host names (besides the public URL's) clients may send in Host, e.g. the Service's
   * cluster DNS names; other hosts get 421. With neither these nor a public URL, any Host passes.
   */
  allowed_hosts: stringList.default([]),
  /** How long shutdown waits for open requests and streams before closing them. */
  shutdown_timeout: duration.prefault("30s"),
  /** A client must have sent a request's headers within this time, or the connection is closed. */
  headers_timeout: duration.prefault("20s"),
  /**
   * A client must have sent a whole request (headers and body) within this time (408, connection
   * closed); 0 never times a body out. Responses and event streams are never limited.
   */
  request_timeout: duration.prefault("60s"),
});

const targetSchema = z.strictObject({
  host: hostName.default("127.0.0.1"),
  port: port.default(3000),
  protocol: z.enum(["http", "https"]).default("http"),
  /** Full upstream URL; overrides host/port/protocol of its own source (decision 041: later sources' win). */
  url: absoluteUrl.optional(),
  /**
   * Several endpoints of one MCP server (its replicas), instead of url: requests that start no
   * session go to the least loaded healthy one; a session stays on the one that opened it.
   */
  urls: stringList.pipe(z.array(absoluteUrl)).default([]),
  /**
   * "dns": the host of url (or host) is a DNS name with one address per replica (a headless
   * Kubernetes Service): each address is an endpoint, re-resolved every dns_refresh_interval.
   */
  discovery: z.enum(["static", "dns"]).default("static"),
  dns_refresh_interval: duration.prefault("30s"),
  /** Path probed for backend health; an HTTP answer of any status counts as reachable. */
  health_path: z.string().default("/health"),
  health_interval: duration.prefault("10s"),
  /** Time allowed for the upstream to start answering (headers). Streams then live on. */
  response_timeout: duration.prefault("300s"),
  connect_timeout: duration.prefault("5s"),
  /** Interval of ": ping" comments on idle event streams; 0 disables them. */
  sse_keepalive_interval: duration.prefault("25s"),
  /** Event streams (and relayed WebSocket upgrades) one user may hold open at once (429 past it); 0: no limit. */
  max_streams_per_user: z.coerce.number().int().min(0).default(100),
  circuit_breaker: z
    .strictObject({
      failure_threshold: z.number().int().min(1).default(5),
      reset_timeout: duration.prefault("30s"),
    })
    .prefault({}),
});

const oidcSchema = z.strictObject({
  /** Issuer URL, or the full .well-known/openid-configuration URL. */
  discovery_url: absoluteUrl.optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
  client_secret_file: z.string().optional(),
  scopes: stringList.default(["openid", "profile", "email"]),
  redirect_path: z.string().startsWith("/").default("/callback"),
  /** Where the provider sends the browser after RP-initiated logout. */
  post_logout_redirect_url: absoluteUrl.optional(),
  groups_claim: z.string().min(1, "must name a claim (default groups)").default("groups"),
  /** Refresh the provider's tokens this long before they expire. */
  refresh_before_expiry: duration.prefault("60s"),
  /** PEM bundle of CAs trusted for the provider besides the system's (an internal CA). */
  ca_file: z.string().optional(),
  /** Allow an http:// issuer that is not on loopback (never in production). */
  allow_insecure_issuer: bool.default(false),
  /**
   * Count an e-mail address the provider sends without email_verified as verified. Off: such
   * an address never passes allowed_email_domains or an e-mail entry of allowed_users.
   */
  insecure_allow_unverified_email: bool.default(false),
  /** Extra parameters for the authorization request (e.g. prompt, hd, domain_hint). */
  extra_auth_params: z.record(z.string(), z.string()).default({}),
});

const bypassUserSchema = z.strictObject({
  id: z.string().default("developer"),
  email: z.string().default("developer@localhost"),
  name: z.string().default("Local Developer"),
  groups: stringList.default([]),
});

const sessionSchema = z.strictObject({
  store: z.enum(["memory", "redis"]).default("memory"),
  /** Cookie name; "__Host-" is prepended automatically when the cookie is Secure. */
  cookie_name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default("mcp_session"),
  /** Secret that signs session cookies; several (comma separated) allow rotation. */
  secret: stringList.optional(),
  secret_file: z.string().optional(),
  ttl: duration.prefault("24h"),
  /**
   * How long a replica may reuse a session it read from the store. A session ended on
   * another replica (sign-out, refused refresh) is honoured here within this time; 0 reads
   * the store on every request.
   */
  cache_ttl: duration.prefault("2s"),
  /** Every call to the session store (Redis) fails after this long: requests answer 503, never hang. */
  store_timeout: duration.prefault("1s"),
  cookie_secure: z.enum(["auto", "always", "never"]).default("auto"),
  cookie_same_site: z.enum(["lax", "strict", "none"]).default("lax"),
  cookie_domain: z.string().optional(),
});

const redisSchema = z.strictObject({
  mode: z.enum(["standalone", "sentinel", "cluster"]).default("standalone"),
  url: z
    .string()
    .regex(/^rediss?:\/\//, "must start with redis:// or rediss://")
    .default("redis://127.0.0.1:6379"),
  password: z.string().optional(),
  password_file: z.string().optional(),
  /** host:port list of sentinels or cluster seed nodes. */
  nodes: stringList.default([]),
  sentinel_name: z.string().default("mymaster"),
  prefix: z.string().default("mcp:session:"),
  /** Prefix of the MCP authorization server's records (clients, grants, tokens, consents). */
  oauth_prefix: z.string().default("mcp:oauth:"),
  connect_timeout: duration.prefault("5s"),
});

const headersSchema = z.strictObject({
  user_id: headerName.default("X-User-ID"),
  email: headerName.default("X-User-Email"),
  name: headerName.default("X-User-Name"),
  groups: headerName.default("X-User-Groups"),
  provider: headerName.default("X-Auth-Provider"),
  request_id: headerName.default("X-Request-ID"),
});

const accessSchema = z.strictObject({
  /** Paths reachable without signing in (exact, or a prefix when ending in "/*"). */
  public_paths: pathList.default([]),
  /** The user must be in at least one of these groups. */
  required_groups: stringList.default([]),
  allowed_email_domains: stringList.default([]),
  /** User ids (sub) or e-mail addresses always allowed. */
  allowed_users: stringList.default([]),
});

const mcpAuthSchema = z.strictObject({
  /**
   * How MCP clients (which hold bearer tokens, not cookies) are authorized:
   * "off" — only browser sessions; "provider" — the upstream provider issues JWT access
   * tokens for this resource (Keycloak, Auth0, Okta custom servers) and the proxy validates them;
   * "proxy" — the proxy is the MCP clients' authorization server (registration, consent,
   * tokens) and delegates only the sign-in to the upstream provider (Entra ID, Google, Okta org).
   */
  mode: z.enum(["off", "provider", "proxy"]).default("off"),
  /** This MCP server's resource identifier (RFC 8707); default: the public URL. */
  resource: absoluteUrl.optional(),
  /** Scopes every bearer token must carry; advertised in the metadata and in 401 answers. */
  required_scopes: stringList.default([]),
  /** Accepted token audiences; default: the resource identifier. */
  audiences: stringList.default([]),
  /** Claim holding the user's groups in access tokens (default: oidc.groups_claim). */
  groups_claim: z.string().min(1, "must name a claim; leave it out to use oidc.groups_claim").optional(),
  /**
   * How long a replica reuses a verified token without checking it again (never past its
   * expiry), in both modes; default 30s in provider mode, session.cache_ttl in proxy mode
   * (a token revoked on another replica is refused here within that time).
   */
  token_cache_ttl: duration.optional(),
  /** A token signed by an unknown key re-reads the provider's JWKS at most this often (key rotation). */
  jwks_refresh_cooldown: duration.prefault("30s"),
  /** Scopes a token must carry for paths under a prefix ("/mcp/admin": [mcp:admin]); 403 insufficient_scope otherwise. */
  path_scopes: z.record(z.string().startsWith("/"), stringList).default({}),
  /** mode proxy: the authorization server the proxy runs for MCP clients. */
  server: z
    .strictObject({
      /** Lifetime of the access tokens MCP clients hold. */
      access_token_ttl: duration.prefault("10m"),
      /** Lifetime of a refresh token; each use rotates it (a reused one revokes the whole grant). */
      refresh_token_ttl: duration.prefault("14d"),
      /**
       * A registered client is forgotten this long after its last use (0 keeps them):
       * registration is open to anyone, so abandoned clients must not stay for ever. At least
       * refresh_token_ttl, so a client whose refresh token still works is still known.
       * Pre-approved clients are kept.
       */
      client_ttl: duration.prefault("30d"),
      /** Client ids that skip the consent page (clients the platform team registered itself). */
      preapproved_clients: stringList.default([]),
      /** Accept an https URL as client_id and fetch the client's metadata document from it. */
      client_metadata_documents: bool.default(true),
      /** Let metadata documents come from private and loopback addresses (tests, closed networks). */
      client_metadata_private_addresses: bool.default(false),
      /** Requests per client address and minute to /oauth/register and /oauth/par (and to /oauth/token times ten). */
      registration_rate_limit: z.number().int().min(1).default(20),
    })
    .prefault({}),
});

/** Where a fetched secret goes: the environment variable it stands for (e.g. OIDC_CLIENT_SECRET). */
const secretTarget = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name, e.g. OIDC_CLIENT_SECRET");

const vaultSchema = z.strictObject({
  /** Default: on when secrets are listed. */
  enabled: bool.optional(),
  address: absoluteUrl.optional(),
  auth_method: z.enum(["token", "kubernetes"]).default("token"),
  token: z.string().optional(),
  token_file: z.string().optional(),
  /** Kubernetes auth: the Vault role bound to this service account. */
  role: z.string().optional(),
  kubernetes_mount: z.string().default("kubernetes"),
  service_account_token_file: z.string().default("/var/run/secrets/kubernetes.io/serviceaccount/token"),
  /** Vault Enterprise / OpenBao namespace. */
  namespace: z.string().optional(),
  /** PEM bundle of CAs trusted for Vault besides the system's. */
  ca_file: z.string().optional(),
  timeout: duration.prefault("10s"),
  /** KV secrets: path as in the API (KV v2: secret/data/<name>), the key in it, the variable it sets. */
  secrets: z
    .array(
      z.strictObject({
        path: z.string().min(1),
        key: z.string({ error: "required: the key in the secret (VAULT_SECRETS entries are ENV=path#key)" }).min(1),
        env: secretTarget,
      }),
    )
    .default([]),
});

const awsSecretsManagerSchema = z.strictObject({
  /** Default: on when secrets are listed. */
  enabled: bool.optional(),
  /** Default: the SDK's (AWS_REGION). */
  region: z.string().optional(),
  /** Another endpoint (VPC endpoint, a test double); default: the SDK's. */
  endpoint: absoluteUrl.optional(),
  /** Secrets: name or ARN, an optional key of a JSON secret, the variable it sets. */
  secrets: z
    .array(z.strictObject({ secret_id: z.string().min(1), key: z.string().min(1).optional(), env: secretTarget }))
    .default([]),
});

/** A size in bytes: a number, or "512kb", "1mb". */
const byteSize = z.union([z.number().int().min(1), z.string()]).transform((value, ctx) => {
  if (typeof value === "number") return value;
  const match = /^\s*(\d+)\s*(b|kb|mb)?\s*$/i.exec(value);
  if (!match) {
    ctx.addIssue({ code: "custom", message: `"${value}" is not a size; write e.g. 1048576, 512kb or 1mb` });
    return z.NEVER;
  }
  const unit = (match[2] ?? "b").toLowerCase();
  return Number(match[1]) * (unit === "mb" ? 1024 * 1024 : unit === "kb" ? 1024 : 1);
});

/**
 * A rule's lists are YAML lists, never comma-separated text: rules come only from files (no
 * variable or flag sets them), so a scalar is a mistake, refused alike for globs and conditions.
 */
const LIST_ONLY = { error: 'must be a list, e.g. [admins] or ["admin_*"]' } as const;
const globList = z.array(z.string().min(1, "an empty glob matches nothing"), LIST_ONLY).default([]);

/**
 * A condition on the caller: any of its values passes. Left out, the rule sets no such
 * condition; an empty list (or an empty value) is refused: read as "no condition" it would
 * grant every signed-in user, while it says "none of these" (decision 048).
 */
const conditionList = (value: z.ZodString = z.string()) =>
  z
    .array(value.trim().min(1, "an empty value matches nobody; remove it"), LIST_ONLY)
    .min(1, "an empty list matches nobody; remove it or list values")
    .optional();

/** A domain as the e-mail address has it after its "@": "@example.com" would never match. */
const emailDomain = z.string().regex(/^[^@]*$/, 'must be a domain without "@", e.g. example.com');

/** One rule: what it covers (globs per kind) and who it grants (every listed condition must hold). */
const mcpRuleSchema = z.strictObject({
  /** Named in denials, the audit trail and metrics; default rules[<index>], which moves when rules are added above it. */
  name: z.string().min(1).optional(),
  tools: globList,
  /** Resource URI globs ("file:///docs/**"). */
  resources: globList,
  prompts: globList,
  /** Subjects (sub) or, with "@", verified e-mail addresses; any of them. */
  users: conditionList(),
  groups: conditionList(),
  email_domains: conditionList(emailDomain),
  /** OAuth client ids (bearer tokens only); any of them. */
  clients: conditionList(),
  /** Scopes the token must all carry; a token without them is challenged to step up (403 insufficient_scope). */
  scopes: conditionList(),
});

const mcpPolicySchema = z.strictObject({
  /** Which caller may use which tool, resource and prompt; a kind any rule names is denied by default. */
  rules: z.array(mcpRuleSchema).default([]),
  /** Largest MCP POST body the proxy reads to judge it (413 beyond). */
  max_body_size: byteSize.prefault("1mb"),
  /** Most messages in one JSON-RPC batch (400 beyond): each is judged and audited (docs/decisions/051). */
  max_batch_size: z.coerce.number().int().min(1).default(100),
  /** Largest list answer the proxy buffers to filter it (502 beyond). */
  max_list_size: byteSize.prefault("8mb"),
  audit: z
    .strictObject({
      /** One JSON line per MCP request (also without rules: then every POST body is read). */
      enabled: bool.default(false),
      /** "stdout" or a file path (appended; reopened on SIGHUP for rotation). */
      output: z.string().min(1).default("stdout"),
      /** Key of an HMAC-SHA256 of each call's arguments; without it no trace of arguments is kept. */
      arguments_key: z.string().optional(),
      arguments_key_file: z.string().optional(),
    })
    .prefault({}),
});

const metricsSchema = z.strictObject({
  enabled: bool.default(true),
  path: z.string().startsWith("/").default("/metrics"),
  /** Separate port for /metrics (9090 in Kubernetes); 0 serves it on the main port. */
  port: port.default(0),
});

const tracingSchema = z.strictObject({
  /**
   * OpenTelemetry tracing. Unset: on when OTEL_TRACES_EXPORTER or an OTLP endpoint variable is
   * set; OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off (observability/tracing.ts).
   */
  enabled: bool.optional(),
});

const loggingSchema = z.strictObject({
  level: z.enum(["error", "warn", "info", "debug"]).default("info"),
  format: z.enum(["json", "pretty"]).default("json"),
});

export const configSchema = z.strictObject({
  environment: z.enum(environments).default("development"),
  server: serverSchema.prefault({}),
  target: targetSchema.prefault({}),
  auth: z
    .strictObject({
      mode: z.enum(["oidc", "bypass"]).default("oidc"),
      bypass_user: bypassUserSchema.prefault({}),
    })
    .prefault({}),
  oidc: oidcSchema.prefault({}),
  session: sessionSchema.prefault({}),
  redis: redisSchema.prefault({}),
  headers: headersSchema.prefault({}),
  access: accessSchema.prefault({}),
  mcp_auth: mcpAuthSchema.prefault({}),
  /** MCP-aware authorization: per-tool/resource/prompt rules, filtered lists, the audit trail. */
  mcp_policy: mcpPolicySchema.prefault({}),
  /** Secrets fetched at startup from HashiCorp Vault / OpenBao, set as environment variables. */
  vault: vaultSchema.prefault({}),
  /** Secrets fetched at startup from AWS Secrets Manager, set as environment variables. */
  aws_secrets_manager: awsSecretsManagerSchema.prefault({}),
  metrics: metricsSchema.prefault({}),
  /** Exporter, endpoint, sampling and service name come from the standard OTEL_* variables. */
  tracing: tracingSchema.prefault({}),
  logging: loggingSchema.prefault({}),
});

/** The configuration as written (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** The configuration after defaults and parsing: durations are milliseconds. */
export type Config = z.output<typeof configSchema>;
