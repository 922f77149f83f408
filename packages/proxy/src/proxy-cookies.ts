// Every cookie the proxy sets, in one place: the session cookie (express-session), the login
// transaction cookies (one per tab that signs in, with their index) and the authorization server's cookies
// (oidc-provider: session, interaction, resume, each with its ".sig" signature). The
// settings are computed once from the config; the upstream filter asks this module which
// names are the proxy's, so a cookie added here can never leak to the MCP server.
import { parse as parseCookieHeader } from "cookie";
import type { CookieOptions, Request } from "express";
import type { CookieOptions as SessionCookieOptions } from "express-session";
import { BoundedMemo } from "./bounded-memo.ts";
import type { Config } from "./config/schema.ts";

/** Login transaction cookies: this prefix plus the start of the login's state. */
const TRANSACTION_PREFIX = "mcp_login_";

/** The authorization server's cookie names (oidc-provider `cookies.names`). */
const AUTHORIZATION_SERVER_NAMES = {
  session: "mcp_oauth",
  interaction: "mcp_oauth_interaction",
  resume: "mcp_oauth_resume",
} as const;

/** RFC 6265bis name prefixes, and suffixes of the signature and legacy cookies koa's library writes. */
const NAME_PREFIXES = /^__(?:Host|Secure)-/;
const NAME_SUFFIXES = /(?:\.legacy)?(?:\.sig)?$/;

export function transactionCookieName(state: string): string {
  // The state is random base64url; its first characters are enough to tell tabs apart.
  return `${TRANSACTION_PREFIX}${state.slice(0, 12)}`;
}

/**
 * The list of open sign-ins: the names of the live transaction cookies, oldest first. The
 * transaction cookies go to /callback only, so the start of a sign-in (any path) learns
 * from this small Path=/ cookie which ones to clear when too many are open.
 */
export const TRANSACTION_INDEX_NAME = `${TRANSACTION_PREFIX}index`;
const TRANSACTION_ID = /^[\w-]{12}$/;

export function openTransactionNames(cookieHeader: string | undefined): string[] {
  const index = parseCookieHeader(cookieHeader ?? "")[TRANSACTION_INDEX_NAME] ?? "";
  return index
    .split(".")
    .filter((id) => TRANSACTION_ID.test(id))
    .map((id) => `${TRANSACTION_PREFIX}${id}`);
}

export function transactionIndexValue(names: readonly string[]): string {
  return names.map((name) => name.slice(TRANSACTION_PREFIX.length)).join(".");
}

/** Cookie headers remembered filtered, up to this length each. */
const FILTERED = { maxEntries: 1_000, maxKeyLength: 1_024 };

/** Cookie values are kept byte for byte: the filter must not re-encode what it forwards. */
const verbatim = (value: string) => value;

export class ProxyCookies {
  /** true / false, or "auto": Secure when the request arrived over TLS (trusted proxy headers). */
  readonly secure: boolean | "auto";
  /** The session cookie's name ("__Host-" prefixed when it can be). */
  readonly sessionName: string;
  /** Settings of the session cookie, for express-session. */
  readonly sessionCookie: SessionCookieOptions;
  readonly authorizationServer: { names: { session: string; interaction: string; resume: string } };
  /** Base names (no prefix, no suffix) of every cookie the proxy sets, except the per-login ones. */
  readonly #ownNames: ReadonlySet<string>;
  readonly #base: CookieOptions;
  readonly #markers: string[];
  /**
   * Cookie headers already filtered, and what was left of each. They hold session cookies, as
   * the session cache's keys do: in this process only, until others take their place.
   */
  readonly #filtered = new BoundedMemo((header) => this.#withoutProxyCookies(header), FILTERED);

  constructor(config: Config) {
    const { session: s, server } = config;
    this.secure =
      s.cookie_secure === "always"
        ? true
        : s.cookie_secure === "never"
          ? false
          : server.public_url
            ? server.public_url.startsWith("https:")
            : server.trust_proxy !== false
              ? "auto"
              : false;
    // "__Host-" binds the cookie to this exact host over TLS: no subdomain can set or read it.
    this.sessionName = this.secure === true && !s.cookie_domain ? `__Host-${s.cookie_name}` : s.cookie_name;
    this.#base = {
      httpOnly: true,
      sameSite: s.cookie_same_site,
      path: "/",
      ...(s.cookie_domain ? { domain: s.cookie_domain } : {}),
    };
    this.sessionCookie = { ...(this.#base as SessionCookieOptions), secure: this.secure, maxAge: s.ttl };
    this.authorizationServer = {
      names: {
        ...AUTHORIZATION_SERVER_NAMES,
        session:
          this.secure === true ? `__Host-${AUTHORIZATION_SERVER_NAMES.session}` : AUTHORIZATION_SERVER_NAMES.session,
      },
    };
    this.#ownNames = new Set([s.cookie_name, ...Object.values(AUTHORIZATION_SERVER_NAMES)]);
    this.#markers = [s.cookie_name, AUTHORIZATION_SERVER_NAMES.session, TRANSACTION_PREFIX];
  }

  /** Attributes of the cookies set per request (login transaction), Secure resolved for `req`. */
  options(req: Request): CookieOptions {
    return { ...this.#base, secure: this.secure === "auto" ? req.secure : this.secure };
  }

  /**
   * Whether `name` is one of the proxy's cookies, in any variant a browser may still hold:
   * with or without "__Host-"/"__Secure-" (set before the secure setting changed), and the
   * ".sig" / ".legacy" companions.
   */
  isProxyCookie(name: string): boolean {
    const base = name.replace(NAME_PREFIXES, "").replace(NAME_SUFFIXES, "");
    return this.#ownNames.has(base) || base.startsWith(TRANSACTION_PREFIX);
  }

  /**
   * A Cookie header without the proxy's cookies, or undefined when none is left. A header
   * holding none of them passes unchanged; otherwise the other pairs are written again as
   * `name=value` in their order (the `cookie` package keeps the first of repeated names,
   * as servers reading the header do).
   */
  withoutProxyCookies(header: string): string | undefined {
    // Most requests carry none of them: a substring test spares the parse (every name contains one of these).
    if (!this.#markers.some((marker) => header.includes(marker))) return header;
    // A browser sends the same header with each request: filtered once (pure), remembered (bounded).
    return this.#filtered.get(header);
  }

  #withoutProxyCookies(header: string): string | undefined {
    const pairs = Object.entries(parseCookieHeader(header, { decode: verbatim }));
    if (!pairs.some(([name]) => this.isProxyCookie(name))) return pairs.length > 0 ? header : undefined;
    const kept = pairs.filter(([name]) => !this.isProxyCookie(name)).map(([name, value]) => `${name}=${value}`);
    return kept.length > 0 ? kept.join("; ") : undefined;
  }
}
