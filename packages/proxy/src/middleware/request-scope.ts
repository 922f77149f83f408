// Each request's id: an incoming X-Request-ID is kept for tracing across hops when the hop
// that sent it is a trusted proxy (server.trust_proxy: the load balancer or ingress that sets
// such ids) and it is sane; anything else is replaced, so a client cannot choose the id its
// lines in the logs and the audit trail carry (nor give them another request's). The id is
// echoed to the client and carried by the request scope.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import proxyAddr from "proxy-addr";
import type { Config } from "../config/schema.ts";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Whether the connection's peer is a proxy server.trust_proxy trusts (as Express reads it). */
export function peerTrust(trust: Config["server"]["trust_proxy"]): (req: IncomingMessage) => boolean {
  if (typeof trust === "boolean") return () => trust;
  if (typeof trust === "number") return () => trust > 0;
  const trusted = proxyAddr.compile(trust);
  // A connection's peer does not change: judged once per connection, not per request.
  const judged = new WeakMap<object, boolean>();
  return (req) => {
    let answer = judged.get(req.socket);
    if (answer === undefined) {
      answer = trusted(req.socket.remoteAddress ?? "", 0);
      judged.set(req.socket, answer);
    }
    return answer;
  };
}

export function requestIdOf(req: IncomingMessage, headerLowerCase: string, trustsPeer: boolean): string {
  const incoming = trustsPeer ? req.headers[headerLowerCase] : undefined;
  return typeof incoming === "string" && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
