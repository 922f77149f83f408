// The note of which MCP clients a person connected (user-grants.ts) and its page: clients
// listed per person and per client, grants that ended left out, a revoke that touches the
// person's grants of one client only, nothing readable in the store, and the page escaping
// what clients registered.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderConnectedClientsPage } from "../../../../src/auth/authorization-server/connected-clients-page.ts";
import { MAX_GRANTS, UserGrants } from "../../../../src/auth/authorization-server/user-grants.ts";
import { memoryKeyValue } from "../../../../src/session/key-value.ts";

const loopback = "http://127.0.0.1:33418/callback";

/** UserGrants over a memory store, with the provider's grants as a map of grant id to account. */
function setUp() {
  const store = memoryKeyValue();
  const live = new Map<string, string>();
  let clock = 1_000_000;
  const grants = new UserGrants({
    store,
    secrets: ["test-secret"],
    ttlSeconds: 3600,
    isLiveGrantOf: async (grantId, accountId) => live.get(grantId) === accountId,
    endGrant: async (grantId) => {
      live.delete(grantId);
    },
    now: () => clock++,
  });
  const approve = async (accountId: string, grantId: string, clientId: string, redirectUri = loopback) => {
    live.set(grantId, accountId);
    await grants.add(accountId, { grantId, clientId, clientName: `name of ${clientId}`, redirectUri });
  };
  return { store, live, grants, approve };
}

describe("the clients a person connected", () => {
  it("lists each client once, with every redirect URI, the latest approval and when it last got tokens", async () => {
    const { grants, approve } = setUp();
    await approve("alice", "g1", "c1");
    await approve("alice", "g2", "c2");
    await approve("alice", "g3", "c1", "cursor://anysphere.cursor-mcp/oauth/callback");
    await grants.used("g1");
    const clients = await grants.clients("alice");
    assert.deepEqual(
      clients.map((c) => [c.clientId, c.grantIds, c.redirectUris]),
      [
        ["c1", ["g1", "g3"], [loopback, "cursor://anysphere.cursor-mcp/oauth/callback"]],
        ["c2", ["g2"], [loopback]],
      ],
    );
    assert.ok(clients[0]?.lastUsedAt !== undefined, "c1 got tokens");
    assert.equal(clients[1]?.lastUsedAt, undefined, "c2 never did");
  });

  it("leaves out grants that ended and grants the provider says are another person's", async () => {
    const { grants, approve, live } = setUp();
    await approve("alice", "g1", "c1");
    await approve("alice", "g2", "c2");
    live.delete("g1");
    live.set("g2", "bob");
    assert.deepEqual(await grants.clients("alice"), []);
  });

  it("a revoke ends the person's grants of that client only: not their other clients, not another person's", async () => {
    const { grants, approve, live } = setUp();
    await approve("alice", "g1", "c1");
    await approve("alice", "g2", "c1");
    await approve("alice", "g3", "c2");
    await approve("bob", "g4", "c1");
    assert.deepEqual((await grants.end("alice", "c1")).map((note) => note.grantId).sort(), ["g1", "g2"]);
    assert.deepEqual([...live.keys()].sort(), ["g3", "g4"]);
    assert.deepEqual(await grants.end("alice", "no-such-client"), []);
    assert.deepEqual(await grants.end("alice", "c1"), [], "already ended");
    assert.deepEqual(
      (await grants.end("alice")).map((note) => note.grantId),
      ["g3"],
    );
    assert.deepEqual([...live.keys()], ["g4"], "bob's grant of the same client stays");
  });

  it("keeps the notes sealed: the store shows no grant id, client id or redirect URI", async () => {
    const { store, approve } = setUp();
    await approve("alice", "grant-id-0123456789", "client-id-0123456789");
    const members = await store.members("grants-of:alice");
    assert.equal(members.length, 1);
    assert.doesNotMatch(members[0] ?? "", /grant-id|client-id|127\.0\.0\.1/);
  });
});

describe("the connected-clients page", () => {
  it("escapes the names and ids clients registered, and carries the CSRF token in each Revoke form", () => {
    const html = renderConnectedClientsPage({
      csrfToken: "csrf-token",
      userLabel: "<alice>",
      clients: [
        {
          clientId: '"><script>x</script>',
          clientName: "<b>Evil</b>",
          redirectUris: ["https://evil.example/<cb>"],
          approvedAt: Date.UTC(2026, 11, 2, 12, 30),
          lastUsedAt: undefined,
          grantIds: ["g1"],
        },
      ],
      revoked: "<i>old</i>",
    });
    assert.doesNotMatch(html, /<script>|<b>|<i>|<alice>/);
    assert.match(html, /&lt;b&gt;Evil&lt;\/b&gt;/);
    assert.match(html, /Approved 2026-12-02 12:30 UTC · last used never/);
    assert.match(html, /<input type="hidden" name="csrf" value="csrf-token">/);
  });

  it("says a pre-approved client connects again without asking, and an approved one without a grant comes back", () => {
    const client = { clientName: "App", redirectUris: [loopback], approvedAt: 0, lastUsedAt: undefined };
    const html = renderConnectedClientsPage({
      csrfToken: "t",
      userLabel: "alice",
      clients: [
        { ...client, clientId: "pre", grantIds: ["g1"], preapproved: true },
        { ...client, clientId: "signed-out", grantIds: [] },
        { ...client, clientId: "connected", grantIds: ["g2"] },
      ],
    });
    assert.match(
      html,
      /data-mcp-client="pre">[\s\S]*?data-mcp-preapproved=""[\s\S]*?connects again without asking you/,
    );
    assert.match(html, /data-mcp-client="signed-out">[\s\S]*?data-mcp-approved-only=""/);
    assert.doesNotMatch(html, /data-mcp-client="connected">[\s\S]*?data-mcp-(preapproved|approved-only)[\s\S]*?<\/li>/);
    assert.match(html, /unless your administrator pre-approved it/);
  });
});

describe("the size of a person's note set", () => {
  it("an approval past a few notes prunes those of ended grants, and a person keeps at most MAX_GRANTS live ones", async () => {
    const { store, live, grants, approve } = setUp();
    for (let i = 0; i < 30; i++) {
      await approve("alice", `ended-${i}`, "c1");
      live.delete(`ended-${i}`);
    }
    assert.ok((await store.members("grants-of:alice")).length <= 21, "ended grants' notes are pruned");
    for (let i = 0; i <= MAX_GRANTS; i++) await approve("alice", `g${i}`, "c1");
    assert.equal((await store.members("grants-of:alice")).length, MAX_GRANTS);
    assert.equal(live.has("g0"), false, "the oldest grant ended");
    assert.equal(live.has(`g${MAX_GRANTS}`), true, "the newest is live");
    assert.equal((await grants.clients("alice"))[0]?.grantIds.length, MAX_GRANTS);
  });
});
