// Which caller may use which tool, resource and prompt (mcp_policy.rules). Built once from
// the config (and again on SIGHUP); `decide` is synchronous and does no I/O, so the call site
// can wrap it (tracing) and it costs a few glob tests per request. Semantics
// (docs/decisions/016-mcp-policy.md): a rule applies to a call when one of its globs for the
// call's kind matches the name; it grants the call when the caller meets every condition the
// rule lists (users, groups, e-mail domains, clients, scopes), any value within one
// condition. Any applying rule that grants allows the call. Once any rule names a kind,
// that kind is denied by default; kinds no rule names stay open. Identities match as in the
// access section (docs/decisions/010i): "@" entries are verified e-mail addresses. A
// resource URI in an ambiguous spelling is denied before any rule (resource-uri.ts), and a
// denial names the rule that covers the name (docs/decisions/047). A 2026-07-28
// `subscriptions/listen` names many resource URIs: each is judged, one denied denies it
// (docs/decisions/052).
import type { SessionUser } from "../auth/session-user.ts";
import type { Config } from "../config/schema.ts";
import { compileGlobs } from "./globs.ts";
import { resourceUriProblem } from "./resource-uri.ts";

export type McpKind = "tool" | "resource" | "prompt";

/** What one JSON-RPC request asks for, as far as the policy cares. */
export interface McpCall {
  method: string;
  /** What the method concerns (tools/call: tool; completion/complete: its ref's kind). */
  kind?: McpKind | undefined;
  /** Tool or prompt name, or resource URI; undefined when the body names none. */
  name?: string | undefined;
  /** subscriptions/listen: every resource URI it subscribes to (`name` is the first), each judged. */
  uris?: readonly string[] | undefined;
}

/** Who calls: the signed-in user, and for bearer tokens the OAuth client and its scopes. */
export interface McpCaller {
  user: SessionUser | undefined;
  clientId?: string | undefined;
  /** The token's scopes; undefined for browser sessions (no token, nothing to step up). */
  scopes?: readonly string[] | undefined;
}

export interface McpDecision {
  allowed: boolean;
  /**
   * The rule that granted the call; for a denial, the first rule that covers the name but does
   * not grant it to this caller (absent when no rule covers it: denied by default).
   */
  rule?: string;
  reason: string;
  /** Scopes that would grant the denied call (a step-up challenge, SEP-835). */
  stepUpScopes?: string[];
}

type RuleConfig = Config["mcp_policy"]["rules"][number];

/** Which kind a method concerns and where its name is in the params. */
const NAMED_METHODS: Readonly<Record<string, { kind: McpKind; field: "name" | "uri" }>> = {
  "tools/call": { kind: "tool", field: "name" },
  "prompts/get": { kind: "prompt", field: "name" },
  "resources/read": { kind: "resource", field: "uri" },
  "resources/subscribe": { kind: "resource", field: "uri" },
  "resources/unsubscribe": { kind: "resource", field: "uri" },
};

/** Every method whose params the policy reads (its name, URI, ref or subscriptions). */
export const JUDGED_METHODS: ReadonlySet<string> = new Set([
  ...Object.keys(NAMED_METHODS),
  "completion/complete",
  "subscriptions/listen",
]);

function recordOf(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

/**
 * subscriptions/listen (2026-07-28): `notifications.resourceSubscriptions`, the URIs whose
 * notifications/resources/updated the stream is to carry (what resources/subscribe was).
 * Anything there but strings names no resource the policy can judge: denied while governed.
 */
function listenCall(method: string, record: Record<string, unknown>): McpCall {
  const uris = recordOf(record.notifications).resourceSubscriptions;
  if (uris === undefined || (Array.isArray(uris) && uris.length === 0)) return { method };
  if (!Array.isArray(uris) || !uris.every((uri) => typeof uri === "string")) return { method, kind: "resource" };
  return { method, kind: "resource", name: uris[0], uris };
}

/** The kind and name a request's body names, if any (completion/complete: its ref). */
export function callOf(method: string, params: unknown): McpCall {
  const record = recordOf(params);
  if (method === "subscriptions/listen") return listenCall(method, record);
  const named = NAMED_METHODS[method];
  if (named) {
    const value = record[named.field];
    return { method, kind: named.kind, name: typeof value === "string" ? value : undefined };
  }
  if (method === "completion/complete") {
    const ref = typeof record.ref === "object" && record.ref !== null ? (record.ref as Record<string, unknown>) : {};
    if (ref.type === "ref/prompt")
      return { method, kind: "prompt", name: typeof ref.name === "string" ? ref.name : undefined };
    if (ref.type === "ref/resource")
      return { method, kind: "resource", name: typeof ref.uri === "string" ? ref.uri : undefined };
  }
  return { method };
}

/** The params field the Mcp-Name header mirrors, for the methods that have one (2026-07-28). */
export const MCP_NAME_FIELDS: Readonly<Record<string, "name" | "uri">> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};

