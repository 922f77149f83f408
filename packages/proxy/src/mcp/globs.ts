// The glob syntax of mcp_policy rules (tools, resources, prompts), one for all three kinds:
// "*" matches any run of characters but "/", "?" and "#" (none too: in a URI "?" and "#" end
// the path, so "https://*.example.com/**" cannot match "https://evil.test#.example.com/"),
// "**" as a whole segment
// matches any number of segments ("db/**" also matches "db", "a/**/b" also "a/b"); every other
// character stands for itself. A general glob library would also read "?", "[a-z]" and
// "{a,b}" as wildcards, and "?" and "{...}" are ordinary characters of resource URIs (queries)
// and URI templates; so only "*" and "**" are special (docs/decisions/047). `globProblems`
// is what config validation refuses: globs that mean nothing or not what they seem to.
import { spellingProblem } from "./resource-uri.ts";

export type GlobKind = "tools" | "resources" | "prompts";

/** Characters other glob dialects treat as syntax, refused in tool and prompt globs. */
const FOREIGN_SYNTAX = /[?[\]{}\\]/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** The regular expression source of one segment without "**": "*" within the segment. */
function segmentSource(segment: string): string {
  return segment.split("*").map(escapeRegExp).join("[^/?#]*");
}

/** The regular expression source of one glob (assumed free of globProblems). */
function globSource(glob: string): string {
  // Consecutive "**" segments mean the same as one.
  const segments = glob.split("/").filter((segment, i, all) => !(segment === "**" && all[i - 1] === "**"));
  let source = "";
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === "**") {
      // The slash before the next segment is part of the globstar, so "a/**/b" matches "a/b".
      if (i === 0) source += last ? ".*" : "(?:.*/)?";
      else source += last ? "(?:/.*)?" : "(?:/.*)?/";
      return;
    }
    if (i > 0 && segments[i - 1] !== "**") source += "/";
    source += segmentSource(segment);
  });
  return source;
}

/** A matcher for a list of globs: true when any of them matches the whole name. */
export function compileGlobs(globs: readonly string[]): (name: string) => boolean {
  const pattern = new RegExp(`^(?:${globs.map(globSource).join("|")})$`, "s");
  return (name) => pattern.test(name);
}

/** Why a glob is refused, or undefined when it is sound. */
export function globProblem(glob: string, kind: GlobKind): string | undefined {
  if (glob.includes("***")) return `"${glob}": "***" means nothing; use "*" within a segment or "**" across`;
  if (glob.split("/").some((segment) => segment.includes("**") && segment !== "**")) {
    return `"${glob}": "**" must be a whole segment ("a/**", "a/**/b", "**/b"); use "*" within a segment`;
  }
  if (kind !== "resources" && FOREIGN_SYNTAX.test(glob)) {
    return `"${glob}": only "*" and "**" are wildcards (? [ ] { } and \\ are not glob syntax here); match a name that has one with "*"`;
  }
  if (kind === "resources") {
    // A URI spelled so would be refused before any glob is tried: the glob could never match.
    const spelling = spellingProblem(glob);
    if (spelling) return `"${glob}": never matches, resource URIs with ${spelling} are refused`;
  }
  return undefined;
}
