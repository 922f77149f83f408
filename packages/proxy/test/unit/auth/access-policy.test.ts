import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AccessPolicy } from "../../../src/auth/access-policy.ts";
import type { SessionUser } from "../../../src/auth/session-user.ts";

const rules = (access: Partial<ConstructorParameters<typeof AccessPolicy>[0]>) =>
  new AccessPolicy({ public_paths: [], required_groups: [], allowed_email_domains: [], allowed_users: [], ...access });
const user = (over: Partial<SessionUser> = {}): SessionUser => ({
  id: "u1",
  email: "u1@corp.example",
  emailVerified: true,
  groups: ["staff"],
  provider: "https://id.example",
  ...over,
});

describe("access policy", () => {
  it("lets every signed-in user through when no rule is configured", () => {
    assert.deepEqual(rules({}).decide(user()), { allowed: true });
  });

  it("requires one of the required groups", () => {
    const policy = rules({ required_groups: ["admins", "staff"] });
    assert.equal(policy.decide(user()).allowed, true);
    assert.equal(policy.decide(user({ groups: ["guests"] })).allowed, false);
  });

  it("matches e-mail domains exactly, case-insensitively, and only when the address is verified", () => {
    const policy = rules({ allowed_email_domains: ["corp.example"] });
    assert.equal(policy.decide(user({ email: "U1@CORP.example" })).allowed, true);
    assert.equal(policy.decide(user({ email: "u1@evil-corp.example" })).allowed, false);
    assert.equal(policy.decide(user({ email: "u1@sub.corp.example" })).allowed, false);
    assert.equal(policy.decide(user({ emailVerified: false })).allowed, false);
  });

  it("always admits listed users; with only a user list, nobody else", () => {
    const policy = rules({ allowed_users: ["u2", "boss@corp.example"] });
    assert.equal(policy.decide(user({ id: "u2" })).allowed, true);
    assert.equal(policy.decide(user({ email: "boss@corp.example" })).allowed, true);
    assert.equal(policy.decide(user()).allowed, false);
    const mixed = rules({ allowed_users: ["u2"], required_groups: ["admins"] });
    assert.equal(mixed.decide(user({ id: "u2", groups: [] })).allowed, true);
  });

  it("allowed_users [alice] does not admit subjects ALICE or Alice (subjects compare exactly)", () => {
    const policy = rules({ allowed_users: ["alice"] });
    assert.equal(policy.decide(user({ id: "alice" })).allowed, true);
    assert.equal(policy.decide(user({ id: "ALICE" })).allowed, false);
    assert.equal(policy.decide(user({ id: "Alice" })).allowed, false);
  });

  it("an e-mail entry of allowed_users matches a verified e-mail (any case), never a subject equal to it", () => {
    const policy = rules({ allowed_users: ["Boss@Corp.example"] });
    assert.equal(policy.decide(user({ email: "boss@corp.EXAMPLE" })).allowed, true);
    const { email: _none, ...withoutEmail } = user({ id: "boss@corp.example", emailVerified: false });
    assert.equal(policy.decide(withoutEmail).allowed, false);
    assert.equal(policy.decide(user({ id: "Boss@Corp.example", email: "x@corp.example" })).allowed, false);
    assert.equal(policy.decide(user({ email: "boss@corp.example", emailVerified: false })).allowed, false);
  });

  it("treats exact paths and /prefix/* as public", () => {
    const policy = rules({ public_paths: ["/status", "/docs/*"] });
    assert.equal(policy.isPublic("/status"), true);
    assert.equal(policy.isPublic("/status/x"), false);
    assert.equal(policy.isPublic("/docs/a/b"), true);
    assert.equal(policy.isPublic("/docs"), false);
    assert.equal(policy.isPublic("/mcp"), false);
  });
});
