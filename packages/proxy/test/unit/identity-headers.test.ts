import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { IdentityHeaders } from "../../src/upstream/identity-headers.ts";

const { config } = loadConfig({ env: { AUTH_MODE: "bypass" } });
const identity = new IdentityHeaders(config.headers);
const alice = { id: "alice", email: "a@x.example", emailVerified: true, groups: ["g1", "g2"], provider: "p" };

// What is stripped from the client's headers is pinned in request-headers.test.ts.
describe("identity headers", () => {
  it("describes the user with the configured names", () => {
    const values = new Map(identity.valuesFor(alice));
    assert.equal(values.get("x-user-id"), "alice");
    assert.equal(values.get("x-user-groups"), "g1,g2");
    assert.equal(values.get("x-auth-provider"), "p");
  });

  it("percent-encodes values that are not visible ASCII (e.g. Japanese names)", () => {
    const values = new Map(
      identity.valuesFor({ id: "u", name: "山田 太郎", emailVerified: true, groups: [], provider: "p" }),
    );
    assert.equal(values.get("x-user-name"), encodeURIComponent("山田 太郎"));
  });

  it("uses the configured names, not only the defaults", () => {
    const { config: custom } = loadConfig({ env: { AUTH_MODE: "bypass" }, flags: {} });
    custom.headers.user_id = "X-Remote-User";
    const renamed = new IdentityHeaders(custom.headers);
    assert.equal(new Map(renamed.valuesFor(alice)).get("x-remote-user"), "alice");
  });
});
