// The headers the MCP server receives, built by one function for plain requests and for
// upgrades alike. It works on the raw header list (req.rawHeaders): Node's req.headers joins
// repeated headers into one ("tools/list, tools/list"), which would change what the client
// sent. Dropped: hop-by-hop headers and those the Connection header names, the client's
// credentials, identity and forwarding headers and their "_" look-alikes, the proxy's own
// cookies. Added last: forwarding information, the request id, with tracing on the trace
// context of the upstream call (in place of the client's), and the caller's identity.
import type { IncomingMessage } from "node:http";
import type { ProxyCookies } from "../proxy-cookies.ts";
import { connectionNominated, foldHeaderName, type ProxyHeaders } from "../proxy-headers.ts";
import type { Who } from "./forwarder.ts";
import type { IdentityHeaders } from "./identity-headers.ts";

export interface UpstreamHeaderParts {
  headers: ProxyHeaders;
  cookies: ProxyCookies;
  identity: IdentityHeaders;
  /** The public URL's host, sent as X-Forwarded-Host; without a public URL, the (checked) Host. */
  publicHost: string | undefined;
  /** With tracing on: the trace-context header names, whose client values are replaced. */
  traceHeaders?: ReadonlySet<string>;
}

/** Folded names the request's Connection headers nominate (RFC 9110 §7.6.1). */
function connectionOptions(raw: string[]): Set<string> | undefined {
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2)
    if ((raw[i] as string).toLowerCase() === "connection") values.push(raw[i + 1] as string);
  return values.length > 0 ? connectionNominated(values) : undefined;
}

/**
 * The headers for the upstream request, as a flat [name, value, name, value, …] list;
 * traceContext (tracing on) replaces the client's traceparent and tracestate.
 */
export function upstreamHeaders(
  req: IncomingMessage,
  who: Who,
  parts: UpstreamHeaderParts,
  traceContext?: readonly string[],
): string[] {
  const raw = req.rawHeaders;
  const traced = traceContext ? parts.traceHeaders : undefined;
  const options = connectionOptions(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (parts.headers.isStripped(name) || options?.has(foldHeaderName(name))) continue;
    if (traced?.has(name.toLowerCase())) continue;
    if (name.length === 6 && name.toLowerCase() === "cookie") {
      const kept = parts.cookies.withoutProxyCookies(value);
      if (kept !== undefined) out.push(name, kept);
      continue;
    }
    out.push(name, value);
  }
  const remote = req.socket.remoteAddress ?? "";
  // The chain before the peer only from a proxy server.trust_proxy trusts: a client's own is made up.
  const prior = parts.headers.trustsPeer(req) ? req.headers["x-forwarded-for"] : undefined;
  out.push("x-forwarded-for", prior ? `${prior}, ${remote}` : remote);
  out.push("x-forwarded-proto", who.forwardedProto);
  const host = parts.publicHost ?? req.headers.host;
  if (host) out.push("x-forwarded-host", host);
  out.push(parts.headers.requestIdKey, who.requestId);
  if (traceContext) out.push(...traceContext);
  if (who.user) {
    const identity = parts.identity.valuesFor(who.user);
    for (let i = 0; i < identity.length; i++) out.push(...(identity[i] as [string, string]));
  }
  return out;
}
