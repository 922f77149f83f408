// WebSocket upgrades: the same checks as any proxied request (Host, Origin, identity, the MCP
// session it names or the HTTP+SSE address it is aimed at; none while an MCP policy or audit
// trail is on), then the socket is relayed to the MCP server. An upgrade is no way around the
// session binding: an MCP server without an upgrade listener answers it as a plain GET (Node
// does), which would otherwise open another user's session stream. A refused upgrade gets
// the proxy's JSON error (or the MCP server's 404 of an unknown session) on the raw socket,
// since no HTTP response object exists for it.
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Authenticator } from "./auth/authenticator.ts";
import { forbidden, toProxyError, writeSocketAnswer, writeSocketError } from "./errors.ts";
import { requestScope } from "./observability/request-scope.ts";
import type { ProxyHeaders } from "./proxy-headers.ts";
import { requestPath } from "./request-path.ts";
import type { Who } from "./upstream/forwarder.ts";
import {
  MCP_SESSION_HEADER,
  type McpSessionBinding,
  SESSION_NOT_FOUND,
  sessionOwner,
} from "./upstream/mcp-session-binding.ts";

export interface UpgradeDeps {
  headers: ProxyHeaders;
  hostCheck: ((req: IncomingMessage) => void) | undefined;
  allowedOrigins: (req: IncomingMessage) => ReadonlySet<string>;
  authenticator: Authenticator;
  publicProtocol: (req: IncomingMessage) => string;
  /** May load the relay first (proxy-server.ts), hence a promise. */
  relay: (req: IncomingMessage, socket: Socket, head: Buffer, who: Who) => Promise<void>;
  /**
   * While MCP policy rules exist or the audit trail is on: messages over a WebSocket could be
   * neither judged nor recorded, as every POST is.
   */
  mcpGuardEnabled: () => boolean;
  /** The MCP session binding, as for plain requests (absent where app.ts has none). */
  mcpSessions: McpSessionBinding | undefined;
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
        // Fail closed: the MCP policy and audit trail read HTTP bodies; messages over a WebSocket would pass unseen.
        if (deps.mcpGuardEnabled()) {
          throw forbidden("WebSocket upgrades are refused while an MCP policy or audit trail is configured", {
            reason: "mcp_policy",
          });
        }
        if (deps.mcpSessions && auth.user) {
          const header = req.headers[MCP_SESSION_HEADER];
          const admission = await deps.mcpSessions.requestAdmission(
            req.url ?? "/",
            typeof header === "string" ? header : undefined,
            sessionOwner(auth.user, auth.clientId),
          );
          if (!admission.admitted) {
            writeSocketAnswer(socket, 404, SESSION_NOT_FOUND);
            return;
          }
        }
        await deps.relay(req, socket, head, { user: auth.user, requestId, forwardedProto: deps.publicProtocol(req) });
      } catch (error) {
        writeSocketError(socket, toProxyError(error), requestId);
      }
    });
  };
}
