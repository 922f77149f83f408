// What the proxy keeps in a signed-in session, and how an ID token's claims become it.
import type { IDToken } from "openid-client";

export interface SessionUser {
  /** The provider's subject identifier (sub). */
  id: string;
  email?: string;
  /** False when the provider says the e-mail address is unverified (it then never passes domain rules). */
  emailVerified: boolean;
  name?: string;
  groups: string[];
  /** The issuer that authenticated the user, or "bypass". */
  provider: string;
}

/** The provider's tokens; they stay server-side and are never sent to clients or upstream. */
export interface UpstreamTokens {
  idToken?: string;
  refreshToken?: string;
  /** Epoch milliseconds when the provider's access token expires. */
  expiresAt?: number;
}

declare module "express-session" {
  interface SessionData {
    user?: SessionUser;
    tokens?: UpstreamTokens;
    /** Epoch milliseconds of sign-in. */
    authenticatedAt?: number;
  }
}

function stringClaim(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/** Groups may arrive as a list or a comma/space separated string, depending on the provider. */
export function groupsFrom(claims: Record<string, unknown>, claimName: string): string[] {
  const value = claims[claimName];
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === "string");
  if (typeof value === "string") return value.split(/[,\s]+/).filter(Boolean);
  return [];
}

export function userFromClaims(
  claims: IDToken | Record<string, unknown>,
  options: { groupsClaim: string; provider: string },
): SessionUser {
  const record = claims as Record<string, unknown>;
  const email = stringClaim(record, "email");
  const name = stringClaim(record, "name") ?? stringClaim(record, "preferred_username");
  return {
    id: String(record.sub),
    ...(email ? { email } : {}),
    emailVerified: record.email_verified !== false && record.email_verified !== "false",
    ...(name ? { name } : {}),
    groups: groupsFrom(record, options.groupsClaim),
    provider: options.provider,
  };
}
