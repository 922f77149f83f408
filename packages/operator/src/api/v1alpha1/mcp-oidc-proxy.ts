// The McpOidcProxy API, v1alpha1. This zod schema is the one source of truth: the
// TypeScript types below are inferred from it, and the CRD's OpenAPI schema (with its
// descriptions, defaults and CEL rules) is generated from it (scripts/generate-crd.ts);
// a test fails when the committed CRD differs from the generated one.
import { z } from "zod";

export const GROUP = "mcp-oidc-proxy.dev";
export const VERSION = "v1alpha1";
export const KIND = "McpOidcProxy";
export const PLURAL = "mcpoidcproxies";
export const API_VERSION = `${GROUP}/${VERSION}`;

const d = (description: string) => ({ description });
const cel = (rule: string, message: string) => ({ rule, message });

const secretKeyRef = z
  .object({
    name: z.string().min(1).max(253).meta(d("Name of a Secret in the resource's namespace.")),
    key: z.string().min(1).max(253).meta(d("Key within the Secret.")),
  })
  .meta(d("A key of a Secret in the same namespace."));

/** Replica counts end up in int32 fields (Deployment, HorizontalPodAutoscaler). */
const INT32_MAX = 2_147_483_647;

/** A further rule of one URL field, checked by zod and, as a CEL regex match, by the API server. */
interface UrlRule {
  pattern: string;
  message: string;
}

/** http or https in any case, as URL schemes are (RFC 3986 3.1) and the proxy reads them. */
const HTTP_SCHEMES = /[Hh][Tt][Tt][Pp][Ss]?/;

/**
 * An absolute URL with a host, as the proxy's --config-test accepts it: checked here by zod
 * (the operator) and by the API server (CEL isURL, Go's url.ParseRequestURI), so a value
 * such as "http://" or one with a space in it is refused at kubectl apply, not in a pod.
 */
const absoluteUrl = (schemes: RegExp, example: string, description: string, rule?: UrlRule) =>
  z
    .string()
    .max(2048)
    .regex(new RegExp(`^${schemes.source}://\\S+$`))
    .refine((value) => URL.canParse(value) && new URL(value).hostname !== "", `must be a URL such as ${example}`)
    .refine((value) => rule === undefined || new RegExp(rule.pattern).test(value), rule?.message)
    .meta({
      ...d(description),
      "x-kubernetes-validations": [
        cel(
          "isURL(self) && url(self).getHostname() != '' && (url(self).getPort() == '' || int(url(self).getPort()) <= 65535)",
          `must be a URL with a host (and a port up to 65535), such as ${example}`,
        ),
        ...(rule ? [cel(`self.matches('${rule.pattern.replaceAll("\\", "\\\\")}')`, rule.message)] : []),
      ],
    });

/**
 * The proxy's server.public_url is an origin (decision 035): its routes are at the root of its
 * host and the redirect URI it derives would drop a path. The proxy's own pattern
 * (PUBLIC_URL_PATTERN_SOURCE in its config/schema.ts; a test holds them equal).
 */
export const PUBLIC_URL_ORIGIN: UrlRule = {
  pattern: "^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]+)?/?$",
  message:
    "must be an origin such as https://tools.mcp.example.com, with no path, query or fragment: the proxy serves its routes at the root of its host and cannot be served under a path prefix",
};

/**
 * The proxy forgets a registered client client_ttl (30 days, its default; the CRD does not
 * set it) after its last use and refuses refresh tokens that would outlive it (its
 * config/validate.ts): spec.mcpAuth.refreshTokenTtl is refused past it here and by CEL.
 */
const CLIENT_TTL_SECONDS = 30 * 86_400;
const DURATION_UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
const REFRESH_TOKEN_TTL_MESSAGE =
  "mcpAuth.refreshTokenTtl must be at most 30d: the proxy forgets a registered client 30 days after its last use, and its refresh tokens with it";

const duration = z
  .string()
  .regex(/^[0-9]+(ms|s|m|h|d)$/)
  .meta(d('A duration such as "30s", "5m" or "24h".'));

