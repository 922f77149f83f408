// WebSocket (and any other protocol) upgrades, relayed by http-proxy-middleware once the
// request passed authentication like any other. The headers are the same function's as for
// plain requests (request-headers.ts); http-proxy's own X-Forwarded-* (xfwd) stays off, as
// it would keep the client's X-Forwarded-Host and extend its other X-Forwarded-* headers.
// Only a protocol switch (101) is relayed: an MCP server without an upgrade listener answers
// the request as a plain GET (Node does), and that answer (an MCP session's event stream, an
// HTTP+SSE endpoint event) would reach the client past everything the proxy does to plain
// answers (stream limits, endpoint-event binding, list filtering). It gets a 502 instead, or
// the server's own refusal status (4xx, 5xx) with the proxy's JSON body.
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { createProxyMiddleware, proxyEventsPlugin } from "http-proxy-middleware";
import { ProxyError, writeSocketError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Endpoint } from "./endpoints.ts";
import type { UpgradeSlot, Who } from "./forwarder.ts";
import { type UpstreamHeaderParts, upstreamHeaders } from "./request-headers.ts";

/** A flat header list as the object http-proxy copies; repeated names become arrays (sent as separate lines). */
function headerObject(list: string[]): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = (list[i] as string).toLowerCase();
    const value = list[i + 1] as string;
    const prior = headers[name];
    headers[name] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
  }
  return headers;
}

/** The refusal of an upgrade the MCP server answered without switching protocols. */
function notSwitched(status: number): ProxyError {
  return new ProxyError("PROXY_ERROR", status >= 400 ? status : 502, "The MCP server did not switch protocols", {
    details: { upstream_status: status },
  });
}

/** What the relay keeps of each upgrade it relays. */
interface Relayed {
  requestId: string;
  endpoint: Endpoint;
  slot: UpgradeSlot;
  /** The client's headers, which the upstream ones replace until the upstream request is made. */
  clientHeaders: IncomingHttpHeaders;
}

/**
 * Relays each upgrade to the endpoint upgrades.ts chose for it (its MCP session's, or the
 * least loaded), `target` being only http-proxy's default. The slot it holds is told when the
 * MCP server switched protocols (and over which socket); upgrades.ts releases it when the
 * connection is over.
 */
export function createUpgradeRelay(target: URL, logger: Logger, parts: UpstreamHeaderParts) {
  const relayed = new WeakMap<IncomingMessage, Relayed>();
  const relay = createProxyMiddleware({
    target: target.href,
    router: (req) => (relayed.get(req)?.endpoint.url ?? target).href,
    changeOrigin: true,
    xfwd: false,
    ejectPlugins: true,
    plugins: [proxyEventsPlugin],
    on: {
      error(err, _req, socket) {
        logger.warn("upgrade relay failed", { error: (err as NodeJS.ErrnoException).code ?? err.message });
        (socket as Socket).destroy();
      },
      proxyReqWs(proxyReq, req, socket) {
        const upgrade = relayed.get(req);
        // The upstream request has its headers now: the request is again as the client sent
        // it, credential included, which the periodic re-check asks about (stream-recheck.ts).
        if (upgrade) req.headers = upgrade.clientHeaders;
        // An address found for a DNS name is still that name's server, as for plain requests (forwarder.ts).
        if (upgrade?.endpoint.host) proxyReq.setHeader("host", upgrade.endpoint.host);
        proxyReq.once("upgrade", (_answer, upstream: Socket) => upgrade?.slot.switched(upstream));
        // Ahead of http-proxy's own listener, which pipes the answer on unless the socket is ended.
        proxyReq.prependOnceListener("response", (answer) => {
          answer.resume();
          writeSocketError(socket, notSwitched(answer.statusCode ?? 502), upgrade?.requestId ?? "");
          // Nothing of it is read: the MCP server's stream (if it is one) ends once the refusal is out.
          socket.once("finish", () => proxyReq.destroy());
        });
      },
    },
  });
  return (
    req: IncomingMessage,
    socket: Socket,
    head: Buffer,
    who: Who,
    to: Omit<Relayed, "requestId" | "clientHeaders">,
  ) => {
    const clientHeaders = req.headers;
    const upgrade = clientHeaders.upgrade as string;
    // Upgrade and Connection are hop-by-hop, yet this hop is the upgrade: they go on again.
    req.headers = { ...headerObject(upstreamHeaders(req, who, parts)), connection: "Upgrade", upgrade };
    relayed.set(req, { requestId: who.requestId, clientHeaders, ...to });
    return relay.upgrade(req, socket, head);
  };
}
