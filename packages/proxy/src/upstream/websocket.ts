// WebSocket (and any other protocol) upgrades, relayed by http-proxy-middleware once the
// request passed authentication like any other. The headers are the same function's as for
// plain requests (request-headers.ts); http-proxy's own X-Forwarded-* (xfwd) stays off, as
// it would keep the client's X-Forwarded-Host and extend its other X-Forwarded-* headers.
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { createProxyMiddleware, proxyEventsPlugin } from "http-proxy-middleware";
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
    },
  });
  return (req: IncomingMessage, socket: Socket, head: Buffer, who: Who) => {
    const upgrade = req.headers.upgrade as string;
    // Upgrade and Connection are hop-by-hop, yet this hop is the upgrade: they go on again.
    req.headers = { ...headerObject(upstreamHeaders(req, who, parts)), connection: "Upgrade", upgrade };
    return relay.upgrade(req, socket, head);
  };
}
