// The routes of the connected-clients page: GET shows the signed-in person's MCP clients,
// POST revokes one. The revoke is a state change guarded as the consent form is: behind the
// Origin guard (a foreign Origin is refused before this), a browser's Sec-Fetch-Site must
// say same-origin, and the form's CSRF token must be the session's. Only the person's own
// grants are looked at, so another user's client id is as unknown as a made-up one.
import express, { type Request, type RequestHandler, type Response, type Router } from "express";
import { isPageNavigation } from "../../error-page.ts";
import { ProxyError, unauthorized } from "../../errors.ts";
import { PAGE_HEADERS } from "../../html-page.ts";
import type { Logger } from "../../observability/logger.ts";
import { type BrowserLogin, isBrowserNavigation } from "../browser-login.ts";
import { newCsrfToken, sameCsrfToken } from "../csrf.ts";
import { CONNECTED_CLIENTS_PATHS, renderConnectedClientsPage } from "./connected-clients-page.ts";
import type { ConnectedClient } from "./user-grants.ts";

declare module "express-session" {
  interface SessionData {
    /** CSRF token of the connected-clients page (one per session: several tabs work). */
    connectedClientsCsrf?: string;
    /** The client revoked just before, named once on the page that follows. */
    connectedClientsRevoked?: string;
  }
}

/** Longest client id taken: registration's string limit (a metadata document's URL is one). */
const MAX_CLIENT_ID = 2048;

export interface ConnectedClientsDeps {
  clients: (accountId: string) => Promise<ConnectedClient[]>;
  /** Ends the person's grants of the client: its name, or undefined when they have none of it. */
  revoke: (accountId: string, clientId: string) => Promise<{ clientName: string | undefined } | undefined>;
  login: BrowserLogin;
  logger: Logger;
}

const saved = (req: Request) =>
  new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));

/** The revoke form: a few hundred bytes; a larger body is refused unread beyond the limit. */
const parseForm: RequestHandler = (req, res, next) =>
  express.urlencoded({ extended: false, limit: "4kb" })(req, res, (err?: unknown) => {
    if ((err as { type?: string } | undefined)?.type !== "entity.too.large") return next(err);
    next(new ProxyError("BAD_REQUEST", 413, "The form is larger than a revoke form; nothing changed", { cause: err }));
  });

export function connectedClientsRouter(deps: ConnectedClientsDeps): Router {
  const router = express.Router();
  router.get(CONNECTED_CLIENTS_PATHS.page, (req, res) => showPage(deps, req, res));
  router.post(CONNECTED_CLIENTS_PATHS.revoke, parseForm, (req, res) => revoke(deps, req, res));
  return router;
}

async function showPage(deps: ConnectedClientsDeps, req: Request, res: Response): Promise<void> {
  const user = req.session?.user;
  if (!user) {
    if (isBrowserNavigation(req)) return deps.login.start(req, res, CONNECTED_CLIENTS_PATHS.page);
    throw unauthorized("Sign in to see your connected MCP clients");
  }
  const revoked = req.session.connectedClientsRevoked;
  let csrfToken = req.session.connectedClientsCsrf;
  if (!csrfToken || revoked !== undefined) {
    csrfToken ??= newCsrfToken();
    req.session.connectedClientsCsrf = csrfToken;
    delete req.session.connectedClientsRevoked;
    await saved(req);
  }
  const clients = await deps.clients(user.id);
  res.status(200).set(PAGE_HEADERS);
  res.send(
    renderConnectedClientsPage({
      csrfToken,
      userLabel: user.email ?? user.name ?? user.id,
      clients,
      revoked,
    }),
  );
}

const refused = (message: string) =>
  new ProxyError("FORBIDDEN", 403, message, { details: { connected_clients_url: CONNECTED_CLIENTS_PATHS.page } });

async function revoke(deps: ConnectedClientsDeps, req: Request, res: Response): Promise<void> {
  const user = req.session?.user;
  if (!user) throw unauthorized("The sign-in ended; sign in and open the connected clients page again");
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin")
    throw refused("This revoke was not sent from this site; nothing changed");
  if (!sameCsrfToken(req.session.connectedClientsCsrf, req.body?.csrf)) {
    throw refused("The form is stale or was not sent from the connected clients page; nothing changed");
  }
  const clientId: unknown = req.body?.client_id;
  if (typeof clientId !== "string" || clientId.length === 0 || clientId.length > MAX_CLIENT_ID) {
    throw new ProxyError("BAD_REQUEST", 400, "The form names no client id (or one too long); nothing changed");
  }
  const ended = await deps.revoke(user.id, clientId);
  if (!ended) {
    throw new ProxyError("BAD_REQUEST", 404, "You have no connected client with this id; nothing changed");
  }
  deps.logger.info("user revoked an MCP client", { user_id: user.id, client_id: clientId });
  if (isPageNavigation(req)) {
    req.session.connectedClientsRevoked = ended.clientName ?? "An unnamed application";
    await saved(req);
    // 303: the browser follows with a GET, to the page without the client.
    res.redirect(303, CONNECTED_CLIENTS_PATHS.page);
    return;
  }
  res.set("cache-control", "no-store").json({ revoked: clientId });
}
