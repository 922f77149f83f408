// WebSocket (and any other protocol) upgrades, relayed by http-proxy-middleware once the
// request passed authentication like any other.
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { createProxyMiddleware, proxyEventsPlugin } from "http-proxy-middleware";
import type { Logger } from "../observability/logger.ts";

export function createUpgradeRelay(target: URL, logger: Logger) {
  const relay = createProxyMiddleware({
    target: target.href,
    changeOrigin: true,
    xfwd: true,
    ejectPlugins: true,
    plugins: [proxyEventsPlugin],
    on: {
      error(err, _req, socket) {
        logger.warn("upgrade relay failed", { error: (err as NodeJS.ErrnoException).code ?? err.message });
        (socket as Socket).destroy();
      },
    },
  });
  return (req: IncomingMessage, socket: Socket, head: Buffer) => relay.upgrade(req, socket, head);
}
