// What of a configured URL may appear in a log line: a target or Redis URL may carry a
// password (https://user:secret@host/) or a key in its query (?api_key=...), and log lines
// end up in places with wider access than the configuration's Secret.
const HIDDEN = "redacted";

/** The URL with its user name, password and every query value replaced; unparsable → "redacted". */
export function redactUrl(url: string | URL): string {
  const parsed = URL.parse(String(url));
  if (!parsed) return HIDDEN;
  if (parsed.username) parsed.username = HIDDEN;
  if (parsed.password) parsed.password = HIDDEN;
  for (const name of new Set(parsed.searchParams.keys())) parsed.searchParams.set(name, HIDDEN);
  return parsed.href;
}
