// The page where a person approves an MCP client before it gets tokens in their name. Many
// dynamically registered clients share the proxy's one client id at the provider, so the
// provider's own consent cannot tell them apart: this page names the client, where its
// answer goes and what it asks for.

export interface ConsentPageModel {
  uid: string;
  csrfToken: string;
  clientName: string;
  clientId: string;
  /** Host (or scheme, for app URIs) the code will be sent to. */
  redirectTarget: string;
  scopes: string[];
  userLabel: string;
  resource: string;
}

const escapes: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => escapes[c] as string);

/** Where an authorization code would go, as a person recognizes it. */
export function redirectTargetOf(redirectUri: string): string {
  const url = URL.parse(redirectUri);
  if (!url) return redirectUri;
  if (url.protocol === "http:" || url.protocol === "https:") return url.host;
  return `${url.protocol}//${url.host}`;
}

/** Headers of the page: never framed (clickjacking), never cached, no scripts at all. */
export const CONSENT_PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
};

export function renderConsentPage(model: ConsentPageModel): string {
  const scopes =
    model.scopes.length > 0
      ? model.scopes.map((scope) => `<li><code>${escapeHtml(scope)}</code></li>`).join("")
      : "<li>use the MCP server as you</li>";
  const action = `/interaction/${encodeURIComponent(model.uid)}`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Allow ${escapeHtml(model.clientName)}?</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .25rem}button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem}
.muted{color:#666;font-size:.9rem}</style></head>
<body data-mcp-consent="${escapeHtml(model.uid)}">
<h1>Allow ${escapeHtml(model.clientName)}?</h1>
<p><strong>${escapeHtml(model.clientName)}</strong> wants to use <code>${escapeHtml(model.resource)}</code> as
<strong>${escapeHtml(model.userLabel)}</strong>.</p>
<p>Its sign-in answer goes to <code>${escapeHtml(model.redirectTarget)}</code>. Only allow it if you started this
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
<p class="muted">Client id: <code>${escapeHtml(model.clientId)}</code></p>
</body></html>`;
}