interface CompiledRule {
  name: string;
  matchers: Partial<Record<McpKind, (name: string) => boolean>>;
  subjects: Set<string>;
  emails: Set<string>;
  groups: Set<string>;
  domains: Set<string>;
  clients: Set<string>;
  scopes: string[];
  /** The decision when it grants a call: one object per rule (decisions are never changed). */
  granted: Readonly<McpDecision>;
}

/** Longest name a denial's reason repeats: tool names are 128 characters at most by the MCP schema's advice. */
const REASON_NAME_LIMIT = 128;

/**
 * A name as a reason quotes it: a longer one only by its start (the audit line has it in
 * `name`, bounded; its reason must not repeat a client's megabyte, docs/decisions/051).
 */
function quoted(name: string): string {
  return name.length <= REASON_NAME_LIMIT
    ? `"${name}"`
    : `"${name.slice(0, REASON_NAME_LIMIT)}…" (${name.length} characters)`;
}

function compile(rule: RuleConfig, index: number): CompiledRule {
  const matchers: CompiledRule["matchers"] = {};
  if (rule.tools.length > 0) matchers.tool = compileGlobs(rule.tools);
  if (rule.resources.length > 0) matchers.resource = compileGlobs(rule.resources);
  if (rule.prompts.length > 0) matchers.prompt = compileGlobs(rule.prompts);
  const name = rule.name ?? `rules[${index}]`;
  // A condition left out is none; the schema refuses an empty list, so an empty set here is "left out".
  const users = rule.users ?? [];
  return {
    name,
    matchers,
    subjects: new Set(users.filter((u) => !u.includes("@"))),
    emails: new Set(users.filter((u) => u.includes("@")).map((u) => u.toLowerCase())),
    groups: new Set(rule.groups),
    domains: new Set(rule.email_domains?.map((d) => d.toLowerCase())),
    clients: new Set(rule.clients),
    scopes: rule.scopes ?? [],
    granted: Object.freeze({ allowed: true, rule: name, reason: `granted by ${name}` }),
  };
}

/** What a caller lacks, by the condition it fails (in denials: the caller may learn it). */
const UNMET: Readonly<Record<string, string>> = {
  user: "the caller is not one of its users",
  group: "the caller is in none of its groups",
  "e-mail domain": "the caller has no verified e-mail address in its domains",
  client: "the OAuth client is not one of its clients",
  scope: "the token lacks some of its scopes",
};

/** Which condition of the rule the caller fails, "" when it meets them all. */
function unmet(rule: CompiledRule, caller: McpCaller, ignoreScopes: boolean): string {
  const user = caller.user;
  const email = user?.email && user.emailVerified ? user.email.toLowerCase() : undefined;
  if (rule.subjects.size + rule.emails.size > 0) {
    const listed = (user && rule.subjects.has(user.id)) || (email !== undefined && rule.emails.has(email));
    if (!listed) return "user";
  }
  if (rule.groups.size > 0 && !user?.groups.some((g) => rule.groups.has(g))) return "group";
  if (rule.domains.size > 0) {
    const domain = email?.slice(email.lastIndexOf("@") + 1);
    if (domain === undefined || !rule.domains.has(domain)) return "e-mail domain";
  }
  if (rule.clients.size > 0 && (caller.clientId === undefined || !rule.clients.has(caller.clientId))) return "client";
  if (!ignoreScopes && rule.scopes.some((scope) => !caller.scopes?.includes(scope))) return "scope";
  return "";
}

