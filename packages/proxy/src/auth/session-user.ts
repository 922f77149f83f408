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

export interface ClaimsMapping {
  /** The claim holding the user's groups. */
  groupsClaim: string;
  /** The issuer that authenticated the user (X-Auth-Provider). */
  provider: string;
  /**
   * Treat an e-mail address without an email_verified claim as verified
   * (oidc.insecure_allow_unverified_email), for providers that never send the claim.
   */
  trustEmailWithoutVerifiedClaim: boolean;
}

/** email_verified as providers send it: a boolean, or (some) the string "true". */
function emailVerified(record: Record<string, unknown>, mapping: ClaimsMapping): boolean {
  const claim = record.email_verified;
  if (claim === true || claim === "true") return true;
  if (claim === undefined) return mapping.trustEmailWithoutVerifiedClaim;
  return false;
}

/**
 * The one mapping from claims to the user, for browser sessions (ID token and userinfo),
 * the provider's access tokens and the proxy's own tokens alike. An e-mail address counts as
 * verified only when the provider says so (as oauth2-proxy does), unless the operator opted in.
 */
export function userFromClaims(claims: IDToken | Record<string, unknown>, mapping: ClaimsMapping): SessionUser {
  const record = claims as Record<string, unknown>;
  if (typeof record.sub !== "string" || record.sub.length === 0) throw new TypeError("the claims name no subject");
  const email = stringClaim(record, "email");
  const name = stringClaim(record, "name") ?? stringClaim(record, "preferred_username");
  return {
    id: record.sub,
    ...(email ? { email, emailVerified: emailVerified(record, mapping) } : { emailVerified: false }),
    ...(name ? { name } : {}),
    groups: groupsFrom(record, mapping.groupsClaim),
    provider: mapping.provider,
  };
}