const upstream = z
  .object({
    url: absoluteUrl(
      HTTP_SCHEMES,
      "http://mcp-server.tools.svc:3000",
      "URL of the MCP server, e.g. http://mcp-server.tools.svc:3000.",
    ).optional(),
    service: z
      .object({
        name: z.string().min(1).max(63).meta(d("Name of a Service in the resource's namespace.")),
        port: z.number().int().min(1).max(65535).meta(d("The Service port the MCP server listens on.")),
        scheme: z.enum(["http", "https"]).default("http").meta(d("Scheme to use toward the Service.")),
        headless: z
          .boolean()
          .default(false)
          .meta(
            d(
              "The Service is headless (clusterIP: None) in front of a stateful MCP server with several replicas: the proxy resolves its name to every pod, pins each MCP session to the pod that opened it and re-resolves the name periodically (DNS only, no Kubernetes API access). Needs session.store redis with more than one proxy replica.",
            ),
          ),
      })
      .optional()
      .meta(d("A Service in the same namespace in front of the MCP server.")),
    healthPath: z
      .string()
      .default("/health")
      .meta(d("Path probed for backend_status; any HTTP answer counts as reachable.")),
  })
  .meta({
    ...d("The MCP server to protect: exactly one of url or service."),
    "x-kubernetes-validations": [
      cel("has(self.url) != has(self.service)", "set exactly one of upstream.url and upstream.service"),
    ],
  });

const provider = z
  .object({
    issuer: absoluteUrl(
      HTTP_SCHEMES,
      "https://login.example.com/realms/company",
      "Issuer URL of the OpenID provider (or its discovery document URL).",
    ),
    clientId: z.string().min(1).max(1024).meta(d("Client id registered at the provider for this proxy.")),
    clientSecretRef: secretKeyRef.optional().meta(d("Secret key holding the client secret (confidential clients).")),
    caConfigMapRef: z
      .object({
        name: z.string().min(1).max(253).meta(d("Name of a ConfigMap in the resource's namespace.")),
        key: z.string().min(1).max(253).default("ca.crt").meta(d("Key holding the PEM bundle.")),
      })
      .optional()
      .meta(d("ConfigMap key with CA certificates to trust for the provider (an internal CA).")),
    scopes: z
      .array(z.string().max(256))
      .max(64)
      .default(["openid", "profile", "email"])
      .meta(d("Scopes requested at sign-in; must include openid.")),
    groupsClaim: z.string().max(256).default("groups").meta(d("Claim holding the user's groups.")),
  })
  .meta({
    ...d("The OpenID provider people sign in with."),
    "x-kubernetes-validations": [cel("'openid' in self.scopes", "provider.scopes must include openid")],
  });

/**
 * Bounds on every list and string: a resource of a few huge values (three user ids of
 * 300-400 KB) passed, then its ConfigMap was refused as too long on every retry.
 */
const MAX_ITEMS = 256;
const boundedList = z.array(z.string().max(1024)).max(MAX_ITEMS);

