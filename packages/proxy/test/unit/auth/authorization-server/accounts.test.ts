// A person's approvals (accounts.ts): remembered per exact redirect URI, forgotten all at
// once by a revoke whatever the redirect URI, listed per client, and unreadable in the store.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AccountDirectory } from "../../../../src/auth/authorization-server/accounts.ts";
import { memoryKeyValue } from "../../../../src/session/key-value.ts";

const [atA, atB] = ["http://127.0.0.1:1234/a", "https://app.example/b"];

describe("a person's approvals of MCP clients", () => {
  it("a revoke forgets the client's approvals at every redirect URI, and no other client's or person's", async () => {
    const accounts = new AccountDirectory(memoryKeyValue(), 3600, ["secret"]);
    await accounts.rememberConsent("alice", "c1", atA, ["mcp"]);
    await accounts.rememberConsent("alice", "c1", atB, ["mcp"]);
    await accounts.rememberConsent("alice", "c2", atA, ["mcp"]);
    await accounts.rememberConsent("bob", "c1", atA, ["mcp"]);
    assert.deepEqual(
      (await accounts.approvals("alice")).map((approval) => [approval.clientId, approval.redirectUris.sort()]).sort(),
      [
        ["c1", [atA, atB].sort()],
        ["c2", [atA]],
      ],
    );
    assert.equal(await accounts.forgetConsents("alice", "c1"), true);
    assert.equal(await accounts.hasConsented("alice", "c1", atA, ["mcp"]), false, "at A");
    assert.equal(await accounts.hasConsented("alice", "c1", atB, ["mcp"]), false, "at B");
    assert.equal(await accounts.hasConsented("alice", "c2", atA, ["mcp"]), true, "her other client");
    assert.equal(await accounts.hasConsented("bob", "c1", atA, ["mcp"]), true, "bob's approval");
    assert.deepEqual(
      (await accounts.approvals("alice")).map((approval) => approval.clientId),
      ["c2"],
    );
    assert.equal(await accounts.forgetConsents("alice", "c1"), false, "nothing left to forget");
  });

  it("keeps approvals unreadable in the store: no person, client id or redirect URI", async () => {
    const store = memoryKeyValue();
    const accounts = new AccountDirectory(store, 3600, ["secret"]);
    await accounts.rememberConsent("alice", "client-one", atB, ["mcp"]);
    const keys: string[] = [];
    const original = store.set.bind(store);
    const dump: string[] = [];
    store.set = async (key, value, ttl) => {
      dump.push(key, value);
      return original(key, value, ttl);
    };
    const add = store.addToSet.bind(store);
    store.addToSet = async (key, member, ttl) => {
      keys.push(key, member);
      return add(key, member, ttl);
    };
    await accounts.rememberConsent("alice", "client-one", atA, ["mcp"]);
    for (const text of [...dump, ...keys]) {
      for (const secret of ["alice", "client-one", "127.0.0.1", "app.example"]) {
        assert.ok(!text.includes(secret), `${secret} in ${text}`);
      }
    }
  });
});
