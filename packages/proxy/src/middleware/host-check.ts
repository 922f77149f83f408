// DNS-rebinding defence for requests without an Origin: the Host must be the public URL's
// (or one of server.allowed_hosts), else 421. MCP servers guard themselves this way, but
// behind the proxy they only ever see the target's Host, so the proxy has to. Without a
// public URL (the proxy then derives its URL from the request) and without allowed hosts,
// any Host is accepted. Ports are not compared: a rebinding attack needs a foreign name.
import type { IncomingMessage } from "node:http";
import type { Config } from "../config/schema.ts";
import { ProxyError } from "../errors.ts";

/** The host name of a Host header value or a configured entry: lower case, no port, no final dot. */
function hostName(host: string): string | undefined {
  // Only a name and an optional port: "a.example@b.example" or "a.example/x" are not hosts.
  if (!/^[^/?#@\s\\]+$/.test(host)) return undefined;
  return URL.parse(`http://${host}`)?.hostname.replace(/\.$/, "");
}

/** The check, or undefined when every Host is accepted. */
export function createHostCheck(server: Config["server"]): ((req: IncomingMessage) => void) | undefined {
  const entries = [...(server.public_url ? [new URL(server.public_url).host] : []), ...server.allowed_hosts];
  if (entries.length === 0) return undefined;
  const allowed = new Set(entries.map(hostName).filter((name) => name !== undefined));
  // The Host values clients send most (the public URL's, as written): accepted without parsing.
  const exact = new Set([...allowed, ...entries.map((entry) => entry.toLowerCase())]);
  return (req) => {
    const host = req.headers.host;
    if (host !== undefined && exact.has(host)) return;
    const name = host === undefined ? undefined : hostName(host);
    if (name === undefined || !allowed.has(name)) {
      throw new ProxyError("BAD_REQUEST", 421, "This proxy does not serve that host", {
        details: { host: (host ?? "").slice(0, 200) },
      });
    }
  };
}

/** Whether an allowed_hosts entry is a host name (optionally with a port), for config validation. */
export function isHostEntry(entry: string): boolean {
  return hostName(entry) !== undefined;
}