const access = z
  .object({
    // The proxy refuses a path not starting with / (--config-test): refused here too.
    publicPaths: z
      .array(z.string().max(2048).regex(/^\//))
      .max(MAX_ITEMS)
      .default([])
      .meta(d('Paths reachable without signing in (exact, or "/prefix/*"); each starts with /.')),
    requiredGroups: boundedList.default([]).meta(d("The user must be in one of these groups.")),
    allowedEmailDomains: boundedList.default([]).meta(d("Allowed domains of verified e-mail addresses.")),
    allowedUsers: boundedList.default([]).meta(d("User ids or e-mail addresses always allowed.")),
  })
  .meta(d("Who may use the MCP server once signed in."));

/** Bounded lists: the API server's CEL cost estimate needs a size for every list a rule walks. */
/**
 * The globs the proxy accepts (decision 047): "*" within a "/" segment, "**" as a whole segment,
 * never "***"; in tool and prompt globs ? [ ] { } and \ are not glob syntax and are refused.
 * Checked here as the proxy checks them at start, so `kubectl apply` refuses what would
 * otherwise crash-loop the proxy's pods. (The proxy also refuses resource globs spelled as
 * URIs it never lets through, `%2e` and the like: those stay its check.)
 */
const globPattern = (other: string) => {
  const segment = `(?:\\*\\*|${other}*(?:\\*${other}+)*\\*?)`;
  return `^${segment}(?:/${segment})*$`;
};
const NAME_GLOB = globPattern(String.raw`[^/*?\[\]{}\\]`);
const URI_GLOB = globPattern("[^/*]");
/**
 * Spellings of a resource URI the proxy refuses before any rule (decision 047: control
 * characters, outer spaces, backslashes, "%2e", encoded controls, double encodings, an
 * encoded "/" or "\" in the path, dot segments in any spelling): a resource glob spelled so
 * could never match. In a syntax RE2 (CEL) and
 * JavaScript read alike.
 */
const URI_SPELLING = String.raw`[\x00-\x1f\x7f\\]|^ | $|%2[eE]|%[01][0-9a-fA-F]|%7[fF]|%25(?:2[eEfF]|5[cC]|00)|^[^?#]*%(?:2[fF]|5[cC])|(?:^|[/?#])(?:[. ．]|%20)*[.．](?:[. ．]|%20)*(?:(?:;|%3[bB])[^/?#]*)?(?:[/?#]|$)`;
const URI_SPELLING_MESSAGE =
  'resource globs never match a URI spelled with control characters, outer spaces, backslashes, "%2e", an encoded "/" or "\\" in the path, or dot segments: the proxy refuses such URIs';
const GLOB_MESSAGE =
  'globs: "*" matches within a "/" segment and "**" is a whole segment ("a/**", "**/b"); "***" and "a**b" mean nothing';

/**
 * One glob: its syntax is a pattern the API server checks (a CEL rule over every glob of every
 * rule would pass the API server's cost budget many times over); a spelling the proxy refuses
 * besides (resource globs) is the operator's check, reported as InvalidSpec.
 */
const glob = (pattern: string, message: string, refused?: { pattern: string; message: string }) => {
  const item = z.string().min(1).max(512).regex(new RegExp(pattern), message);
  return refused ? item.refine((value) => !new RegExp(refused.pattern).test(value), refused.message) : item;
};

const names = (description: string, item: z.ZodType<string>) => z.array(item).max(100).default([]).meta(d(description));

/**
 * A condition on the caller: left out, or one value at least. The proxy refuses an empty list
 * (it would grant every signed-in user where it says "none of these", decision 048), so the
 * API server does too, and nothing defaults it to one.
 */
const condition = (description: string, item = z.string().min(1).max(512)) =>
  z
    .array(item)
    .min(1)
    .max(100)
    .optional()
    .meta(d(`${description} Left out, no such condition; never empty.`));

const mcpPolicyRule = z
  .object({
    name: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .meta(d("Named in denials, the audit trail and metrics; default rules[<index>], which moves with the rules.")),
    tools: names(
      'Tool name globs ("*" within a "/" segment, "**" across; ? [ ] { } and \\ are not glob syntax).',
      glob(NAME_GLOB, `tool ${GLOB_MESSAGE}; ? [ ] { } and \\ are not glob syntax (match them with "*")`),
    ),
    resources: names(
      'Resource URI globs, e.g. "file:///docs/**".',
      glob(URI_GLOB, `resource ${GLOB_MESSAGE}`, { pattern: URI_SPELLING, message: URI_SPELLING_MESSAGE }),
    ),
    prompts: names(
      "Prompt name globs.",
      glob(NAME_GLOB, `prompt ${GLOB_MESSAGE}; ? [ ] { } and \\ are not glob syntax (match them with "*")`),
    ),
    users: condition('Subjects (sub), or verified e-mail addresses (with "@"); any of them.'),
    groups: condition("Groups; any of them."),
    emailDomains: condition(
      'Domains of verified e-mail addresses, without "@" (example.com); any of them.',
      z
        .string()
        .min(1)
        .max(512)
        .regex(/^[^@]+$/),
    ),
    clients: condition("OAuth client ids (bearer tokens); any of them."),
    scopes: condition("Scopes the token must all carry; without them a client is asked to step up."),
  })
  .meta({
    ...d("Grants the names its globs cover to callers who meet every condition it lists."),
    "x-kubernetes-validations": [
      cel(
        "size(self.tools) + size(self.resources) + size(self.prompts) > 0",
        "a rule must name tools, resources or prompts",
      ),
    ],
  });

const mcpPolicy = z
  .object({
    rules: z
      .array(mcpPolicyRule)
      .max(200)
      .refine(
        (rules) => new Set(rules.flatMap((r) => (r.name ? [r.name] : []))).size === rules.filter((r) => r.name).length,
        "rule names must be unique",
      )
      .default([])
      .meta({
        ...d("Which caller may use which tool, resource and prompt; a kind a rule names is denied by default."),
        // The proxy refuses two rules of one name (they would be told apart in denials, the
        // audit trail and metrics by it). Names are optional, so a list-map keyed by name
        // cannot say it.
        "x-kubernetes-validations": [
          cel(
            "self.all(r, !has(r.name) || self.exists_one(o, has(o.name) && o.name == r.name))",
            "rule names must be unique",
          ),
        ],
      }),
    maxBodySize: z
      .string()
      .regex(/^\d+(b|kb|mb)?$/)
      .optional()
      .meta(d("Largest MCP request body read to judge it, e.g. 1mb.")),
    audit: z
      .object({ enabled: z.boolean().default(false).meta(d("One JSON line per MCP request on stdout.")) })
      .optional()
      .meta(d("The audit trail of MCP requests (the proxy's stdout, apart from its log by its fields).")),
  })
  .meta(d("MCP-aware authorization: per tool, resource and prompt; lists filtered per caller."));

const session = z
  .object({
    store: z.enum(["memory", "redis"]).default("memory").meta(d("memory (one replica) or redis (shared by replicas).")),
    ttl: duration.default("24h").meta(d("Session lifetime.")),
    redis: z
      .object({
        url: absoluteUrl(
          /rediss?/,
          "redis://redis.tools.svc:6379",
          "Redis URL, e.g. redis://redis.tools.svc:6379.",
        ).optional(),
        urlSecretRef: secretKeyRef.optional().meta(d("Secret key holding the Redis URL (when it carries a password).")),
        passwordSecretRef: secretKeyRef.optional().meta(d("Secret key holding the Redis password.")),
      })
      .optional()
      .meta({
        ...d("Redis connection, required when store is redis."),
        "x-kubernetes-validations": [
          cel("has(self.url) != has(self.urlSecretRef)", "set exactly one of redis.url and redis.urlSecretRef"),
        ],
      }),
  })
  .meta({
    ...d("Where sessions live."),
    "x-kubernetes-validations": [
      cel("self.store != 'redis' || has(self.redis)", "session.redis is required when session.store is redis"),
    ],
  });

const autoscaling = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .meta(d("Scale with a HorizontalPodAutoscaler instead of a fixed replica count.")),
    minReplicas: z.number().int().min(1).max(INT32_MAX).default(2).meta(d("Lower bound of the autoscaler.")),
    maxReplicas: z.number().int().min(1).max(INT32_MAX).default(10).meta(d("Upper bound of the autoscaler.")),
    targetCPUUtilizationPercentage: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(70)
      .meta(d("Average CPU utilization to aim for.")),
  })
  .meta({
    ...d("Horizontal autoscaling."),
    "x-kubernetes-validations": [
      cel("self.minReplicas <= self.maxReplicas", "autoscaling.minReplicas must not exceed maxReplicas"),
    ],
  });

