// The path the proxy decides on (public paths, path scopes) is the path it forwards, byte for
// byte. Public paths are matched against that raw path; a path some server could read as
// another one is refused with 400 instead of being forwarded: dot segments ("..", "."), also
// percent-encoded ("%2e%2e", ".%2e"), also between backslashes or encoded slashes
// ("..%2f", "..\"), also with a ";" parameter ("..;x", which Java servers strip), and any
// request target that is not a path (absolute-form "http://host/…", "*"). Encoded slashes,
// backslashes and ";" without dot segments pass: under any reading the path stays under
// the prefix it was matched against. See docs/decisions/011-request-path-and-host.md.
import { badRequest } from "./errors.ts";

const SEPARATOR = String.raw`(?:/|\\|%2f|%5c)`;
const DOT_SEGMENT = new RegExp(String.raw`(?:^|${SEPARATOR})(?:\.|%2e){1,2}(?:;[^/\\]*)?(?=${SEPARATOR}|$)`, "i");

/** The path of a request target (without the query); throws BAD_REQUEST when it is ambiguous. */
export function requestPath(url: string): string {
  const queryAt = url.indexOf("?");
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  if (!path.startsWith("/")) throw badRequest("The request target must be a path");
  // A dot segment has a "." or its encoding ("%2e"): paths with neither skip the expression.
  if ((path.includes(".") || path.includes("%")) && DOT_SEGMENT.test(path)) {
    throw badRequest("Paths with dot segments are refused (also encoded ones)", { path: path.slice(0, 200) });
  }
  return path;
}
