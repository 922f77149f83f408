// What of a configured URL may appear in a log line: a target or Redis URL may carry a
// password (https://user:secret@host/) or a key in its query (?api_key=...), and log lines
// end up in places with wider access than the configuration's Secret.
const HIDDEN = "redacted";

/**
 * A URL the WHATWG parser refuses, as written but for what may be credentials: everything
 * between the scheme and the last "@" (a user name and password, however malformed), and
 * every query value. "http://" stays "http://", so an error can name the bad value.
 */
function redactUnparsable(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/).*@/is, `$1${HIDDEN}@`).replace(/([?&][^=&#]*=)[^&#]*/g, `$1${HIDDEN}`);
}

/** The URL with its user name, password and every query value replaced, parsable or not. */
export function redactUrl(url: string | URL): string {
  const parsed = URL.parse(String(url));
  if (!parsed) return redactUnparsable(String(url));
  if (parsed.username) parsed.username = HIDDEN;
  if (parsed.password) parsed.password = HIDDEN;
  for (const name of new Set(parsed.searchParams.keys())) parsed.searchParams.set(name, HIDDEN);
  return parsed.href;
}