/**
 * Kubernetes' resource.Quantity: a number, or a string of its form (the pattern
 * controller-gen puts on every Quantity). Without it "lots" passed the CRD and every apply
 * of the Deployment failed (500) with nothing for `kubectl wait` or Flux to end on.
 */
export const QUANTITY_PATTERN =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;
/**
 * The largest quantity taken: 1Ei (2^60) of anything is beyond any node, and past int64
 * (where "1e400" lands) the kubelet and the scheduler cannot hold the value at all.
 */
export const QUANTITY_MAX = "1Ei";
const QUANTITY_MAX_VALUE = 2n ** 60n;
/**
 * The pattern admits what Kubernetes cannot read: an exponent that is not a whole int64
 * ("1e1.5", "1e99999999999999999999"), which passed the CRD and ended in Stalled/ChildInvalid
 * (the Deployment's apply answered 500 "unable to convert"). Kubernetes parses the exponent
 * with strconv.ParseInt(…, 10, 64); this is that test.
 */
const INT64_MAX = 2n ** 63n - 1n;
export function hasReadableExponent(value: string): boolean {
  // The pattern's exponent group ("e1.5"); none for a suffix, "E" (exa) among them.
  const exponent = QUANTITY_PATTERN.exec(value)?.[8]?.slice(1);
  if (exponent === undefined) return true;
  if (!/^[+-]?[0-9]+$/.test(exponent)) return false;
  const magnitude = BigInt(exponent.replace(/^\+/, ""));
  return magnitude <= INT64_MAX && magnitude >= -INT64_MAX - 1n;
}
const QUANTITY_FORM = "must be a quantity such as 500m, 2, 128Mi or 1.5Gi";
// Also said (after the pattern's own message) of a string the pattern refuses: CEL runs all the same.
const UNREADABLE_EXPONENT = `${QUANTITY_FORM}, that Kubernetes can read: an exponent is a whole number below 2^63, as in 1e3`;
/**
 * The pattern also admits a sign and any exponent ("-1Gi", "1e400" passed the CRD and reached
 * the Deployment). CEL's quantity library reads the size as Kubernetes does: isQuantity() is
 * Kubernetes' own parse, so a string it refuses never reaches the apply; the size rule leaves
 * such a string to that rule (quantity() of it would fail the evaluation).
 */
