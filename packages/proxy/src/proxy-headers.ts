// Every header name the proxy gives a meaning to, in one place: the ones it never takes from
// a client (identity, credentials, forwarding information, hop-by-hop), the request id's
// configured name, and what browsers may send (CORS) and read. Names are compared folded
// (lower case, "_" as "-"): several servers and frameworks (CGI/WSGI, nginx, some Node
// routers) read "X_User_ID" as "X-User-ID", so a look-alike must be stripped like the original.
import type { IncomingMessage } from "node:http";
import type { Config } from "./config/schema.ts";
import { peerTrust, requestIdOf } from "./middleware/request-scope.ts";

/** The form names are compared in: lower case, underscores as dashes. */
export function foldHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes("_") ? lower.replaceAll("_", "-") : lower;
}

/** RFC 9110 §7.6.1: these describe one connection and are never forwarded (Host is the target's). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  // The proxy answers "100 Continue" itself, after authentication (undici refuses to send it).
  "expect",
]);

/**
 * The folded names a Connection header value (or several) nominates as hop-by-hop (RFC 9110
 * §7.6.1), beyond its own keep-alive/close: a proxy drops them in both directions.
 */
export function connectionNominated(values: Iterable<string>): Set<string> | undefined {
  let names: Set<string> | undefined;
  for (const value of values) {
    // What nearly every client and server sends names no other header: nothing to split.
    if (value === "keep-alive" || value === "close") continue;
    for (const token of value.split(",")) {
      const name = foldHeaderName(token.trim());
      if (!name || name === "keep-alive" || name === "close") continue;
      names ??= new Set();
      names.add(name);
    }
  }
  return names;
}

/** What an upstream answer's parsed headers nominate in their Connection header, if anything. */
export function answerConnectionNominated(
  headers: Record<string, string | string[] | undefined>,
): Set<string> | undefined {
  const value = headers.connection;
  if (value === undefined || value === "keep-alive" || value === "close") return undefined;
  return connectionNominated(Array.isArray(value) ? value : [value]);
}

/**
 * Client-sent headers saying where a request came from. The proxy is where that is known:
 * it drops the client's and writes its own X-Forwarded-For/-Proto/-Host.
 */
const FORWARDING = ["forwarded", "x-real-ip", "x-client-ip", "x-original-forwarded-for"];
const FORWARDING_PREFIX = "x-forwarded-";

/**
 * Identity headers other authenticating proxies and platforms write (oauth2-proxy, Pomerium,
 * Vouch, Authelia and Apache's Remote-*, Kubernetes' front proxy X-Remote-*, authentik,
 * Tailscale, mod_auth_openidc, AWS ALB, Azure App Service, Google IAP, Cloudflare Access,
 * Kong) and IIS's rewrite hints: an MCP server written for one of them would take a
 * client's copy for the truth, so none is ever taken from a client.
 */
const FOREIGN_IDENTITY = [
  "x-auth-user",
  "x-authenticated-user",
  "x-authenticated-userid",
  "x-authenticated-groups",
  "x-webauth-user",
  "x-user",
  "x-user-role",
  "x-user-roles",
  "x-email",
  "x-access-token",
  "x-id-token",
  "x-jwt-assertion",
  "x-userinfo",
  "x-original-url",
  "x-rewrite-url",
];
const FOREIGN_IDENTITY_PREFIXES = [
  "remote-",
  "x-remote-",
  "x-authentik-",
  "tailscale-user-",
  "oidc-",
  "x-auth-request-",
  "x-pomerium-",
  "x-vouch-",
  "x-amzn-oidc-",
  "x-ms-client-principal",
  "x-ms-token-",
  "x-goog-authenticated-user-",
  "x-goog-iap-",
  "cf-access-",
];

/** The client's own credentials are for the proxy; they never reach the MCP server. */
const CREDENTIALS = ["authorization", "proxy-authorization"];

