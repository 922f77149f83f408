import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../../src/config/load.ts";
import { IdentityHeaders } from "../../../src/upstream/identity-headers.ts";

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
    assert.equal(values.get("x-user-name"), "%E5%B1%B1%E7%94%B0 %E5%A4%AA%E9%83%8E");
    assert.equal(decodeURIComponent(values.get("x-user-name") ?? ""), "山田 太郎");
  });

  it("subject jürgen and the literal subject j%C3%BCrgen reach the MCP server as different values", () => {
    const header = (id: string) =>
      new Map(identity.valuesFor({ id, emailVerified: false, groups: [], provider: "p" })).get("x-user-id");
    assert.equal(header("jürgen"), "j%C3%BCrgen");
    assert.equal(header("j%C3%BCrgen"), "j%25C3%25BCrgen");
    for (const id of ["jürgen", "j%C3%BCrgen", " padded ", "a,b", "plain-ascii_1.2@x"]) {
      assert.equal(decodeURIComponent(header(id) ?? ""), id);
    }
    assert.equal(header("plain-ascii_1.2@x"), "plain-ascii_1.2@x");
  });

  it("sends X-User-Email only for a verified address", () => {
    const values = new Map(
      identity.valuesFor({ id: "u", email: "boss@corp.example", emailVerified: false, groups: [], provider: "p" }),
    );
    assert.equal(values.get("x-user-email"), undefined);
    assert.equal(values.get("x-user-id"), "u");
  });

  it("encodes each group on its own: a comma inside a group name cannot split it", () => {
    const values = new Map(
      identity.valuesFor({ id: "u", emailVerified: false, groups: ["a,b", "c", "Ä"], provider: "p" }),
    );
    assert.equal(values.get("x-user-groups"), "a%2Cb,c,%C3%84");
    assert.deepEqual((values.get("x-user-groups") ?? "").split(",").map(decodeURIComponent), ["a,b", "c", "Ä"]);
  });

  it("uses the configured names, not only the defaults", () => {
    const { config: custom } = loadConfig({ env: { AUTH_MODE: "bypass" }, flags: {} });
    custom.headers.user_id = "X-Remote-User";
    const renamed = new IdentityHeaders(custom.headers);
    assert.equal(new Map(renamed.valuesFor(alice)).get("x-remote-user"), "alice");
  });
});
