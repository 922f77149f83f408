// The paths the proxy answers itself instead of forwarding them to the MCP server. Each
// router declares the paths it owns next to its routes; the request handler builds its one
// test from those declarations, so a new route is added in one place.

/** Paths a router owns: exact paths, path prefixes, and path endings (path-inserted metadata forms). */
export interface OwnedPaths {
  exact?: readonly string[];
  prefixes?: readonly string[];
  suffixes?: readonly string[];
}

/** Whether a request path is one of the declared paths. */
export function ownPathMatcher(owned: readonly OwnedPaths[]): (path: string) => boolean {
  const exact = new Set(owned.flatMap((paths) => paths.exact ?? []));
  const prefixes = owned.flatMap((paths) => paths.prefixes ?? []);
  const suffixes = owned.flatMap((paths) => paths.suffixes ?? []);
  // Loops, not some(): asked twice per request, and a callback is a closure per call.
  return (path) => {
    if (exact.has(path)) return true;
    for (const prefix of prefixes) if (path.startsWith(prefix)) return true;
    for (const suffix of suffixes) if (path.endsWith(suffix)) return true;
    return false;
  };
}
