// Which JWTs the provider-mode verifier takes for ID tokens (decisions 039, 050), on the token
// shapes the common providers issue: their access tokens must pass, their ID tokens not,
// those a refresh returns (no nonce, often no at_hash) among them.
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

  // Tokens whose audience is the proxy's own client id (mcp_auth.audiences lists it), as the
  // providers issue them; claims as their documentation lists them.
  const OWN = "client-1";
  const forOwnClient: [string, Record<string, unknown>, { typ?: string }, "access" | "id"][] = [
    [
      "Entra ID v2 access token for the app's own API (scp)",
      { scp: "access_as_user", azp: "c", ver: "2.0" },
      { typ: "JWT" },
      "access",
    ],
    [
      "Entra ID v1 access token (scp, appid)",
      { scp: "user_impersonation", appid: "c", ver: "1.0" },
      { typ: "JWT" },
      "access",
    ],
    [
      "Entra ID app-only access token (roles, azp)",
      { roles: ["Tools.Call"], azp: "c", idtyp: "app" },
      { typ: "JWT" },
      "access",
    ],
    ["Okta access token (scp list)", { scp: ["mcp:tools"], cid: OWN }, {}, "access"],
    ["Auth0 access token (scope)", { scope: "openid mcp:tools", azp: OWN }, { typ: "at+jwt" }, "access"],
    [
      "Keycloak access token (scope, azp)",
      { scope: "openid email", azp: OWN, typ: "Bearer" },
      { typ: "JWT" },
      "access",
    ],
    [
      "Entra ID v2 ID token from a refresh (no nonce, no at_hash)",
      { aio: "x", tid: "t", ver: "2.0", oid: "o", rh: "r", uti: "u" },
      { typ: "JWT" },
      "id",
    ],
    [
      "Entra ID ID token from a refresh with the user's app roles (no azp)",
      { roles: ["Admin"], oid: "o", ver: "2.0" },
      { typ: "JWT" },
      "id",
    ],
    [
      "Google ID token from a refresh (no at_hash, no nonce)",
      { azp: OWN, email: "u1@example.com", email_verified: true },
      {},
      "id",
    ],
    ["Auth0 ID token without nonce", { sid: "s", name: "n" }, { typ: "JWT" }, "id"],
    ["Cognito ID token (token_use id)", { token_use: "id", auth_time: 1, "cognito:username": "u1" }, {}, "id"],
    ["an ID token with scope null and a nonce", { nonce: "n", scope: null }, {}, "id"],
    ["an ID token with scope null", { scope: null }, {}, "id"],
    ["Dex access token (its ID token's shape: no scope)", { email: "u1@example.com" }, {}, "id"],
  ];
  for (const [name, claims, header, kind] of forOwnClient) {
    it(`${kind === "id" ? "refuses" : "passes"} for the proxy's own client id: ${name}`, () =>
      assert.equal(isIdToken({ ...base, aud: OWN, ...claims }, header, OWN), kind === "id"));
  }
  it("asks nothing of a token for another audience but the ID token markers", () =>
    assert.equal(isIdToken({ ...base, aud: "https://mcp.example" }, {}, OWN), false));
  it("refuses a token naming the own client id among other audiences that grants nothing", () =>
    assert.equal(isIdToken({ ...base, aud: ["https://mcp.example", OWN] }, {}, OWN), true));
  it("refuses Cognito's ID token even without knowing the client id", () =>
    assert.equal(isIdToken({ ...base, token_use: "id" }, {}), true));
});
