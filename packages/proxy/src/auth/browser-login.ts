// Browser sign-in with the upstream provider: authorization code + PKCE (S256) + state +
// nonce, /callback, /logout (a confirmation page whose same-origin form ends the session,
// then RP-initiated logout when the provider offers it) and the session API.
import type { IncomingMessage } from "node:http";
import { parse as parseCookies } from "cookie";
import type { CookieOptions, Request, Response, Router } from "express";
import express from "express";
import * as oidc from "openid-client";
import type { Config } from "../config/schema.ts";
import { isPageNavigation } from "../error-page.ts";
import { badRequest, ProxyError, unauthorized } from "../errors.ts";
import { PAGE_HEADERS } from "../html-page.ts";
import type { Logger } from "../observability/logger.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import type { OwnedPaths } from "../own-paths.ts";
import {
  openTransactionNames,
  TRANSACTION_INDEX_NAME,
  transactionCookieName,
  transactionIndexValue,
} from "../proxy-cookies.ts";
import { safeReturnPath } from "../public-url.ts";
import { CONNECTED_CLIENTS_PATHS } from "./authorization-server/connected-clients-page.ts";
import { newCsrfToken, sameCsrfToken } from "./csrf.ts";
import { LOGIN_TRANSACTION_TTL_SECONDS, MAX_OPEN_SIGN_INS, type TransactionSealer } from "./login-transaction.ts";
import { ProviderUnreachable, providerUnavailable } from "./provider-failure.ts";
import { claimsMappingFor, userFromTokenResponse } from "./provider-user.ts";
import { renderSignOutPage } from "./sign-out-page.ts";
import type { UpstreamOidc } from "./upstream-oidc.ts";

declare module "express-session" {
  interface SessionData {
    /** CSRF token of the sign-out page on screen. */
    signOutCsrf?: string;
  }
}

export interface BrowserLoginDeps {
  config: Config;
  upstream: UpstreamOidc;
  sealer: TransactionSealer;
  metrics: ProxyMetrics;
  logger: Logger;
  publicUrl: (req: Request) => URL;
  /** Options of the proxy's own cookies (Secure, SameSite, domain), decided at startup. */
  cookieOptions: (req: Request) => CookieOptions;
  sessionCookieName: string;
  /** Tells the hot path's session cache that a session ended. */
  forgetSession: (id: string) => void;
  /**
   * What else ends when a person signs out: with mcp_auth.mode proxy, the MCP client grants
   * they made and this browser's session at the authorization server (decision 037). Done
   * before the session ends: if the store fails half-way, the session stays and a retry
   * finishes the rest.
   */
  signedOut?: (userId: string, req: Request, res: Response) => Promise<void>;
}

/** The bodies an HTML form can post cross-site without a CORS preflight. */
const FORM_BODIES = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"];

/** The sign-in routes besides the callback (oidc.redirect_path). */
export const LOGIN_PATHS = { login: "/login", logout: "/logout", session: "/api/v1/session" } as const;

/** The browser sign-in's paths; the proxy owns them in every mode (bypass answers the session API). */
export function browserLoginPaths(redirectPath: string): OwnedPaths {
  return { exact: [redirectPath, ...Object.values(LOGIN_PATHS)] };
}

/** Which of them are pages a person sees (the callback lands on one): no CORS for them (origin.ts). */
export function browserLoginPagePaths(redirectPath: string): OwnedPaths {
  return { exact: [redirectPath, LOGIN_PATHS.login, LOGIN_PATHS.logout] };
}

/** A top-level page load that may be sent to sign in: only GET and HEAD page loads are redirected. */
export function isBrowserNavigation(req: IncomingMessage): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  return (req.headers.accept ?? "").includes("text/html") && isPageNavigation(req);
}

export class BrowserLogin {
  readonly #deps: BrowserLoginDeps;

  constructor(deps: BrowserLoginDeps) {
    this.#deps = deps;
  }

