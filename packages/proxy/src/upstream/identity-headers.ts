// What the MCP server learns about the caller. Client-sent copies of the identity headers
// are removed first, and the client's own credentials (Authorization, the proxy's cookies)
// never travel upstream. The header list is built once at startup.
import type { IncomingMessage } from "node:http";
import { isTransactionCookie } from "../auth/login-transaction.ts";
import type { SessionUser } from "../auth/session-user.ts";
import type { Config } from "../config/schema.ts";

/** Header values must be visible ASCII; anything else (e.g. a Japanese name) is percent-encoded. */
function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

export type IdentityHeaderWriter = (req: IncomingMessage, user: SessionUser | undefined, requestId: string) => void;

export function createIdentityHeaderWriter(
  headers: Config["headers"],
  sessionCookieName: string,
): IdentityHeaderWriter {
  const names = {
    userId: headers.user_id.toLowerCase(),
    email: headers.email.toLowerCase(),
    name: headers.name.toLowerCase(),
    groups: headers.groups.toLowerCase(),
    provider: headers.provider.toLowerCase(),
    requestId: headers.request_id.toLowerCase(),
  };
  const stripped = [...Object.values(names), "authorization", "proxy-authorization"];
  const isProxyCookie = (pair: string) => {
    const name = pair.slice(0, pair.indexOf("=")).trim();
    return name === sessionCookieName || isTransactionCookie(name);
  };

  return (req, user, requestId) => {
    for (const name of stripped) delete req.headers[name];
    const cookie = req.headers.cookie;
    if (cookie) {
      // Cookie pairs are separated by ";" (RFC 6265 §4.2.1); only the proxy's own are dropped.
      const kept = cookie.split(";").filter((pair) => !isProxyCookie(pair));
      if (kept.length > 0) req.headers.cookie = kept.join(";").trim();
      else delete req.headers.cookie;
    }
    req.headers[names.requestId] = requestId;
    if (!user) return;
    req.headers[names.userId] = headerValue(user.id);
    if (user.email) req.headers[names.email] = headerValue(user.email);
    if (user.name) req.headers[names.name] = headerValue(user.name);
    if (user.groups.length > 0) req.headers[names.groups] = headerValue(user.groups.join(","));
    req.headers[names.provider] = headerValue(user.provider);
  };
}
