// Browsers' cross-origin calls. A request carrying an Origin header must come from the
// proxy's own public origin or a configured one, else 403 (DNS rebinding defence). Allowed
// origins get CORS with credentials and the MCP headers exposed; preflights end here. The
// proxy's own pages (sign-in, sign-out, consent, connected clients) get no CORS at all. Which
// headers may be sent and read is proxy-headers.ts' to say.
import cors from "cors";
import type { Request, RequestHandler } from "express";
import { forbidden } from "../errors.ts";
import type { ProxyHeaders } from "../proxy-headers.ts";

export function originGuard(
  allowedOrigins: (req: Request) => ReadonlySet<string>,
  headers: ProxyHeaders,
  /** The proxy's own HTML pages: never readable by another origin, so no CORS answer (preflight or not). */
  isPage: (path: string) => boolean,
): RequestHandler[] {
  const isAllowed = (req: Request, origin: string) => allowedOrigins(req).has(origin);
  // `Origin: null` (opaque origins: sandboxed frames, data: documents, cross-origin redirect
  // chains, a page under Referrer-Policy no-referrer) is refused like any foreign origin, form
  // posts included. The proxy's pages send Referrer-Policy same-origin, so a browser posting
  // their forms sends the real Origin. A null Origin with Sec-Fetch-Site: same-origin is not
  // taken as ours either: under DNS rebinding the attacker's host is "same-origin" too, and
  // the forms' CSRF tokens are a second lock, not the only one (docs/decisions/008).
  const guard: RequestHandler = (req, _res, next) => {
    const origin = req.headers.origin;
    if (origin !== undefined && !isAllowed(req, origin)) {
      throw forbidden("Origin not allowed", { origin: origin.slice(0, 200) });
    }
    next();
  };
  const corsHandler = cors((req, callback) => {
    const origin = (req as Request).headers.origin;
    callback(null, {
      origin: origin !== undefined && isAllowed(req as Request, origin) ? origin : false,
      credentials: true,
      exposedHeaders: headers.exposed,
      allowedHeaders: headers.allowedRequestHeaders((req as Request).headers["access-control-request-headers"]),
      methods: ["GET", "POST", "DELETE", "OPTIONS"],
      maxAge: 600,
    });
  });
  // Requests without an Origin (MCP clients, curl, same-origin navigations) skip CORS work.
  const corsWhenOrigin: RequestHandler = (req, res, next) => {
    if (req.headers.origin === undefined || isPage(req.path)) return next();
    // The allowed headers answered depend on the ones asked for: caches must keep them apart.
    if (req.method === "OPTIONS") res.vary("Access-Control-Request-Headers");
    corsHandler(req, res, next);
  };
  return [guard, corsWhenOrigin];
}
