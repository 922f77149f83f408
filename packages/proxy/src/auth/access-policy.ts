// Who may pass once signed in, and which paths need no sign-in at all. Built once from the
// config (and again on SIGHUP); each check is a few set look-ups per request.
// Matching (docs/decisions/009-identity-matching-and-encoding.md): an allowed_users entry
// containing "@" names a verified e-mail address, compared case-insensitively; any other
// entry names a subject (sub), compared exactly. E-mail domains compare case-insensitively
// against verified addresses only. Groups compare exactly.
import type { Config } from "../config/schema.ts";
import type { SessionUser } from "./session-user.ts";

export type AccessDecision = { allowed: true } | { allowed: false; reason: string };

/** Every pass is the same decision: one object, not one per request. */
const ALLOWED: AccessDecision = Object.freeze({ allowed: true });

export class AccessPolicy {
  readonly #exactPublic: Set<string>;
  readonly #prefixPublic: string[];
  readonly #requiredGroups: Set<string>;
  readonly #emailDomains: Set<string>;
  readonly #subjects: Set<string>;
  readonly #emails: Set<string>;

  constructor(access: Config["access"]) {
    this.#exactPublic = new Set(access.public_paths.filter((p) => !p.endsWith("/*")));
    this.#prefixPublic = access.public_paths.filter((p) => p.endsWith("/*")).map((p) => p.slice(0, -1));
    this.#requiredGroups = new Set(access.required_groups);
    this.#emailDomains = new Set(access.allowed_email_domains.map((d) => d.toLowerCase()));
    this.#subjects = new Set(access.allowed_users.filter((u) => !u.includes("@")));
    this.#emails = new Set(access.allowed_users.filter((u) => u.includes("@")).map((u) => u.toLowerCase()));
  }

  /** Exact paths, or every path below "/prefix/" when written "/prefix/*". */
  isPublic(path: string): boolean {
    if (this.#exactPublic.has(path)) return true;
    for (const prefix of this.#prefixPublic) if (path.startsWith(prefix)) return true;
    return false;
  }

  /**
   * A listed user always passes. Otherwise every configured rule (groups, e-mail domains)
   * must pass; with only a user list configured, nobody else passes; with no rules at all,
   * every signed-in user does.
   */
  decide(user: SessionUser): AccessDecision {
    const email = user.email && user.emailVerified ? user.email.toLowerCase() : undefined;
    if (this.#subjects.has(user.id) || (email !== undefined && this.#emails.has(email))) return ALLOWED;
    const groupRule = this.#requiredGroups.size > 0;
    const domainRule = this.#emailDomains.size > 0;
    if (!groupRule && !domainRule) {
      const listed = this.#subjects.size + this.#emails.size > 0;
      return listed ? { allowed: false, reason: "user is not in allowed_users" } : ALLOWED;
    }
    if (groupRule && !user.groups.some((g) => this.#requiredGroups.has(g))) {
      return { allowed: false, reason: "user is not in a required group" };
    }
    if (domainRule) {
      const domain = email?.slice(email.lastIndexOf("@") + 1);
      if (!domain || !this.#emailDomains.has(domain)) {
        return { allowed: false, reason: "user's verified e-mail domain is not allowed" };
      }
    }
    return ALLOWED;
  }
}
