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
import type { Who } from "./forwarder.ts";
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

/**
 * `choose` names the endpoint of each upgrade among several (the least loaded healthy one):
 * a WebSocket is no MCP session the proxy could pin, so it is balanced like any new request.
 */
export function createUpgradeRelay(
  target: URL,
  logger: Logger,
  parts: UpstreamHeaderParts,
  choose?: () => URL | undefined,
) {
  /** The request id of each upgrade being relayed, for the refusal's body. */
  const requestIds = new WeakMap<IncomingMessage, string>();
  const relay = createProxyMiddleware({
    target: target.href,
    ...(choose ? { router: () => (choose() ?? target).href } : {}),
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
        // Ahead of http-proxy's own listener, which pipes the answer on unless the socket is ended.
        proxyReq.prependOnceListener("response", (answer) => {
          answer.resume();
          writeSocketError(socket, notSwitched(answer.statusCode ?? 502), requestIds.get(req) ?? "");
          // Nothing of it is read: the MCP server's stream (if it is one) ends once the refusal is out.
          socket.once("finish", () => proxyReq.destroy());
        });
      },
    },
  });
  return (req: IncomingMessage, socket: Socket, head: Buffer, who: Who) => {
    const upgrade = req.headers.upgrade as string;
    // Upgrade and Connection are hop-by-hop, yet this hop is the upgrade: they go on again.
    req.headers = { ...headerObject(upstreamHeaders(req, who, parts)), connection: "Upgrade", upgrade };
    requestIds.set(req, who.requestId);
    return relay.upgrade(req, socket, head);
  };
}
