// The page where a person approves an MCP client before it gets tokens in their name. Many
// dynamically registered clients share the proxy's one client id at the provider, so the
// provider's own consent cannot tell them apart: this page names the client, where its
// answer goes and what it asks for. Its headers and layout are every page's (html-page.ts).
import { escapeHtml, escapeText, renderPage } from "../../html-page.ts";

export interface ConsentPageModel {
  uid: string;
  csrfToken: string;
  clientName: string;
  clientId: string;
  /** Host (or scheme, for app URIs) the code will be sent to. */
  redirectTarget: string;
  /** The exact redirect URI: the approval is remembered for it alone. */
  redirectUri: string;
  scopes: string[];
  userLabel: string;
  resource: string;
}

/** Where an authorization code would go, as a person recognizes it. */
export function redirectTargetOf(redirectUri: string): string {
  const url = URL.parse(redirectUri);
  if (!url) return redirectUri;
  if (url.protocol === "http:" || url.protocol === "https:") return url.host;
  return `${url.protocol}//${url.host}`;
}

export function renderConsentPage(model: ConsentPageModel): string {
  const scopes =
    model.scopes.length > 0
      ? model.scopes.map((scope) => `<li><code>${escapeText(scope)}</code></li>`).join("")
      : "<li>use the MCP server as you</li>";
  const action = `/interaction/${encodeURIComponent(model.uid)}`;
  return renderPage(
    `Allow ${model.clientName}?`,
    `<h1>Allow ${escapeText(model.clientName)}?</h1>
<p><strong>${escapeText(model.clientName)}</strong> wants to use <code>${escapeText(model.resource)}</code> as
<strong>${escapeText(model.userLabel)}</strong>.</p>
<p>Its sign-in answer goes to <code>${escapeText(model.redirectTarget)}</code>. Only allow it if you started this
from an application you trust.</p>
<p>It asks for:</p><ul>${scopes}</ul>
<form method="post" action="${action}/confirm">
<input type="hidden" name="csrf" value="${escapeHtml(model.csrfToken)}">
<button type="submit" name="decision" value="allow">Allow</button>
</form>
<form method="post" action="${action}/abort">
<input type="hidden" name="csrf" value="${escapeHtml(model.csrfToken)}">
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p class="muted">Client id: <code>${escapeText(model.clientId)}</code><br>
Answer sent to: <code>${escapeText(model.redirectUri)}</code></p>`,
    `data-mcp-consent="${escapeHtml(model.uid)}"`,
  );
}
