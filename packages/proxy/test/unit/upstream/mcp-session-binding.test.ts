import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { memoryKeyValue } from "../../../src/session/key-value.ts";
import { endpointOf, McpSessionBinding } from "../../../src/upstream/mcp-session-binding.ts";

const alice = { provider: "https://id.example", user: "alice" };
const HOUR = 3_600_000;

function binding() {
  let now = 1_000_000;
  const clock = {
    advance: (ms: number) => {
      now += ms;
    },
  };
  const store = memoryKeyValue(() => now);
  const sessions = new McpSessionBinding({ store, ttlMs: HOUR, cacheTtlMs: 0, now: () => now });
  return { sessions, clock, store };
}

describe("MCP session binding", () => {
  it("admits the owner only: not another user, not the same user through another client or provider", async () => {
    const { sessions } = binding();
    await sessions.bind("s1", { ...alice, client: "c1" });
    assert.equal(await sessions.admits("s1", { ...alice, client: "c1" }), true);
    assert.equal(await sessions.admits("s1", alice), false);
    assert.equal(await sessions.admits("s1", { ...alice, client: "c2" }), false);
    assert.equal(await sessions.admits("s1", { provider: "https://id.example", user: "bob", client: "c1" }), false);
    assert.equal(
      await sessions.admits("s1", { provider: "https://other.example", user: "alice", client: "c1" }),
      false,
    );
    assert.equal(await sessions.admits("unknown", alice), false);
  });

  it("records the endpoint a session is pinned to, keeps it when extended, and counts sessions per endpoint", async () => {
    const { sessions, clock } = binding();
    await sessions.bind("s1", alice, "http://10.0.0.1:3000/");
    await sessions.bind("s2", alice, "http://10.0.0.1:3000/");
    await sessions.bind("s3", alice);
    assert.deepEqual(await sessions.admission("s1", alice), {
      admitted: true,
      bound: "s1",
      endpoint: "http://10.0.0.1:3000/",
    });
    assert.deepEqual(await sessions.admission("s1", { ...alice, user: "bob" }), { admitted: false });
    assert.equal((await sessions.admission("s3", alice)).endpoint, undefined);
    clock.advance(0.6 * HOUR);
    assert.equal((await sessions.admission("s1", alice)).endpoint, "http://10.0.0.1:3000/", "kept when extended");
    assert.deepEqual(sessions.pinnedCounts(), new Map([["http://10.0.0.1:3000/", 2]]));
    await sessions.release("s1");
    clock.advance(0.6 * HOUR);
    assert.deepEqual(sessions.pinnedCounts(), new Map(), "released and expired sessions leave the count");
  });

  it("expires after the TTL unless used; use extends it", async () => {
    const { sessions, clock } = binding();
    await sessions.bind("used", alice);
    await sessions.bind("idle", alice);
    clock.advance(0.6 * HOUR);
    assert.equal(await sessions.admits("used", alice), true); // past half its life: extended
    clock.advance(0.6 * HOUR);
    assert.equal(await sessions.admits("idle", alice), false);
    assert.equal(await sessions.admits("used", alice), true);
  });

  it("binds the id the MCP server hands out, and forgets it after DELETE or the server's 404", async () => {
    const { sessions } = binding();
    await sessions.afterResponse(alice, "POST", undefined)(200, { "mcp-session-id": "s2" });
    assert.equal(await sessions.admits("s2", alice), true);
    await sessions.afterResponse(alice, "DELETE", "s2")(200, {});
    assert.equal(await sessions.admits("s2", alice), false);
    await sessions.bind("s3", alice);
    await sessions.afterResponse(alice, "POST", "s3")(404, {});
    assert.equal(await sessions.admits("s3", alice), false);
  });

  it("HTTP+SSE transport: binds the endpoint event's whole address; on a message path every other address is refused", async () => {
    const { sessions } = binding();
    const chunk = Buffer.from("event: endpoint\ndata: /messages?sessionId=abc-123\n\n");
    assert.equal(endpointOf(chunk), "/messages?sessionId=abc-123");
    assert.equal(endpointOf(Buffer.from(": ping\n\n")), undefined);
    const bob = { ...alice, user: "bob" };
    assert.equal(await sessions.admitsLegacy("/messages?sessionId=abc-123", bob), true); // no message path yet
    await sessions.beforeFirstEvent(alice)(chunk);
    assert.equal(await sessions.admitsLegacy("/messages?sessionId=abc-123", alice), true);
    for (const url of [
      "/messages?sessionId=abc-123",
      "/messages?%73essionId=abc-123",
      "/messages?session%49d=abc-123",
      "/MESSAGES/?sessionId=abc-123",
      "/m%65ssages?sessionId=abc-123",
      "//messages?sessionId=abc-123",
    ]) {
      assert.equal(await sessions.admitsLegacy(url, alice), true, url);
      assert.equal(await sessions.admitsLegacy(url, bob), false, url);
    }
    for (const url of ["/messages?sessionId=never-seen", "/messages", "/messages?sessionId=abc-123&x=1"])
      assert.equal(await sessions.admitsLegacy(url, alice), false, url);
    assert.equal(await sessions.admitsLegacy("/mcp", bob), true);
  });

  it("HTTP+SSE transport: a path below a message path is one too (segment-wise); the root covers only itself", async () => {
    const { sessions } = binding();
    const bob = { ...alice, user: "bob" };
    await sessions.beforeFirstEvent(alice)(
      Buffer.from("event: endpoint\ndata: /messages/?session_id=0123456789abcdef01\n\n"),
    );
    for (const url of ["/messages/x?session_id=0123456789abcdef01", "/Messages/x/y?session_id=0123456789abcdef01"]) {
      assert.equal(await sessions.admitsLegacy(url, bob), false, url);
      assert.equal(await sessions.admitsLegacy(url, alice), false, `${url}: no address handed out`);
    }
    assert.equal(await sessions.admitsLegacy("/messagesx?y=1", bob), true, "not below it: another segment");
    const deep = `/${Array.from({ length: 12 }, (_, i) => `s${i}`).join("/")}`;
    await sessions.beforeFirstEvent(alice)(Buffer.from(`event: endpoint\ndata: ${deep}?sessionId=d\n\n`));
    assert.equal(await sessions.admitsLegacy(`${deep}/x`, bob), true, "past 8 segments: matched exactly only");
    assert.equal(await sessions.admitsLegacy(`${deep}?sessionId=d`, bob), false);
    await sessions.beforeFirstEvent(alice)(Buffer.from("event: endpoint\ndata: /?sessionId=s\n\n"));
    assert.equal(await sessions.admitsLegacy("/mcp", bob), true, "the root is no prefix of every path");
  });

  it("HTTP+SSE transport: a session parameter is refused to others wherever it is aimed, unless handed to two owners", async () => {
    const { sessions } = binding();
    const bob = { ...alice, user: "bob" };
    const id = "0123456789abcdef0123";
    await sessions.beforeFirstEvent(alice)(Buffer.from(`event: endpoint\ndata: /messages?sessionId=${id}&v=1\n\n`));
    assert.equal(
      await sessions.requestAdmission(`/elsewhere?sessionId=${id}`, undefined, alice).then((a) => a.admitted),
      true,
    );
    assert.equal(await sessions.admitsLegacy(`/elsewhere?sessionId=${id}`, bob), false);
    assert.equal(await sessions.admitsLegacy(`/mcp?x=${id}`, bob), true, "the name is part of it");
    assert.equal(await sessions.admitsLegacy("/elsewhere?v=1", bob), true, "a short value is no session id");
    assert.equal(sessions.admitsAtOnce("/elsewhere?v=1", undefined), false, "unknown path: the store is asked");
    const many = Array.from({ length: 17 }, (_, i) => `p${i}=${"x".repeat(16)}`).join("&");
    assert.equal(await sessions.admitsLegacy(`/elsewhere?${many}`, alice), false, "more than 16 long values: refused");
    const shared = "tenant-acme-corporation";
    await sessions.beforeFirstEvent(alice)(
      Buffer.from(`event: endpoint\ndata: /messages?sessionId=a${id}&t=${shared}\n\n`),
    );
    assert.equal(await sessions.admitsLegacy(`/x?t=${shared}`, bob), false);
    await sessions.beforeFirstEvent(bob)(
      Buffer.from(`event: endpoint\ndata: /messages?sessionId=b${id}&t=${shared}\n\n`),
    );
    assert.equal(await sessions.admitsLegacy(`/x?t=${shared}`, { ...alice, user: "carol" }), true, "shared: nobody's");
  });

  it("an Mcp-Session-Id of one's own does not open another's HTTP+SSE address; a foreign one is refused anywhere", async () => {
    const { sessions } = binding();
    const bob = { ...alice, user: "bob" };
    await sessions.bind("bob-session", bob);
    await sessions.beforeFirstEvent(alice)(Buffer.from("event: endpoint\ndata: /messages?sessionId=abc-123\n\n"));
    assert.equal((await sessions.requestAdmission("/messages?sessionId=abc-123", "bob-session", bob)).admitted, false);
    assert.equal((await sessions.requestAdmission("/messages?sessionId=abc-123", undefined, alice)).admitted, true);
    assert.equal((await sessions.requestAdmission("/mcp", "bob-session", alice)).admitted, false);
    assert.equal((await sessions.requestAdmission("/mcp", "bob-session", bob)).admitted, true);
  });

  it("HTTP+SSE transport: reads the first event across chunks; a first event past 64 KiB is refused (the stream is cut)", async () => {
    const { sessions } = binding();
    const first = sessions.beforeFirstEvent(alice);
    assert.equal(await first(Buffer.from(": comment\n\nevent: endpoint\n")), false);
    assert.equal(await first(Buffer.from("data: /split?sessionId=s-1\n\n")), true);
    assert.equal(await sessions.admitsLegacy("/split?sessionId=s-1", { ...alice, user: "bob" }), false);
    const endless = sessions.beforeFirstEvent(alice);
    assert.equal(await endless(Buffer.from(`data: ${"x".repeat(60_000)}`)), false);
    await assert.rejects(endless(Buffer.from("x".repeat(10_000))));
  });

  it("a Redis round trip per proxied request: a path no endpoint event announced is remembered for session.cache_ttl", async () => {
    let now = 1_000_000;
    const store = memoryKeyValue(() => now);
    let reads = 0;
    const counting = {
      ...store,
      get: (key: string) => {
        reads++;
        return store.get(key);
      },
    };
    const sessions = new McpSessionBinding({ store: counting, ttlMs: HOUR, cacheTtlMs: 2_000, now: () => now });
    for (let i = 0; i < 3; i++) assert.equal(await sessions.admitsLegacy("/whoami", alice), true);
    assert.equal(reads, 1, "one store read for three requests within the cache TTL");
    now += 2_001;
    assert.equal(await sessions.admitsLegacy("/whoami", alice), true);
    assert.equal(reads, 2, "asked again once the remembered answer is older than the TTL");

    // Another replica announces /whoami as a message path: here it holds once the TTL passed.
    const other = new McpSessionBinding({ store, ttlMs: HOUR, cacheTtlMs: 2_000, now: () => now });
    await other.beforeFirstEvent({ provider: alice.provider, user: "carol" })(
      Buffer.from("event: endpoint\ndata: /whoami?sessionId=c1\n\n"),
    );
    now += 2_001;
    assert.equal(await sessions.admitsLegacy("/whoami?sessionId=c1", alice), false);
  });

  it("answers 503 when the store fails, never a pass", async () => {
    const { sessions, store } = binding();
    store.get = () => Promise.reject(new Error("down"));
    await assert.rejects(sessions.admits("s1", alice), { status: 503 });
  });
});