const quantityRules = [
  cel("type(self) == int || isQuantity(self)", UNREADABLE_EXPONENT),
  cel("type(self) == int ? self >= 0 : !self.startsWith('-')", "must not be negative"),
  cel(
    `type(self) == int ? self <= ${QUANTITY_MAX_VALUE} : !isQuantity(self) || quantity(self).compareTo(quantity('${QUANTITY_MAX}')) <= 0`,
    `must be at most ${QUANTITY_MAX}`,
  ),
];
const quantity = z
  .union([
    z
      .string()
      .max(64)
      .regex(QUANTITY_PATTERN, QUANTITY_FORM)
      .refine(hasReadableExponent, UNREADABLE_EXPONENT)
      .refine((value) => !value.startsWith("-"), "must not be negative"),
    // The CRD's int-or-string takes whole numbers only (0.5 is refused there: write "500m").
    z.number().int().min(0, "must not be negative").max(Number(QUANTITY_MAX_VALUE), `must be at most ${QUANTITY_MAX}`),
  ])
  .meta({ "x-kubernetes-validations": quantityRules });
/** A container's resources by name: a few in practice; the bound keeps the CEL rules' cost within budget. */
const QUANTITIES_MAX = 16;
const quantities = z
  .record(z.string().max(253), quantity)
  .refine((map) => Object.keys(map).length <= QUANTITIES_MAX, `must name at most ${QUANTITIES_MAX} resources`)
  .meta({ maxProperties: QUANTITIES_MAX });
const resources = z
  .object({
    requests: quantities.optional().meta(d("Minimum resources, e.g. {cpu: 100m, memory: 128Mi}.")),
    limits: quantities.optional().meta(d("Maximum resources, e.g. {memory: 256Mi}.")),
  })
  .meta(
    d("Compute resources of the proxy container. Unset: requests {cpu: 100m, memory: 128Mi}, limits {memory: 256Mi}."),
  );

/**
 * Rules on the whole resource (CEL at the root sees metadata.name). metadata.name names
 * the children: the Service (a DNS-1035 label) and the app.kubernetes.io/instance label
 * (at most 63 characters) take it as is.
 */
export const NAME_MAX_LENGTH = 63;
export const rootRules = [
  cel(
    `self.metadata.name.size() <= ${NAME_MAX_LENGTH}`,
    `metadata.name must be at most ${NAME_MAX_LENGTH} characters: it names the proxy's Service and labels its pods`,
  ),
  cel(
    "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    "metadata.name must be lower-case letters, digits and '-', starting with a letter: it names the proxy's Service",
  ),
  // The proxy's Service has the resource's name: an upstream of that name is the proxy itself.
  // A resource stored before this rule keeps its upstream through other writes (optionalOldSelf:
  // a root rule is not ratcheted, so the operator's status write saying InvalidSpec, or a
  // label, would be refused too).
  {
    ...cel(
      "(oldSelf.hasValue() && oldSelf.value().spec.upstream == self.spec.upstream) || !has(self.spec.upstream.service) || self.spec.upstream.service.name != self.metadata.name",
      "spec.upstream.service.name must not be the McpOidcProxy's own name: the proxy's Service takes that name, so the proxy would forward to itself; name the McpOidcProxy differently (e.g. tools-auth)",
    ),
    optionalOldSelf: true,
  },
];

