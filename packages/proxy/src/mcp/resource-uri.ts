// Resource URIs are judged in one spelling only. The policy matches the URI the body names,
// as sent, and the proxy forwards the body's bytes unchanged; the MCP server then parses it
// its own way. The TS SDK parses with WHATWG URL, which resolves "%2e%2e" as "..", reads "\"
// as "/" in file: and http(s): URLs and drops tabs and newlines, so "file:///docs/%2e%2e/x"
// matched "file:///docs/**" and read "/x". Other servers parse otherwise (Python's urllib
// leaves dot segments alone, servlet containers read "..;" as ".."), so the proxy cannot
// know the one path a server will see: it refuses every spelling on which parsers disagree
// about the path instead of normalizing it one way (docs/decisions/047).

/** ASCII control characters: WHATWG URL drops tabs and newlines and strips others at the ends. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
/** Leading or trailing spaces, stripped by WHATWG URL. */
const OUTER_SPACE = /^ | $/;
/** "." never needs encoding (unreserved), so "%2e" only ever hides a dot segment. */
const ENCODED_DOT = /%2e/i;
/** An encoded "/" or "\" in the path: a server that decodes before it splits sees other segments. */
const ENCODED_SEPARATOR = /%(?:2f|5c)/i;

/** An encoded control character ("%00"): a server that decodes may cut or drop there. */
const ENCODED_CONTROL = /%(?:[01][0-9a-f]|7f)/i;
/** An encoded "%" before a dot, separator or NUL: a dot segment to servers that decode twice. */
const DOUBLE_ENCODED = /%25(?:2e|2f|5c|00)/i;

function isDotSegment(segment: string): boolean {
  // "..;x" (or "..%3bx") is ".." to servers that strip path parameters before resolving;
  // "...", ".. ", ". ." and "..%20" are "." or ".." to Windows, which drops a name's trailing
  // dots and spaces; "．．" (fullwidth) is ".." once compatibility-normalized.
  const bare = (segment.split(/;|%3b/i, 1)[0] as string).normalize("NFKC");
  return /^(?:[. ]|%20)*$/i.test(bare) && bare.includes(".");
}

/**
 * What makes a text an ambiguous spelling of a resource URI, or undefined: also for resource
 * globs, which could never match a URI refused so.
 */
export function spellingProblem(text: string): string | undefined {
  if (hasControl(text)) return "control characters (tab, newline, carriage return, ...)";
  if (OUTER_SPACE.test(text)) return "leading or trailing spaces";
  if (text.includes("\\")) return 'backslashes (a "/" to some URI parsers, not to others)';
  if (ENCODED_DOT.test(text)) return 'a percent-encoded dot ("%2e")';
  if (ENCODED_CONTROL.test(text)) return 'a percent-encoded control character ("%00")';
  if (DOUBLE_ENCODED.test(text)) return 'a double percent-encoding ("%252e")';
  const path = text.split(/[?#]/, 1)[0] as string;
  if (ENCODED_SEPARATOR.test(path)) return 'a percent-encoded "/" or "\\" in the path';
  // Also after "?" or "#": a template's "{+path}" can capture a query as part of a path.
  if (text.split(/[/?#]/).some(isDotSegment)) return 'dot segments ("." or "..")';
  return undefined;
}

/** Why a resource URI is refused before any rule is tried, or undefined when it is plain. */
export function resourceUriProblem(uri: string): string | undefined {
  const spelling = spellingProblem(uri);
  if (spelling) return `the resource URI has ${spelling}; send it in its plain form`;
  if (!URL.canParse(uri)) return "the resource URI is not an absolute URI";
  return undefined;
}
