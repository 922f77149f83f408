import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ClaimsMapping, userFromClaims } from "../../../src/auth/session-user.ts";

const mapping: ClaimsMapping = {
  groupsClaim: "groups",
  provider: "https://id.example",
  trustEmailWithoutVerifiedClaim: false,
};

describe("claims → user (one mapping for sessions, provider JWTs and the proxy's tokens)", () => {
  it("an e-mail without email_verified (Entra ID's default) counts as unverified", () => {
    const user = userFromClaims({ sub: "u1", email: "u1@corp.example" }, mapping);
    assert.equal(user.email, "u1@corp.example");
    assert.equal(user.emailVerified, false);
  });

  it("counts it as verified only with oidc.insecure_allow_unverified_email", () => {
    const trusting = { ...mapping, trustEmailWithoutVerifiedClaim: true };
    assert.equal(userFromClaims({ sub: "u1", email: "u1@corp.example" }, trusting).emailVerified, true);
    // An explicit "no" stays no.
    assert.equal(
      userFromClaims({ sub: "u1", email: "u1@corp.example", email_verified: false }, trusting).emailVerified,
      false,
    );
  });

  it("reads email_verified true as boolean or string, anything else as unverified", () => {
    for (const [claim, verified] of [
      [true, true],
      ["true", true],
      [false, false],
      ["false", false],
      [1, false],
    ] as const) {
      assert.equal(userFromClaims({ sub: "u", email: "u@x", email_verified: claim }, mapping).emailVerified, verified);
    }
  });

  it("maps name (or preferred_username), groups of the configured claim, and refuses claims without sub", () => {
    const user = userFromClaims(
      { sub: "u", preferred_username: "uu", roles: "a b,c" },
      { ...mapping, groupsClaim: "roles" },
    );
    assert.deepEqual(user, {
      id: "u",
      emailVerified: false,
      name: "uu",
      groups: ["a", "b", "c"],
      provider: "https://id.example",
    });
    assert.throws(() => userFromClaims({ email: "x@y" }, mapping), TypeError);
  });
});
