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

/**
 * A glob compiled to a tiny automaton, run in time linear in the name (the name's length
 * times the glob's): names and URIs come from clients and MCP servers, up to a request body
 * long, and a backtracking regular expression of a glob with two "*" in a segment took
 * seconds on a few thousand characters, stalling every request (a security review). Ops:
 * a character; "*" (any run without "/", "?", "#"); any run at all; an optional group of
 * the next `length` ops (a globstar's "/").
 */
type Op = { kind: "char"; char: string } | { kind: "star" } | { kind: "any" } | { kind: "optional"; length: number };

const STAR_STOPS = new Set(["/", "?", "#"]);

function segmentOps(segment: string): Op[] {
  return [...segment].map((char): Op => (char === "*" ? { kind: "star" } : { kind: "char", char }));
}

/** "**" as a whole segment: the slash before the next segment is part of it ("a/**\/b" matches "a/b"). */
function globstarOps(first: boolean, last: boolean): Op[] {
  if (first)
    return last ? [{ kind: "any" }] : [{ kind: "optional", length: 2 }, { kind: "any" }, { kind: "char", char: "/" }];
  const group: Op[] = [{ kind: "optional", length: 2 }, { kind: "char", char: "/" }, { kind: "any" }];
  return last ? group : [...group, { kind: "char", char: "/" }];
}

/** The ops of one glob (assumed free of globProblems). */
function globOps(glob: string): Op[] {
  // Consecutive "**" segments mean the same as one.
  const segments = glob.split("/").filter((segment, i, all) => !(segment === "**" && all[i - 1] === "**"));
  const ops: Op[] = [];
  segments.forEach((segment, i) => {
    if (segment === "**") {
      ops.push(...globstarOps(i === 0, i === segments.length - 1));
      return;
    }
    if (i > 0 && segments[i - 1] !== "**") ops.push({ kind: "char", char: "/" });
    ops.push(...segmentOps(segment));
  });
  return ops;
}

/** The states an automaton is in: a list of op positions, and a mark per position for "in it". */
class States {
  readonly list: Int32Array;
  readonly marked: Uint8Array;
  size = 0;
  constructor(positions: number) {
    this.list = new Int32Array(positions);
    this.marked = new Uint8Array(positions);
  }
  clear(): void {
    for (let i = 0; i < this.size; i++) this.marked[this.list[i] as number] = 0;
    this.size = 0;
  }
}

/** Adds `at` and what it reaches without reading a character to `states`. */
function enter(ops: readonly Op[], states: States, at: number): void {
  if (states.marked[at] === 1) return;
  states.marked[at] = 1;
  states.list[states.size++] = at;
  const op = ops[at];
  if (!op) return;
  if (op.kind === "star" || op.kind === "any") enter(ops, states, at + 1);
  else if (op.kind === "optional") {
    enter(ops, states, at + 1);
    enter(ops, states, at + 1 + op.length);
  }
}

/** True when the glob's ops match the whole name: every state advanced one character at a time. */
function matchesOps(ops: readonly Op[], name: string): boolean {
  let states = new States(ops.length + 1);
  let next = new States(ops.length + 1);
  enter(ops, states, 0);
  for (const char of name) {
    for (let i = 0; i < states.size; i++) {
      const at = states.list[i] as number;
      const op = ops[at];
      if (op?.kind === "char" && op.char === char) enter(ops, next, at + 1);
      else if (op?.kind === "any" || (op?.kind === "star" && !STAR_STOPS.has(char))) enter(ops, next, at);
    }
    if (next.size === 0) return false;
    [states, next] = [next, states];
    next.clear();
  }
  return states.marked[ops.length] === 1;
}

/** A matcher for a list of globs: true when any of them matches the whole name. */
export function compileGlobs(globs: readonly string[]): (name: string) => boolean {
  const compiled = globs.map(globOps);
  return (name) => compiled.some((ops) => matchesOps(ops, name));
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
