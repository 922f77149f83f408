// The page where a person sees the MCP clients they connected (approved on the consent page)
// and revokes one, as GitHub's "Authorized OAuth Apps" page does. Each Revoke button posts
// its own small form with the page's CSRF token. Headers and layout are every page's
// (html-page.ts): no scripts, never framed, never cached.
import { escapeHtml, escapeText, renderPage } from "../../html-page.ts";
import { redirectTargetOf } from "./consent-page.ts";
import type { ConnectedClient } from "./user-grants.ts";

/** The page and where its Revoke forms post (the authorization server declares them among its own). */
export const CONNECTED_CLIENTS_PATHS = {
  page: "/connected-clients",
  revoke: "/connected-clients/revoke",
} as const;

export interface ConnectedClientsPageModel {
  csrfToken: string;
  userLabel: string;
  clients: ConnectedClient[];
  /** The name of the client revoked just before, shown once. */
  revoked?: string | undefined;
}

/** A time as a person reads it anywhere: minutes, UTC. */
const when = (millis: number) => `${new Date(millis).toISOString().slice(0, 16).replace("T", " ")} UTC`;

const nameOf = (client: { clientName?: string | undefined }) => client.clientName ?? "An unnamed application";

/** What a Revoke does to this client, where it differs from the page's general words. */
function standing(client: ConnectedClient): string {
  if (client.preapproved) {
    return '<p data-mcp-preapproved="">Pre-approved by the administrator: revoking ends its access now, but it connects again without asking you.</p>';
  }
  if (client.grantIds.length === 0) {
    return '<p data-mcp-approved-only="">Not connected now, but approved: when you sign in, it connects again without asking. Revoke to be asked again.</p>';
  }
  return "";
}

function clientItem(client: ConnectedClient, csrfToken: string): string {
  const targets = [...new Set(client.redirectUris.map(redirectTargetOf))];
  return `<li data-mcp-client="${escapeHtml(client.clientId)}">
<p><strong>${escapeText(nameOf(client))}</strong><br>
<span class="muted">Answers go to ${targets.map((target) => `<code>${escapeText(target)}</code>`).join(", ")}<br>
Approved ${escapeHtml(when(client.approvedAt))} · last used ${
    client.lastUsedAt === undefined ? "never" : escapeHtml(when(client.lastUsedAt))
  }<br>
Client id: <code>${escapeText(client.clientId)}</code></span></p>
${standing(client)}
<form method="post" action="${CONNECTED_CLIENTS_PATHS.revoke}">
<input type="hidden" name="csrf" value="${escapeHtml(csrfToken)}">
<input type="hidden" name="client_id" value="${escapeHtml(client.clientId)}">
<button type="submit">Revoke</button>
</form></li>`;
}

export function renderConnectedClientsPage(model: ConnectedClientsPageModel): string {
  const notice =
    model.revoked === undefined
      ? ""
      : `<p data-mcp-revoked="">Revoked <strong>${escapeText(model.revoked)}</strong>: its tokens no longer work.</p>`;
  const list =
    model.clients.length === 0
      ? "<p>No MCP client is connected in your name.</p>"
      : `<ul>${model.clients.map((client) => clientItem(client, model.csrfToken)).join("\n")}</ul>`;
  return renderPage(
    "Connected MCP clients",
    `<h1>Connected MCP clients</h1>
<p>Applications you allowed to use this MCP server as <strong>${escapeText(model.userLabel)}</strong>.
Revoking one ends its access and forgets your approval: to connect again it must ask you again
(unless your administrator pre-approved it). Signing out ends their access too, but keeps your approvals.</p>
${notice}${list}
<p><a href="/logout">Sign out</a></p>`,
    'data-mcp-connected-clients=""',
  );
}
