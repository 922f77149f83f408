// The proxy's public URL, the base of redirect URIs and of every URL it advertises. It
// comes from config; without one it is the listen address, or, when the proxy in front is
// trusted (server.trust_proxy), what that proxy forwarded. Never from an untrusted Host.
import type { Request } from "express";
import type { Config } from "./config/schema.ts";

export function listenUrl(server: Config["server"]): string {
  const host = server.host === "0.0.0.0" || server.host === "::" ? "localhost" : server.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
}

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

/** A return path is accepted only when it stays on this origin: no open redirects. */
export function safeReturnPath(candidate: unknown, base: URL): string {
  if (typeof candidate !== "string" || !candidate.startsWith("/") || candidate.startsWith("//")) return "/";
  if (candidate.includes("\\") || /\p{Cc}/u.test(candidate)) return "/";
  try {
    const resolved = new URL(candidate, base);
    return resolved.origin === base.origin ? `${resolved.pathname}${resolved.search}` : "/";
  } catch {
    return "/";
  }
}
