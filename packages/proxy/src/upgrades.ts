// WebSocket upgrades: the same checks as any proxied request (Host, Origin, identity, the MCP
// session it names or the HTTP+SSE address it is aimed at; none while an MCP policy or audit
// trail is on), then the socket is relayed to the MCP server. An upgrade is no way around the
// session binding: an MCP server without an upgrade listener answers it as a plain GET (Node
// does), which would otherwise open another user's session stream. A refused upgrade gets
// the proxy's JSON error (or the MCP server's 404 of an unknown session) on the raw socket,
// since no HTTP response object exists for it. An upgrade goes where a plain request would
// (its MCP session's endpoint, else the least loaded: endpoints.ts) and, relayed, holds one of
// its user's stream slots (forwarder.ts) until the connection is over, on whichever side.
// Once open, its credential is checked again with the event streams' (stream-recheck.ts),
// and it is closed when that is refused and at shutdown (decision 043).
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Authenticator } from "./auth/authenticator.ts";
import { forbidden, toProxyError, writeSocketAnswer, writeSocketError } from "./errors.ts";
import type { McpGuard } from "./mcp/mcp-guard.ts";
import { requestScope } from "./observability/request-scope.ts";
import type { ProxyHeaders } from "./proxy-headers.ts";
import { requestPath } from "./request-path.ts";
import type { Endpoint, UpstreamEndpoints } from "./upstream/endpoints.ts";
import type { Forwarder, UpgradeSlot, Who } from "./upstream/forwarder.ts";
import {
  ANONYMOUS_OWNER,
  MCP_SESSION_HEADER,
  type McpSessionBinding,
  type McpSessionOwner,
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
  relay: (
    req: IncomingMessage,
    socket: Socket,
    head: Buffer,
    who: Who,
    to: { endpoint: Endpoint; slot: UpgradeSlot },
  ) => Promise<void>;
  /** The MCP server's endpoints, as for plain requests. */
  endpoints: UpstreamEndpoints;
  /** Owns the stream slots that upgrades take too. */
  forwarder: Forwarder;
  /**
   * While MCP policy rules exist or the audit trail is on: messages over a WebSocket could be
   * neither judged nor recorded, as every POST is.
   */
  mcpGuard: Pick<McpGuard, "enabled" | "refuseUpgrade">;
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
        if (deps.mcpGuard.enabled) {
          deps.mcpGuard.refuseUpgrade({ user: auth.user, clientId: auth.clientId, scopes: auth.scopes }, requestId);
        }
        const owner = auth.user ? sessionOwner(auth.user, auth.clientId) : ANONYMOUS_OWNER;
        const endpoint = await endpointOf(req, socket, deps, owner);
        if (!endpoint) return;
        const who: Who = { user: auth.user, requestId, forwardedProto: deps.publicProtocol(req) };
        const slot = deps.forwarder.upgradeSlot(req, who, endpoint);
        // Over once the client socket is ended (the MCP server's end is piped on, a refusal ends it) or closed.
        socket.once("finish", slot.release);
        socket.once("close", slot.release);
        // The client may have left while it was authenticated: nothing is relayed then.
        if (socket.destroyed) return slot.release();
        await deps.relay(req, socket, head, who, { endpoint, slot });
      } catch (error) {
        writeSocketError(socket, toProxyError(error), requestId);
      }
    });
  };
}

/**
 * The endpoint for an upgrade, chosen as for a plain request (app.ts): its MCP session's, else
 * the least loaded. Undefined once answered here: the session is not the caller's, or is lost
 * with its endpoint (forgotten then, as app.ts does). Throws 503 while every endpoint fails.
 */
async function endpointOf(
  req: IncomingMessage,
  socket: Socket,
  deps: UpgradeDeps,
  /** Whose MCP sessions it may use (ANONYMOUS_OWNER on a public path). */
  owner: McpSessionOwner,
): Promise<Endpoint | undefined> {
  const { mcpSessions, endpoints } = deps;
  if (!mcpSessions) return endpoints.pickOrRefuse();
  const header = req.headers[MCP_SESSION_HEADER];
  const admission = await mcpSessions.requestAdmission(
    req.url ?? "/",
    typeof header === "string" ? header : undefined,
    owner,
  );
  const owning = admission.admitted ? endpoints.pinnedTo(admission) : null;
  if (owning === null) {
    if (admission.admitted) await mcpSessions.release(admission.bound as string);
    writeSocketAnswer(socket, 404, SESSION_NOT_FOUND);
    return undefined;
  }
  return owning ?? endpoints.pickOrRefuse();
}