/** Headers every browser client may send besides the MCP family (preflights). */
const STANDARD_REQUEST_HEADERS = [
  "accept",
  "accept-language",
  "content-language",
  "content-type",
  "authorization",
  "last-event-id",
];
/** The MCP family: Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Param-*. */
const MCP_FAMILY_PREFIX = "mcp-";
/** Response headers browser clients must be able to read (MCP Inspector needs the session id). */
const EXPOSED = ["Mcp-Session-Id", "WWW-Authenticate", "MCP-Protocol-Version"];
const DECIDED_NAMES_LIMIT = 1024;

export class ProxyHeaders {
  /** The request id header as configured (echoed to clients, sent upstream). */
  readonly requestIdName: string;
  /** The same, lower case (how Node names it in req.headers). */
  readonly requestIdKey: string;
  /** Access-Control-Expose-Headers, computed once. */
  readonly exposed: string;
  readonly exposedList: readonly string[];
  /** Folded names never taken from a client. */
  readonly #stripped: ReadonlySet<string>;
  readonly #corsStandard: ReadonlySet<string>;
  /** Decisions per name as sent, so the hot path does not fold the same names again and again. */
  readonly #decided = new Map<string, boolean>();

  /** Whether a request's peer may give it its id (a trusted proxy). */
  readonly #trustsPeer: (req: IncomingMessage) => boolean;

  constructor(headers: Config["headers"], trustProxy: Config["server"]["trust_proxy"] = false) {
    this.#trustsPeer = peerTrust(trustProxy);
    this.requestIdName = headers.request_id;
    this.requestIdKey = headers.request_id.toLowerCase();
    this.exposedList = [...EXPOSED, headers.request_id];
    this.exposed = this.exposedList.join(", ");
    const identity = [
      headers.user_id,
      headers.email,
      headers.name,
      headers.groups,
      headers.provider,
      headers.request_id,
    ];
    this.#stripped = new Set([
      ...HOP_BY_HOP,
      ...CREDENTIALS,
      ...FORWARDING,
      ...FOREIGN_IDENTITY,
      ...identity.map(foldHeaderName),
    ]);
    this.#corsStandard = new Set([...STANDARD_REQUEST_HEADERS, foldHeaderName(headers.request_id)]);
  }

  /** The request's id: a trusted proxy's, or a new one. */
  requestIdOf(req: IncomingMessage): string {
    return requestIdOf(req, this.requestIdKey, this.#trustsPeer(req));
  }

  /** Whether the connection's peer is a proxy server.trust_proxy trusts (its X-Forwarded-For chain is kept). */
  trustsPeer(req: IncomingMessage): boolean {
    return this.#trustsPeer(req);
  }

  /** Whether a client's header (any case, "_" or "-") is dropped before forwarding. */
  isStripped(name: string): boolean {
    let stripped = this.#decided.get(name);
    if (stripped === undefined) {
      const folded = foldHeaderName(name);
      stripped =
        this.#stripped.has(folded) ||
        folded.startsWith(FORWARDING_PREFIX) ||
        FOREIGN_IDENTITY_PREFIXES.some((prefix) => folded.startsWith(prefix));
      // Clients send the same few spellings on every request; the bound keeps made-up names from growing it.
      if (this.#decided.size < DECIDED_NAMES_LIMIT) this.#decided.set(name, stripped);
    }
    return stripped;
  }

  /**
   * Access-Control-Allow-Headers for a preflight: the requested headers that are standard
   * or of the MCP family (Mcp-Param-* has open-ended names, so a fixed list cannot do).
   */
  allowedRequestHeaders(requested: string | undefined): string[] {
    if (!requested) return [];
    return requested
      .split(",")
      .map((name) => name.trim())
      .filter((name) => {
        const lower = name.toLowerCase();
        return this.#corsStandard.has(lower) || (lower.startsWith(MCP_FAMILY_PREFIX) && /^[a-z0-9-]+$/.test(lower));
      });
  }
}
