// The hot path's session reader (session/session-reader.ts): express-session's signed cookie,
// every configured secret (rotation), the store behind it and the cache in front of it.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { sign } from "cookie-signature";
import { MemoryStore, type SessionData } from "express-session";
import { SessionCache } from "../../../src/session/session-cache.ts";
import { SessionReader } from "../../../src/session/session-reader.ts";

const OLD = "o".repeat(32);
const NEW = "n".repeat(32);

const withCookie = (cookie: string | undefined) =>
  ({ headers: cookie === undefined ? {} : { cookie } }) as unknown as IncomingMessage;
const cookieFor = (id: string, secret: string) => `mcp_session=${encodeURIComponent(`s:${sign(id, secret)}`)}`;

async function storeWith(id: string): Promise<MemoryStore> {
  const store = new MemoryStore();
  const data = { cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000) } } as unknown as SessionData;
  await new Promise<void>((resolve, reject) => store.set(id, data, (err) => (err ? reject(err) : resolve())));
  return store;
}

describe("session reader", () => {
  it("reads a session whose cookie is signed with any configured secret, and no other", async () => {
    const store = await storeWith("sid-1");
    const reader = new SessionReader({ cookieName: "mcp_session", secrets: [NEW, OLD], store });
    assert.equal((await reader.read(withCookie(cookieFor("sid-1", NEW))))?.id, "sid-1");
    assert.equal((await reader.read(withCookie(cookieFor("sid-1", OLD))))?.id, "sid-1", "an older secret still reads");
    assert.equal(await reader.read(withCookie(cookieFor("sid-1", "x".repeat(32)))), undefined);
    assert.equal(await reader.read(withCookie("mcp_session=sid-1")), undefined, "an unsigned cookie is nobody");
    assert.equal(await reader.read(withCookie(undefined)), undefined);
  });

  it("answers from its cache until the session is forgotten, then asks the store", async () => {
    let now = 0;
    const store = await storeWith("sid-2");
    const cache = new SessionCache({ ttlMs: 1_000, now: () => now });
    const reader = new SessionReader({ cookieName: "mcp_session", secrets: [NEW], store, cache });
    const req = withCookie(cookieFor("sid-2", NEW));
    assert.equal((await reader.read(req))?.id, "sid-2");
    await new Promise<void>((resolve) => store.destroy("sid-2", () => resolve()));
    assert.equal((await reader.read(req))?.id, "sid-2", "within the cache TTL the cached session answers");
    reader.forget("sid-2");
    assert.equal(await reader.read(req), undefined, "forgotten: the store says it is gone");
    now = 2_000;
    assert.equal(await reader.read(req), undefined);
  });

  it("ends a session in the store and in its cache at once", async () => {
    const store = await storeWith("sid-3");
    const reader = new SessionReader({
      cookieName: "mcp_session",
      secrets: [NEW],
      store,
      cache: new SessionCache({ ttlMs: 60_000 }),
    });
    const req = withCookie(cookieFor("sid-3", NEW));
    assert.ok(await reader.read(req));
    await reader.destroy("sid-3");
    assert.equal(await reader.read(req), undefined);
  });

  // Streams of one browser, re-checked together when the cache entry expired, each read the
  // store (a review of session 8): one read now, shared.
  it("reads a session once for requests that ask for it at the same time, and keeps nothing forgotten meanwhile", async () => {
    const store = await storeWith("sid-4");
    let reads = 0;
    const get = store.get.bind(store);
    store.get = (id, callback) => {
      reads++;
      setImmediate(() => get(id, callback));
    };
    const reader = new SessionReader({
      cookieName: "mcp_session",
      secrets: [NEW],
      store,
      cache: new SessionCache({ ttlMs: 60_000 }),
    });
    const req = withCookie(cookieFor("sid-4", NEW));
    const sessions = await Promise.all(Array.from({ length: 20 }, () => reader.read(req)));
    assert.ok(sessions.every((session) => session?.id === "sid-4"));
    assert.equal(reads, 1, "one store read for twenty requests");
    reader.forget("sid-4");
    const during = reader.read(req);
    reader.forget("sid-4"); // signed out while the read was under way
    assert.equal((await during)?.id, "sid-4", "the read answers what it found");
    await reader.read(req);
    assert.equal(reads, 3, "but did not keep it: the next request reads again");
  });
});
