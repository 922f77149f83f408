// What a person sees when a page load fails: a short HTML page instead of the JSON that
// programs get. Only top-level navigations (address bar, links, form posts) get it; fetch
// calls, MCP clients and curl keep the JSON error shape.
import type { IncomingMessage } from "node:http";
import { escapeHtml, renderPage } from "./html-page.ts";

/**
 * A browser loading a page, any method (a form post is a navigation too). Browsers say so
 * with Sec-Fetch-Mode; older ones are recognized by asking for HTML first of all.
 */
export function isPageNavigation(req: IncomingMessage): boolean {
  const mode = req.headers["sec-fetch-mode"];
  if (mode !== undefined) return mode === "navigate";
  return (req.headers.accept ?? "").startsWith("text/html");
}

const TITLES: Record<number, string> = {
  400: "This request cannot be completed",
  401: "Sign-in needed",
  403: "Not allowed",
  404: "Page not found",
  405: "Not available this way",
  429: "Too many requests",
  431: "Request too large",
  503: "Temporarily unavailable",
};

export interface PageError {
  code: string;
  status: number;
  message: string;
  details?: Record<string, unknown> | undefined;
}

export function renderErrorPage(error: PageError, requestId: string): string {
  const title = TITLES[error.status] ?? (error.status >= 500 ? "Something went wrong" : "This request failed");
  const reason = typeof error.details?.reason === "string" ? `<p>${escapeHtml(error.details.reason)}</p>` : "";
  return renderPage(
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(error.message)}</p>${reason}
<p><a href="/">Back to the start page</a></p>
<p class="muted">Error <code>${escapeHtml(error.code)}</code> (${error.status})${
      requestId ? `, request id <code>${escapeHtml(requestId)}</code>` : ""
    }</p>`,
    `data-error-code="${escapeHtml(error.code)}"`,
  );
}
