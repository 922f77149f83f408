import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { IdentityHeaders } from "../../src/upstream/identity-headers.ts";

const { config } = loadConfig({ env: { AUTH_MODE: "bypass" } });
const identity = new IdentityHeaders(config.headers, "mcp_session");
const request = (headers: IncomingMessage["headers"]) => ({ headers }) as IncomingMessage;
const alice = { id: "alice", email: "a@x.example", emailVerified: true, groups: ["g1", "g2"], provider: "p" };

describe("identity headers", () => {
  it("replaces spoofed headers, drops credentials and the proxy's cookies only", () => {
    const req = request({
      "x-user-id": "mallory",
      "x-user-groups": "admins",
      authorization: "Bearer x",
      cookie: "a=1; mcp_session=s%3Aabc.sig; mcp_login_abcdef=zzz; b=2",
    });
    identity.apply(req, alice, "rid-1");
    assert.equal(req.headers["x-user-id"], "alice");
    assert.equal(req.headers["x-user-groups"], "g1,g2");
    assert.equal(req.headers["x-request-id"], "rid-1");
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.headers.cookie, "a=1; b=2");
  });

  it("sends no identity for public paths, still stripping the spoofed one", () => {
    const req = request({ "x-user-id": "mallory", "x-auth-provider": "evil", cookie: "mcp_session=x" });
    identity.apply(req, undefined, "rid-2");
    assert.equal(req.headers["x-user-id"], undefined);
    assert.equal(req.headers["x-auth-provider"], undefined);
    assert.equal(req.headers.cookie, undefined);
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

  it("strips the configured names, not only the defaults", () => {
    const { config: custom } = loadConfig({ env: { AUTH_MODE: "bypass" }, flags: {} });
    custom.headers.user_id = "X-Remote-User";
    const renamed = new IdentityHeaders(custom.headers, "mcp_session");
    const req = request({ "x-remote-user": "mallory" });
    renamed.apply(req, alice, "r");
    assert.equal(req.headers["x-remote-user"], "alice");
    assert.equal(renamed.stripped.has("x-remote-user"), true);
  });
});
