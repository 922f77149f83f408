// Which JWTs the provider-mode verifier takes for ID tokens (decision 039), on the token
// shapes the common providers issue: their access tokens must pass, their ID tokens not.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isIdToken } from "../../../src/auth/bearer-verifier.ts";

const base = { iss: "https://id.example", sub: "u1", aud: "client-1", iat: 1, exp: 2 };

describe("isIdToken", () => {
  const accessTokens: [string, Record<string, unknown>, { typ?: string }][] = [
    ["RFC 9068 (Auth0, oidc-provider)", { scope: "mcp:tools" }, { typ: "at+jwt" }],
    ["RFC 9068 as a media type", { scope: "mcp:tools", at_hash: "x" }, { typ: "application/at+jwt" }],
    [
      "Keycloak (typ Bearer, a nonce before version 24)",
      { typ: "Bearer", nonce: "n", scope: "openid" },
      { typ: "JWT" },
    ],
    ["Entra ID (scp)", { scp: "mcp.access", ver: "2.0" }, { typ: "JWT" }],
    ["Okta (scp list)", { scp: ["mcp:tools"], cid: "client-1" }, {}],
    ["without any scope or nonce", {}, {}],
  ];
  for (const [name, claims, header] of accessTokens) {
    it(`passes an access token: ${name}`, () => assert.equal(isIdToken({ ...base, ...claims }, header), false));
  }
  const idTokens: [string, Record<string, unknown>, { typ?: string }][] = [
    ["with at_hash (Google, Okta, Keycloak, Dex)", { at_hash: "x", email: "u1@example.com" }, { typ: "JWT" }],
    ["with c_hash (hybrid flow)", { c_hash: "x" }, {}],
    ["with s_hash (FAPI)", { s_hash: "x" }, {}],
    ["Keycloak's typ ID", { typ: "ID" }, { typ: "JWT" }],
    ["with a nonce and no scope (the proxy's own sign-ins, Entra ID)", { nonce: "n" }, { typ: "JWT" }],
  ];
  for (const [name, claims, header] of idTokens) {
    it(`refuses an ID token: ${name}`, () => assert.equal(isIdToken({ ...base, ...claims }, header), true));
  }
});
