// The page GET /logout shows: signing out is a state change, so it happens only when the
// person posts this page's form (same origin, with its CSRF token). A link or redirect on
// another site to /logout shows this page and ends nothing (logout CSRF).
import { escapeHtml, renderPage } from "../html-page.ts";

export interface SignOutPageModel {
  csrfToken: string;
  userLabel: string | undefined;
  /** With mcp_auth.mode proxy: the page of the MCP clients the sign-out disconnects too. */
  connectedClientsUrl?: string | undefined;
}

export function renderSignOutPage(model: SignOutPageModel): string {
  if (model.userLabel === undefined) {
    return renderPage(
      "Signed out",
      `<h1>You are not signed in</h1>
<p><a href="/">Sign in</a></p>`,
      'data-mcp-signed-out=""',
    );
  }
  return renderPage(
    "Sign out?",
    `<h1>Sign out?</h1>
<p>You are signed in as <strong>${escapeHtml(model.userLabel)}</strong>.</p>${
      model.connectedClientsUrl === undefined
        ? ""
        : `\n<p>The MCP clients you connected (<a href="${escapeHtml(model.connectedClientsUrl)}">see them</a>) are disconnected too.</p>`
    }
<form method="post" action="/logout">
<input type="hidden" name="csrf" value="${escapeHtml(model.csrfToken)}">
<button type="submit">Sign out</button>
</form>
<p><a href="/">Stay signed in</a></p>`,
    'data-mcp-sign-out=""',
  );
}
