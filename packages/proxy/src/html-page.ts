// The proxy's own HTML pages (consent, sign-out, connected clients, errors): one layout, one
// escaping function and one set of headers, so every page a person sees is equally locked down.

/**
 * Never framed (clickjacking), never cached, no scripts at all. No `form-action`: Chromium
 * applies it to the redirects after a post too, and the consent and sign-out forms end at
 * the client's redirect URI and the provider's end-session page.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
};

const escapes: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => escapes[c] as string);

/**
 * Characters that reorder or hide text as it is shown: bidirectional controls (U+202E makes
 * "exe.gnp" read as "png.exe"), zero-width and other invisible format characters (soft
 * hyphen, fillers, variation selectors, tag characters), line and paragraph separators, C0
 * and C1 controls. A client's name or redirect URI comes from whoever registered it.
 */
const HIDING =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the controls are what it finds.
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: each is replaced alone, combining ones too.
  /[\u034f\u0000-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\u{e0000}-\u{e0fff}]/gu;

/**
 * Text a person reads on a page, escaped, with what would reorder or hide it shown as "\ufffd"
 * instead: a registered name cannot be made to read as another's. Attribute values a form
 * posts back use escapeHtml (they must come back as they were).
 */
export const escapeText = (text: string): string => escapeHtml(text.replace(HIDING, "\ufffd"));

/** A whole page around `body` (already HTML); `title` is text. */
export function renderPage(title: string, body: string, bodyAttributes = ""): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeText(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .25rem}button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem}
.muted{color:#666;font-size:.9rem}</style></head>
<body${bodyAttributes ? ` ${bodyAttributes}` : ""}>
${body}
</body></html>`;
}
