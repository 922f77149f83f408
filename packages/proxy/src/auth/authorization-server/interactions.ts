// The steps between an MCP client's /oauth/authorize and its code: the person signs in
// through the proxy's browser login (at the upstream provider), the access rules are
// checked, and the person approves the client (remembered per user, client, exact redirect
// URI and scopes: an approval for one redirect URI never sends a code to another silently).
import express, { type Request, type Response, type Router } from "express";
import type Provider from "oidc-provider";
import { type InteractionResults, errors as oidcErrors } from "oidc-provider";
import { ProxyError } from "../../errors.ts";
import { PAGE_HEADERS } from "../../html-page.ts";
import type { Logger } from "../../observability/logger.ts";
import type { AccessPolicy } from "../access-policy.ts";
import type { BrowserLogin } from "../browser-login.ts";
import { newCsrfToken, sameCsrfToken } from "../csrf.ts";
import type { SessionUser } from "../session-user.ts";
import type { AccountDirectory } from "./accounts.ts";
import { redirectTargetOf, renderConsentPage } from "./consent-page.ts";
import type { UserGrants } from "./user-grants.ts";

declare module "express-session" {
  interface SessionData {
    /** The consent page on screen and its CSRF token. */
    oauthConsent?: { uid: string; csrf: string };
  }
}

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountDirectory;
  /** Where each grant made here is noted under its person (connected-clients page, sign-out). */
  grants: UserGrants;
  login: BrowserLogin;
  policy: () => AccessPolicy;
  logger: Logger;
  resource: string;
  /** Scopes of the resource clients may ask for. */
  scopes: string[];
  /** Always granted: the required scopes (a token without them would be refused anyway). */
  baselineScopes: string[];
  preapprovedClients: ReadonlySet<string>;
  oidcScopes: string[];
}

type Details = Awaited<ReturnType<Provider["interactionDetails"]>>;

/** What the client asked for, limited to what this server grants. */
interface AskedGrant {
  clientId: string;
  /** Exactly as the client sent it (oidc-provider checked it is one of the client's). */
  redirectUri: string;
  resource: string;
  oidcScopes: string[];
  resourceScopes: string[];
}

/** oidc-provider errors met on these pages (an expired interaction) become the proxy's JSON errors. */
function fromProviderError(error: unknown): unknown {
  if (error instanceof oidcErrors.OIDCProviderError) {
    return new ProxyError("OIDC_ERROR", error.statusCode >= 500 ? 500 : 400, error.error_description ?? error.message, {
      details: { error: error.error },
      cause: error,
    });
  }
  return error;
}

export class InteractionRoutes {
  readonly #deps: InteractionDeps;

  constructor(deps: InteractionDeps) {
    this.#deps = deps;
  }