/**
 * Names no rule matches past this length, whatever they are: denied, and left out of lists.
 * Real tool and prompt names are short (MCP asks 1–128 characters), resource URIs seldom
 * reach a few KiB; matching is linear in the name (globs.ts), and a cap keeps one request's
 * names, up to a body long, from costing more than a few milliseconds to judge.
 */
export const MAX_NAME_LENGTH: Readonly<Record<McpKind, number>> = { tool: 512, prompt: 512, resource: 8192 };

export class McpPolicy {
  readonly #rules: CompiledRule[];
  /** Kinds some rule names: denied unless a rule grants. */
  readonly #governed: Set<McpKind>;

  constructor(policy: Config["mcp_policy"]) {
    this.#rules = policy.rules.map(compile);
    this.#governed = new Set(this.#rules.flatMap((rule) => Object.keys(rule.matchers) as McpKind[]));
  }

  /** True when some rule exists: the proxy then reads and judges every MCP POST. */
  get active(): boolean {
    return this.#rules.length > 0;
  }

  /** True when lists of this kind must be filtered for each caller. */
  governs(kind: McpKind): boolean {
    return this.#governed.has(kind);
  }

  /** The decision on one call; methods that name nothing are always allowed. */
  decide(call: McpCall, caller: McpCaller): McpDecision {
    if (!call.kind) return { allowed: true, reason: "the method names no tool, resource or prompt" };
    if (call.uris) return this.#decideEach(call.kind, call.uris, caller);
    return this.#decideOne(call.kind, call.name, caller);
  }

  /** Every name must be granted: the first denial is the decision, else the first grant (a set: each judged once). */
  #decideEach(kind: McpKind, names: readonly string[], caller: McpCaller): McpDecision {
    let granted: McpDecision | undefined;
    for (const name of new Set(names)) {
      const decision = this.#decideOne(kind, name, caller);
      if (!decision.allowed) return decision;
      granted ??= decision;
    }
    return granted as McpDecision;
  }

  #decideOne(kind: McpKind, name: string | undefined, caller: McpCaller): McpDecision {
    // Judged only in its plain spelling: the server may resolve another one elsewhere.
    if (kind === "resource" && name !== undefined && this.#governed.has("resource")) {
      const problem = resourceUriProblem(name);
      if (problem) return { allowed: false, reason: problem };
    }
    return this.decideOn(kind, name, caller);
  }

  /** The decision on using the `kind` called `name` (also how lists are filtered). */
  decideOn(kind: McpKind, name: string | undefined, caller: McpCaller): McpDecision {
    if (!this.#governed.has(kind)) return { allowed: true, reason: `no rule governs ${kind}s` };
    if (name === undefined) return { allowed: false, reason: `the request names no ${kind}` };
    if (name.length > MAX_NAME_LENGTH[kind]) {
      return { allowed: false, reason: `the ${kind}'s name is longer than ${MAX_NAME_LENGTH[kind]} characters` };
    }
    let stepUp: CompiledRule | undefined;
    let covering: { rule: CompiledRule; failed: string } | undefined;
    for (const rule of this.#rules) {
      const matches = rule.matchers[kind];
      if (!matches?.(name)) continue;
      const failed = unmet(rule, caller, false);
      if (failed === "") return rule.granted;
      covering ??= { rule, failed };
      // A rule the caller meets but for its scopes: a token with them would be granted.
      if (failed === "scope" && caller.scopes !== undefined && !stepUp) stepUp = rule;
    }
    if (!covering) return { allowed: false, reason: `no rule names the ${kind} ${quoted(name)} (denied by default)` };
    // The rule named is the step-up's when there is one: its scopes are what the caller lacks.
    const named = stepUp ? { rule: stepUp, failed: "scope" } : covering;
    return {
      allowed: false,
      rule: named.rule.name,
      reason: `no rule grants the ${kind} ${quoted(name)} to this caller (${named.rule.name} covers it; ${UNMET[named.failed]})`,
      ...(stepUp ? { stepUpScopes: stepUp.scopes } : {}),
    };
  }
}
