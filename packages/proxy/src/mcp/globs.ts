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

const CHAR = 0;
const STAR = 1;
const ANY = 2;
const SLASH = 47;
const QUESTION = 63;
const HASH = 35;

/**
 * The automaton of a glob's ops, built once: per position its kind and character (a code
 * point), and the positions it reaches without reading a character (its closure).
 */
class Automaton {
  readonly #kinds: Int8Array;
  readonly #chars: Int32Array;
  readonly #closures: Int32Array[];
  readonly #end: number;

  constructor(ops: readonly Op[]) {
    this.#end = ops.length;
    this.#kinds = Int8Array.from(ops, (op) => (op.kind === "star" ? STAR : op.kind === "any" ? ANY : CHAR));
    this.#chars = Int32Array.from(ops, (op) => (op.kind === "char" ? (op.char.codePointAt(0) as number) : -1));
    // An optional group's own position only leads on: it reads nothing (kind -1 below).
    ops.forEach((op, at) => {
      if (op.kind === "optional") this.#kinds[at] = -1;
    });
    this.#closures = Array.from({ length: ops.length + 1 }, (_, at) => Int32Array.from(closureOf(ops, at)));
  }

  /** True when the glob matches the whole name: every state advanced one code point at a time. */
  matches(name: string): boolean {
    const kinds = this.#kinds;
    const chars = this.#chars;
    const closures = this.#closures;
    const marked = new Uint8Array(this.#end + 1);
    let states = new Int32Array(this.#end + 1);
    let next = new Int32Array(this.#end + 1);
    let size = enter(closures[0] as Int32Array, states, 0, marked);
    for (let i = 0; i < name.length; ) {
      const code = name.codePointAt(i) as number;
      i += code > 0xffff ? 2 : 1;
      for (let k = 0; k < size; k++) marked[states[k] as number] = 0;
      let nextSize = 0;
      const stops = code === SLASH || code === QUESTION || code === HASH;
      for (let k = 0; k < size; k++) {
        const at = states[k] as number;
        const kind = kinds[at];
        if (kind === CHAR) {
          if (chars[at] === code) nextSize = enter(closures[at + 1] as Int32Array, next, nextSize, marked);
        } else if (kind === ANY || (kind === STAR && !stops)) {
          nextSize = enter(closures[at] as Int32Array, next, nextSize, marked);
        }
      }
      if (nextSize === 0) return false;
      const swap = states;
      states = next;
      next = swap;
      size = nextSize;
    }
    return marked[this.#end] === 1;
  }
}

/** Adds a closure's positions to `states` (of `size`), unless marked; the new size. */
function enter(closure: Int32Array, states: Int32Array, size: number, marked: Uint8Array): number {
  let count = size;
  for (let j = 0; j < closure.length; j++) {
    const reached = closure[j] as number;
    if (marked[reached] === 1) continue;
    marked[reached] = 1;
    states[count++] = reached;
  }
  return count;
}

/** The positions `at` reaches without reading a character, itself included. */
function closureOf(ops: readonly Op[], at: number, seen = new Set<number>()): Set<number> {
  if (seen.has(at)) return seen;
  seen.add(at);
  const op = ops[at];
  if (op?.kind === "star" || op?.kind === "any") closureOf(ops, at + 1, seen);
  else if (op?.kind === "optional") {
    closureOf(ops, at + 1, seen);
    closureOf(ops, at + 1 + op.length, seen);
  }
  return seen;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** The regular expression of ops with one wildcard at most. */
function opsSource(ops: readonly Op[]): string {
  let source = "";
  for (let at = 0; at < ops.length; at++) {
    const op = ops[at] as Op;
    if (op.kind === "char") source += escapeRegExp(op.char);
    else if (op.kind === "star") source += "[^/?#]*";
    else if (op.kind === "any") source += ".*";
    else {
      source += `(?:${opsSource(ops.slice(at + 1, at + 1 + op.length))})?`;
      at += op.length;
    }
  }
  return source;
}

/**
 * One glob's matcher. Most globs have one wildcard ("admin_*", "db/**", "file:///docs/**"):
 * a regular expression with one quantifier never backtracks more than once over the name, and
 * V8 runs it ~50 times faster than the automaton, which the others get (a review measured a
 * replica blocked for seconds by requests of many long names with the automaton alone).
 */
function globMatcher(glob: string): (name: string) => boolean {
  const ops = globOps(glob);
  const wildcards = ops.filter((op) => op.kind === "star" || op.kind === "any").length;
  if (wildcards === 0) return (name) => name === glob;
  if (wildcards > 1) {
    const automaton = new Automaton(ops);
    return (name) => automaton.matches(name);
  }
  const pattern = new RegExp(`^${opsSource(ops)}$`, "s");
  return (name) => pattern.test(name);
}

/** A matcher for a list of globs: true when any of them matches the whole name. */
export function compileGlobs(globs: readonly string[]): (name: string) => boolean {
  const matchers = globs.map(globMatcher);
  return (name) => matchers.some((matches) => matches(name));
}

/** Why a glob is refused, or undefined when it is sound. */
export function globProblem(glob: string, kind: GlobKind): string | undefined {
  // Names are matched a character (a code point) at a time: half of one could match nothing.
  if (!glob.isWellFormed()) return `"${glob}": holds half of a character (a lone UTF-16 surrogate)`;
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