  router(): Router {
    const router = express.Router();
    const form = express.urlencoded({ extended: false, limit: "4kb" });
    const guarded =
      (handler: (req: Request, res: Response) => Promise<void>) =>
      async (req: Request, res: Response): Promise<void> => {
        try {
          await handler(req, res);
        } catch (error) {
          throw fromProviderError(error);
        }
      };
    router.get(
      "/interaction/:uid",
      guarded((req, res) => this.#show(req, res)),
    );
    router.post(
      "/interaction/:uid/confirm",
      form,
      guarded((req, res) => this.#decide(req, res, "allow")),
    );
    router.post(
      "/interaction/:uid/abort",
      form,
      guarded((req, res) => this.#decide(req, res, "deny")),
    );
    return router;
  }

  /** Details of the interaction the browser's cookie names; it must be the one in the URL. */
  async #details(req: Request, res: Response): Promise<Details> {
    const details = await this.#deps.provider.interactionDetails(req, res);
    if (details.uid !== req.params.uid) {
      throw new ProxyError(
        "INVALID_SESSION",
        400,
        "This sign-in belongs to another request; start again from your application",
      );
    }
    return details;
  }

  #requested(details: Details): AskedGrant {
    const asked = String(details.params.scope ?? "")
      .split(" ")
      .filter(Boolean);
    const resourceParam = details.params.resource;
    const resource = typeof resourceParam === "string" ? resourceParam : this.#deps.resource;
    return {
      clientId: String(details.params.client_id),
      redirectUri: String(details.params.redirect_uri ?? ""),
      resource,
      oidcScopes: asked.filter((scope) => this.#deps.oidcScopes.includes(scope)),
      resourceScopes: [
        ...new Set([...this.#deps.baselineScopes, ...asked.filter((scope) => this.#deps.scopes.includes(scope))]),
      ],
    };
  }

  async #show(req: Request, res: Response): Promise<void> {
    const details = await this.#details(req, res);
    const user = req.session.user;
    // Not signed in at the proxy (or the sign-in expired): the provider first, then back here.
    if (!user) return this.#deps.login.start(req, res, `/interaction/${details.uid}`);
    const decision = this.#deps.policy().decide(user);
    if (!decision.allowed) {
      this.#deps.logger.info("MCP client authorization refused by the access rules", {
        user_id: user.id,
        reason: decision.reason,
      });
      return this.#finish(req, res, {
        error: "access_denied",
        error_description: "You are not allowed to use this MCP server",
      });
    }
    await this.#deps.accounts.save({ user, ...(req.session.tokens ? { upstream: req.session.tokens } : {}) });
    const asked = this.#requested(details);
    const allScopes = [...asked.oidcScopes, ...asked.resourceScopes];
    if (
      this.#deps.preapprovedClients.has(asked.clientId) ||
      (await this.#deps.accounts.hasConsented(user.id, asked.clientId, asked.redirectUri, allScopes))
    ) {
      return this.#grant(req, res, user, asked);
    }
    const client = await this.#deps.provider.Client.find(asked.clientId);
    if (!client) throw new ProxyError("OIDC_ERROR", 400, "The client is not registered (any more)");
    const csrf = newCsrfToken();
    req.session.oauthConsent = { uid: details.uid, csrf };
    await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
    res.status(200).set(PAGE_HEADERS);
    res.send(
      renderConsentPage({
        uid: details.uid,
        csrfToken: csrf,
        clientName: client.clientName ?? "An unnamed application",
        clientId: asked.clientId,
        redirectTarget: redirectTargetOf(asked.redirectUri),
        redirectUri: asked.redirectUri,
        scopes: allScopes,
        userLabel: user.email ?? user.name ?? user.id,
        resource: this.#deps.resource,
      }),
    );
  }

  async #decide(req: Request, res: Response, decision: "allow" | "deny"): Promise<void> {
    const pending = req.session.oauthConsent;
    if (!pending || pending.uid !== req.params.uid || !sameCsrfToken(pending.csrf, req.body?.csrf)) {
      throw new ProxyError("FORBIDDEN", 403, "The approval form is stale or was not sent from this page; start again");
    }
    const user = req.session.user;
    if (!user) throw new ProxyError("INVALID_SESSION", 401, "The sign-in ended; start again from your application");
    const details = await this.#details(req, res);
    delete req.session.oauthConsent;
    const asked = this.#requested(details);
    if (decision === "deny") {
      this.#deps.logger.info("user denied an MCP client", { user_id: user.id, client_id: asked.clientId });
      return this.#finish(req, res, { error: "access_denied", error_description: "The user denied the request" });
    }
    await this.#deps.accounts.rememberConsent(user.id, asked.clientId, asked.redirectUri, [
      ...asked.oidcScopes,
      ...asked.resourceScopes,
    ]);
    this.#deps.logger.info("user approved an MCP client", { user_id: user.id, client_id: asked.clientId });
    return this.#grant(req, res, user, asked);
  }

  async #grant(req: Request, res: Response, user: SessionUser, asked: AskedGrant): Promise<void> {
    const { provider } = this.#deps;
    const grant = new provider.Grant({ accountId: user.id, clientId: asked.clientId });
    // The resource's scopes are among the provider's known scopes too (clients register
    // them), so they are granted on both sides or the consent prompt would never be satisfied.
    grant.addOIDCScope([...asked.oidcScopes, ...asked.resourceScopes].join(" "));
    grant.addResourceScope(asked.resource, asked.resourceScopes.join(" "));
    const grantId = await grant.save();
    const client = await provider.Client.find(asked.clientId);
    await this.#deps.grants.add(user.id, {
      grantId,
      clientId: asked.clientId,
      clientName: client?.clientName,
      redirectUri: asked.redirectUri,
    });
    return this.#finish(req, res, { login: { accountId: user.id }, consent: { grantId } });
  }

  #finish(req: Request, res: Response, result: InteractionResults): Promise<void> {
    return this.#deps.provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
}