  redirectUri(req: Request): string {
    return new URL(this.#deps.config.oidc.redirect_path, this.#deps.publicUrl(req)).href;
  }

  /** Sends the browser to the provider, remembering where it wanted to go. */
  async start(req: Request, res: Response, returnTo: string): Promise<void> {
    const { config, upstream, sealer, metrics } = this.#deps;
    const configuration = upstream.configuration();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const transaction = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier,
      returnTo: safeReturnPath(returnTo, this.#deps.publicUrl(req)),
    };
    const url = oidc.buildAuthorizationUrl(configuration, {
      ...config.oidc.extra_auth_params,
      redirect_uri: this.redirectUri(req),
      scope: config.oidc.scopes.join(" "),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      state: transaction.state,
      nonce: transaction.nonce,
    });
    const name = transactionCookieName(transaction.state);
    const open = [...openTransactionNames(req.headers.cookie).filter((other) => other !== name), name];
    // The oldest sign-ins beyond the bound are forgotten (their tabs get "start again").
    for (const stale of open.splice(0, Math.max(0, open.length - MAX_OPEN_SIGN_INS))) {
      res.clearCookie(stale, { ...this.#deps.cookieOptions(req), path: config.oidc.redirect_path });
    }
    res.cookie(name, await sealer.seal(transaction), this.#transactionCookie(req, config.oidc.redirect_path));
    res.cookie(TRANSACTION_INDEX_NAME, transactionIndexValue(open), this.#transactionCookie(req, "/"));
    metrics.authAttempts.inc({ result: "login_started" });
    res.redirect(302, url.href);
  }

  #transactionCookie(req: Request, path: string): CookieOptions {
    return {
      ...this.#deps.cookieOptions(req),
      // Lax (not Strict): the provider's redirect back is a cross-site top-level navigation.
      sameSite: "lax",
      maxAge: LOGIN_TRANSACTION_TTL_SECONDS * 1000,
      path,
    };
  }

  /** Takes a finished (or failed) sign-in off the index of open ones. */
  #closeTransaction(req: Request, res: Response, name: string): void {
    res.clearCookie(name, { ...this.#deps.cookieOptions(req), path: this.#deps.config.oidc.redirect_path });
    const open = openTransactionNames(req.headers.cookie).filter((other) => other !== name);
    if (open.length > 0)
      res.cookie(TRANSACTION_INDEX_NAME, transactionIndexValue(open), this.#transactionCookie(req, "/"));
    else res.clearCookie(TRANSACTION_INDEX_NAME, { ...this.#deps.cookieOptions(req), path: "/" });
  }

  router(): Router {
    const router = express.Router();
    const { config } = this.#deps;
    // Express 5 passes a rejected promise of a handler on to the error handler.
    router.get(config.oidc.redirect_path, (req, res) => this.#callback(req, res));
    router.get(LOGIN_PATHS.login, (req, res) => this.start(req, res, String(req.query.rd ?? "/")));
    router.get(LOGIN_PATHS.logout, (req, res) => this.#confirmLogout(req, res));
    router.post(LOGIN_PATHS.logout, express.urlencoded({ extended: false, limit: "1kb" }), (req, res) =>
      this.#logout(req, res),
    );
    router.get(LOGIN_PATHS.session, (req, res) => {
      const user = req.session?.user;
      if (!user) throw unauthorized("No signed-in session");
      // A person's identity: no browser or shared cache keeps it (RFC 9111 no-store).
      res.set("cache-control", "no-store").json({
        authenticated: true,
        user,
        authenticated_at: req.session.authenticatedAt ? new Date(req.session.authenticatedAt).toISOString() : null,
        expires_at: req.session.cookie.expires?.toISOString() ?? null,
      });
    });
    return router;
  }

  async #callback(req: Request, res: Response): Promise<void> {
    const { upstream, sealer, metrics, logger, config } = this.#deps;
    const state = typeof req.query.state === "string" ? req.query.state : undefined;
    if (typeof req.query.error === "string") {
      metrics.authAttempts.inc({ result: "login_failed" });
      throw new ProxyError("OIDC_ERROR", 401, "The identity provider refused the sign-in", {
        details: {
          error: req.query.error.slice(0, 100),
          ...(typeof req.query.error_description === "string"
            ? { error_description: req.query.error_description.slice(0, 300) }
            : {}),
        },
      });
    }
    if (!state || typeof req.query.code !== "string") throw badRequest("The callback needs code and state");

    const cookieName = transactionCookieName(state);
    const sealed = parseCookies(req.headers.cookie ?? "")[cookieName];
    const transaction = sealed ? await sealer.open(sealed) : undefined;
    this.#closeTransaction(req, res, cookieName);
    if (!transaction || transaction.state !== state) {
      metrics.authAttempts.inc({ result: "login_failed" });
      throw new ProxyError(
        "INVALID_SESSION",
        400,
        "This sign-in expired or was started in another browser; start again",
        {
          details: { login_url: "/login" },
        },
      );
    }

    const currentUrl = new URL(req.originalUrl, this.redirectUri(req));
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(upstream.configuration(), currentUrl, {
        pkceCodeVerifier: transaction.codeVerifier,
        expectedState: transaction.state,
        expectedNonce: transaction.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      metrics.authAttempts.inc({ result: "login_failed" });
      logger.warn("code exchange failed", { error: (error as Error).message });
      // No answer is a failing dependency (503, try again); an answer that refuses is the sign-in's end.
      if (error instanceof ProviderUnreachable) throw providerUnavailable(error);
      throw new ProxyError("OIDC_ERROR", 401, "The sign-in could not be completed with the identity provider", {
        cause: error,
      });
    }
    const user = await userFromTokenResponse(upstream, tokens, claimsMappingFor(config, upstream.issuer()));
    if (!user) throw new ProxyError("OIDC_ERROR", 401, "The identity provider returned no ID token");
    const expiresIn = tokens.expiresIn();

    // A fresh session id at sign-in: a session id planted before login is worth nothing.
    await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
    req.session.user = user;
    req.session.authenticatedAt = Date.now();
    req.session.tokens = {
      ...(tokens.id_token ? { idToken: tokens.id_token } : {}),
      ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
      ...(expiresIn !== undefined ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
    };
    await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
    metrics.authAttempts.inc({ result: "login_succeeded" });
    metrics.sessionEvents.inc({ event: "created" });
    logger.info("user signed in", { user_id: user.id });
    res.redirect(302, transaction.returnTo);
  }

  /**
   * GET /logout changes nothing: a person gets a page whose form posts back here; a program
   * is told to POST. A cross-site link, image or redirect to /logout thus ends no session.
   */
  async #confirmLogout(req: Request, res: Response): Promise<void> {
    if (!isPageNavigation(req)) {
      res.set("allow", "POST");
      throw new ProxyError("BAD_REQUEST", 405, "Sign out with POST /logout");
    }
    const user = req.session?.user;
    let csrfToken = "";
    if (user) {
      csrfToken = newCsrfToken();
      req.session.signOutCsrf = csrfToken;
      await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
    }
    res.status(200).set(PAGE_HEADERS);
    res.send(
      renderSignOutPage({
        csrfToken,
        userLabel: user ? (user.email ?? user.name ?? user.id) : undefined,
        // A sign-out ends the person's MCP client grants too (decision 037): the page says so.
        ...(this.#deps.config.mcp_auth.mode === "proxy" ? { connectedClientsUrl: CONNECTED_CLIENTS_PATHS.page } : {}),
      }),
    );
  }

  /**
   * POST /logout ends the session (and what signedOut ends with it). A browser (it says so with Sec-Fetch-Site) must post the
   * sign-out page's form: same origin and its CSRF token; so must any request whose body a
   * form on another site could send. Programs post no body (or JSON), and send no Sec-Fetch-*.
   */
  async #logout(req: Request, res: Response): Promise<void> {
    const site = req.headers["sec-fetch-site"];
    // A body a cross-site HTML form can send (a browser without Sec-Fetch-*, or a request
    // that dropped Origin) needs the page's token as well; a program posts none of these.
    const formLike = Boolean(req.is(FORM_BODIES));
    const fromPage =
      (site === undefined || site === "same-origin") && sameCsrfToken(req.session?.signOutCsrf, req.body?.csrf);
    if ((site !== undefined || formLike) && !fromPage) {
      throw new ProxyError("FORBIDDEN", 403, "This sign-out was not sent from the sign-out page; nothing changed", {
        details: { sign_out_url: "/logout" },
      });
    }
    const { upstream, config, metrics, logger } = this.#deps;
    const idToken = req.session?.tokens?.idToken;
    const userId = req.session?.user?.id;
    if (userId) await this.#deps.signedOut?.(userId, req, res);
    if (req.session) {
      const id = req.sessionID;
      await new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
      this.#deps.forgetSession(id);
      metrics.sessionEvents.inc({ event: "destroyed" });
    }
    res.clearCookie(this.#deps.sessionCookieName, this.#deps.cookieOptions(req));
    if (userId) logger.info("user signed out", { user_id: userId });

    let endSession: string | undefined;
    if (upstream.isReady() && upstream.configuration().serverMetadata().end_session_endpoint) {
      const params: Record<string, string> = { client_id: upstream.clientId };
      if (idToken) params.id_token_hint = idToken;
      if (config.oidc.post_logout_redirect_url) params.post_logout_redirect_uri = config.oidc.post_logout_redirect_url;
      endSession = oidc.buildEndSessionUrl(upstream.configuration(), params).href;
    }
    if (isPageNavigation(req)) {
      // 303: the browser follows with a GET, to the provider's end-session page.
      res.redirect(303, endSession ?? "/");
      return;
    }
    res.json({ logged_out: true, ...(endSession ? { end_session_url: endSession } : {}) });
  }
}
