// The signed-in user from one answer of the provider's token endpoint (sign-in or refresh):
// the ID token's claims, completed from the userinfo endpoint when a claim the proxy uses
// (e-mail, name, groups) is missing there. Providers differ: some put scope claims only in
// userinfo (OpenID Connect Core §5.4 allows it; oidc-provider does so by default).
import * as oidc from "openid-client";
import type { Config } from "../config/schema.ts";
import { ProxyError } from "../errors.ts";
import { ProviderUnreachable, providerUnavailable } from "./provider-failure.ts";
import { type ClaimsMapping, type SessionUser, userFromClaims } from "./session-user.ts";
import type { UpstreamOidc } from "./upstream-oidc.ts";

/** The claims mapping the configuration asks for, for users of `provider`. */
export function claimsMappingFor(config: Config, provider: string, groupsClaim?: string): ClaimsMapping {
  return {
    groupsClaim: groupsClaim ?? config.oidc.groups_claim,
    provider,
    trustEmailWithoutVerifiedClaim: config.oidc.insecure_allow_unverified_email,
  };
}

/** True when a claim the proxy maps is absent from the ID token. */
function lacksMappedClaims(claims: Record<string, unknown>, mapping: ClaimsMapping): boolean {
  return (
    claims.email === undefined ||
    (claims.name === undefined && claims.preferred_username === undefined) ||
    claims[mapping.groupsClaim] === undefined
  );
}

/**
 * The ID token's claims with the missing ones taken from userinfo. E-mail and email_verified
 * travel together from one source, so a verified flag never vouches for another address.
 */
function mergeClaims(idToken: Record<string, unknown>, userinfo: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...userinfo, ...idToken };
  if (idToken.email === undefined) {
    merged.email = userinfo.email;
    merged.email_verified = userinfo.email_verified;
  } else {
    merged.email_verified = idToken.email_verified;
  }
  return merged;
}

/**
 * The user named by a token response. Userinfo is asked (with the access token, checking that
 * its `sub` is the ID token's) only when the ID token lacks a mapped claim and the provider has
 * the endpoint; a failure there fails the sign-in rather than sign someone in without groups.
 */
export async function userFromTokenResponse(
  upstream: UpstreamOidc,
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
  mapping: ClaimsMapping,
): Promise<SessionUser | undefined> {
  const idToken = tokens.claims() as Record<string, unknown> | undefined;
  if (!idToken) return undefined;
  const configuration = upstream.configuration();
  if (
    !lacksMappedClaims(idToken, mapping) ||
    !configuration.serverMetadata().userinfo_endpoint ||
    !tokens.access_token
  ) {
    return userFromClaims(idToken, mapping);
  }
  let userinfo: oidc.UserInfoResponse;
  try {
    userinfo = await oidc.fetchUserInfo(configuration, tokens.access_token, idToken.sub as string);
  } catch (error) {
    if (error instanceof ProviderUnreachable) throw providerUnavailable(error);
    throw new ProxyError("OIDC_ERROR", 502, "The identity provider's userinfo endpoint did not answer", {
      cause: error,
    });
  }
  return userFromClaims(mergeClaims(idToken, userinfo as Record<string, unknown>), mapping);
}