export const specSchema = z
  .object({
    upstream,
    publicUrl: absoluteUrl(
      HTTP_SCHEMES,
      "https://tools.mcp.example.com",
      "URL clients use to reach the proxy (behind your Ingress or Gateway); advertised to clients and providers. An origin: the proxy serves at the root of its host, not under a path.",
      PUBLIC_URL_ORIGIN,
    ).optional(),
    authMode: z
      .enum(["oidc", "bypass"])
      .default("oidc")
      .meta(d("oidc, or bypass (no authentication: development only).")),
    provider: provider.optional(),
    mcpAuth: z
      .object({
        mode: z
          .enum(["off", "provider", "proxy"])
          .default("off")
          .meta(
            d(
              "How MCP clients get and present bearer tokens: off (browser sessions only), provider (the provider issues JWTs for this server), proxy (the proxy is their authorization server and delegates sign-in to the provider).",
            ),
          ),
        requiredScopes: z
          .array(z.string().max(256))
          .max(64)
          .default([])
          .meta(d("Scopes every bearer token must carry.")),
        pathScopes: z
          .record(z.string().max(2048), z.array(z.string().max(256)).max(64))
          .optional()
          .meta(d("Scopes a token needs for paths under a prefix, e.g. /admin: [mcp:admin].")),
        preapprovedClients: z
          .array(z.string().max(1024))
          .max(MAX_ITEMS)
          .optional()
          .meta(d("mode proxy: client ids that skip the consent page.")),
        accessTokenTtl: z
          .string()
          .regex(/^\d+[smhd]$/)
          .optional()
          .meta(d("mode proxy: lifetime of access tokens, e.g. 10m.")),
        refreshTokenTtl: z
          .string()
          .max(12)
          .regex(/^\d+[smhd]$/)
          .refine(
            (ttl) => Number(ttl.slice(0, -1)) * (DURATION_UNIT_SECONDS[ttl.slice(-1)] ?? 0) <= CLIENT_TTL_SECONDS,
            REFRESH_TOKEN_TTL_MESSAGE,
          )
          .optional()
          .meta(
            d(
              "mode proxy: lifetime of refresh tokens, e.g. 14d; at most 30d, the time a registered client is kept after its last use.",
            ),
          ),
      })
      .optional()
      .meta({
        ...d("MCP authorization for clients with bearer tokens."),
        "x-kubernetes-validations": [
          cel(
            "!has(self.pathScopes) || self.pathScopes.all(p, p.startsWith('/'))",
            "mcpAuth.pathScopes keys must be paths starting with /",
          ),
          cel(
            `!has(self.refreshTokenTtl) || int(self.refreshTokenTtl.substring(0, size(self.refreshTokenTtl) - 1)) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}[self.refreshTokenTtl.substring(size(self.refreshTokenTtl) - 1)] <= ${CLIENT_TTL_SECONDS}`,
            REFRESH_TOKEN_TTL_MESSAGE,
          ),
        ],
      }),
    access: access.optional(),
    mcpPolicy: mcpPolicy.optional(),
    session: session.default({ store: "memory", ttl: "24h" }),
    replicas: z
      .number()
      .int()
      .min(0)
      .max(INT32_MAX)
      .default(1)
      .meta(d("Fixed replica count; it cannot change while autoscaling is enabled.")),
    autoscaling: autoscaling.optional(),
    image: z
      .string()
      .max(1024)
      .regex(/^\S+$/, "must be an image reference without spaces")
      .optional()
      .meta(d("Proxy image; default: the operator's own version of mcp-oidc-proxy.")),
    imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).optional().meta(d("Image pull policy.")),
    resources: resources.optional(),
    logLevel: z.enum(["error", "warn", "info", "debug"]).default("info").meta(d("Log level of the proxy.")),
  })
  .meta({
    ...d("Desired state of one mcp-oidc-proxy deployment in front of one MCP server."),
    "x-kubernetes-validations": [
      cel("self.authMode == 'bypass' || has(self.provider)", "provider is required when authMode is oidc"),
      cel(
        "!has(self.mcpAuth) || self.mcpAuth.mode == 'off' || self.authMode == 'oidc'",
        "mcpAuth.mode provider or proxy needs authMode oidc",
      ),
      cel(
        "!has(self.mcpPolicy) || self.mcpPolicy.rules.all(r, !has(r.clients) && !has(r.scopes)) || (has(self.mcpAuth) && self.mcpAuth.mode != 'off')",
        "mcpPolicy rules with clients or scopes need mcpAuth.mode provider or proxy (bearer tokens)",
      ),
      cel(
        "self.session.store == 'redis' || (self.replicas <= 1 && !(has(self.autoscaling) && self.autoscaling.enabled))",
        "more than one replica needs session.store redis: a memory store is not shared",
      ),
      // kubectl scale writes spec.replicas through the scale subresource; while the
      // HorizontalPodAutoscaler owns the count that write would be silently ignored.
      cel(
        "!(has(self.autoscaling) && self.autoscaling.enabled && has(oldSelf.autoscaling) && oldSelf.autoscaling.enabled) || self.replicas == oldSelf.replicas",
        "spec.replicas cannot change while autoscaling is enabled (the HorizontalPodAutoscaler sets the count): change autoscaling.minReplicas and maxReplicas, or disable autoscaling",
      ),
    ],
  });

