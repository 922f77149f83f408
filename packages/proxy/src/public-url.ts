// The proxy's public URL, the base of redirect URIs and of every URL it advertises. It
// comes from config; without one it is the listen address, or, when the proxy in front is
// trusted (server.trust_proxy), what that proxy forwarded. Never from an untrusted Host.
import type { Request } from "express";
import { listenUrl } from "./config/resolve.ts";
import type { Config } from "./config/schema.ts";

export function createPublicUrlResolver(server: Config["server"]): (req: Request) => URL {
  if (server.public_url) {
    const fixed = new URL(server.public_url);
    return () => fixed;
  }
  const fallback = new URL(listenUrl(server));
  if (server.trust_proxy === false) return () => fallback;
  // Express derives protocol and host from X-Forwarded-* only for trusted hops.
  return (req) => (req.host ? new URL(`${req.protocol}://${req.host}`) : fallback);
}

/**
 * The path to send a browser to after sign-in, never off this origin (no open redirect).
 * Order matters: the candidate is normalized first (WHATWG URL against the public origin,
 * as the browser will), the result is checked, and exactly the checked result is returned.
 * Checking the raw text and returning the normalized one let `/.//evil.example` through as
 * `//evil.example` (protocol-relative). A normalized path that starts with `//` stays same
 * origin only while it is resolved against us, so it is refused as well.
 */
export function safeReturnPath(candidate: unknown, base: URL): string {
  if (typeof candidate !== "string" || candidate === "") return "/";
  const resolved = URL.parse(candidate, base.href);
  if (!resolved || resolved.origin !== base.origin || resolved.username || resolved.password) return "/";
  const path = `${resolved.pathname}${resolved.search}`;
  if (!path.startsWith("/") || path.startsWith("//") || /[\\\p{Cc}]/u.test(path)) return "/";
  // Where the browser goes with this answer must be what was checked.
  const followed = URL.parse(path, base.href);
  return followed?.origin === base.origin && followed.pathname === resolved.pathname ? path : "/";
}
