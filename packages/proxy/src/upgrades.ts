// WebSocket upgrades: the same checks as any proxied request (Host, Origin, identity; none
// while an MCP policy is on), then the socket is relayed to the MCP server. A refused upgrade gets the proxy's JSON error on
// the raw socket, since no HTTP response object exists for it.
import http, { type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Authenticator } from "./auth/authenticator.ts";
import { errorBody, errorHeaders, forbidden, type ProxyError, toProxyError } from "./errors.ts";
import { requestScope } from "./observability/request-scope.ts";
import type { ProxyHeaders } from "./proxy-headers.ts";
import { requestPath } from "./request-path.ts";
import type { Who } from "./upstream/forwarder.ts";

export interface UpgradeDeps {
  headers: ProxyHeaders;
  hostCheck: ((req: IncomingMessage) => void) | undefined;
  allowedOrigins: (req: IncomingMessage) => ReadonlySet<string>;
  authenticator: Authenticator;
  publicProtocol: (req: IncomingMessage) => string;
  /** May load the relay first (proxy-server.ts), hence a promise. */
  relay: (req: IncomingMessage, socket: Socket, head: Buffer, who: Who) => Promise<void>;
  /** While MCP policy rules exist: their messages over a WebSocket could not be judged. */
  mcpPolicyActive: () => boolean;
}

function rejectUpgrade(socket: Socket, error: ProxyError, requestId: string): void {
  const body = JSON.stringify(errorBody(error, requestId));
  const extra = Object.entries(errorHeaders(error)).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(
    `HTTP/1.1 ${error.status} ${http.STATUS_CODES[error.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra.join("")}Connection: close\r\n\r\n${body}`,
  );
}

/** The server's "upgrade" listener. */
export function createUpgradeHandler(deps: UpgradeDeps): (req: IncomingMessage, socket: Socket, head: Buffer) => void {
  return (req, socket, head) => {
    const requestId = deps.headers.requestIdOf(req);
    socket.on("error", () => socket.destroy());
    requestScope.run({ requestId }, async () => {
      try {
        deps.hostCheck?.(req);
        const origin = req.headers.origin;
        if (origin !== undefined && !deps.allowedOrigins(req).has(origin)) throw forbidden("Origin not allowed");
        const auth = await deps.authenticator.authenticate(req, requestPath(req.url ?? "/"));
        if (auth.kind !== "allowed") throw auth.error;
        // Fail closed: the MCP policy judges HTTP bodies; messages over a WebSocket would pass unjudged.
        if (deps.mcpPolicyActive()) {
          throw forbidden("WebSocket upgrades are refused while an MCP policy is configured", {
            reason: "mcp_policy",
          });
        }
        await deps.relay(req, socket, head, { user: auth.user, requestId, forwardedProto: deps.publicProtocol(req) });
      } catch (error) {
        rejectUpgrade(socket, toProxyError(error), requestId);
      }
    });
  };
}