export const conditionSchema = z.object({
  type: z.string().meta(d("Ready, Progressing, Degraded or Stalled.")),
  status: z.enum(["True", "False", "Unknown"]).meta(d("True, False or Unknown.")),
  observedGeneration: z.number().int().optional().meta(d("The generation this condition was computed for.")),
  lastTransitionTime: z.string().meta(d("When the status last changed (RFC 3339).")),
  reason: z.string().meta(d("CamelCase reason, stable for machines.")),
  message: z.string().meta(d("Human-readable explanation.")),
});

export const statusSchema = z
  .object({
    observedGeneration: z.number().int().optional().meta(d("The generation the status describes.")),
    conditions: z
      .array(conditionSchema)
      .optional()
      .meta(d("Ready, Progressing, Degraded and Stalled, as metav1.Condition.")),
    replicas: z.number().int().optional().meta(d("Pods of the proxy.")),
    readyReplicas: z.number().int().optional().meta(d("Ready pods of the proxy.")),
    url: z.string().optional().meta(d("Where clients reach the proxy.")),
    selector: z.string().optional().meta(d("Label selector of the pods, for the scale subresource.")),
  })
  .meta(d("Observed state, written by the operator."));

export type McpOidcProxySpec = z.output<typeof specSchema>;

const CONDITIONS = ["users", "groups", "emailDomains", "clients", "scopes"] as const;

/**
 * A stored spec as the operator reads it. Resources stored under the CRD before decision 048
 * carry `[]` for every condition a rule left out (that CRD defaulted them): an empty list is
 * read as left out, as that default meant and the proxy then did, so they keep reconciling. The
 * API server refuses new empty lists (minItems); the proxy, were one to reach it, too.
 */
export function storedSpec(spec: unknown): unknown {
  const rules = (spec as { mcpPolicy?: { rules?: unknown } } | undefined)?.mcpPolicy?.rules;
  if (!Array.isArray(rules)) return spec;
  const read = rules.map((rule: unknown) => {
    if (typeof rule !== "object" || rule === null) return rule;
    const copy = { ...(rule as Record<string, unknown>) };
    for (const key of CONDITIONS) if (Array.isArray(copy[key]) && copy[key].length === 0) delete copy[key];
    return copy;
  });
  const typed = spec as { mcpPolicy: Record<string, unknown> };
  return { ...typed, mcpPolicy: { ...typed.mcpPolicy, rules: read } };
}
export type McpOidcProxyStatus = z.output<typeof statusSchema>;
export type Condition = z.output<typeof conditionSchema>;

export interface McpOidcProxy {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec: McpOidcProxySpec;
  status?: McpOidcProxyStatus;
}

/** Stalled=True is what kstatus (Flux, `kubectl wait`, cli-utils) reads as Failed. */
export const ConditionType = {
  Ready: "Ready",
  Progressing: "Progressing",
  Degraded: "Degraded",
  Stalled: "Stalled",
} as const;
export const Reason = {
  Available: "Available",
  RolloutInProgress: "RolloutInProgress",
  /** The Deployment's own reasons, passed on: its Progressing=False and ReplicaFailure=True. */
  ProgressDeadlineExceeded: "ProgressDeadlineExceeded",
  FailedCreate: "FailedCreate",
  InvalidSpec: "InvalidSpec",
  ApplyFailed: "ApplyFailed",
  /** The API server refused a child as invalid (422): only a change of the spec can fix it. */
  ChildInvalid: "ChildInvalid",
  /** An object of a child's name exists and is not this resource's: the operator leaves it alone. */
  ChildConflict: "ChildConflict",
  SecretMissing: "SecretMissing",
  ConfigMapMissing: "ConfigMapMissing",
  AsExpected: "AsExpected",
} as const;
