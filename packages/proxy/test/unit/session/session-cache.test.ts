import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SessionData } from "express-session";
import { SessionCache } from "../../../src/session/session-cache.ts";

const data = (id: string) => ({ user: { id } }) as unknown as SessionData;

describe("session cache", () => {
  it("serves an entry until its TTL, then forgets it", () => {
    let now = 0;
    const cache = new SessionCache({ ttlMs: 2000, now: () => now });
    cache.set("s:a.sig", "a", data("alice"));
    now = 1999;
    assert.equal(cache.get("s:a.sig")?.id, "a");
    now = 2000;
    assert.equal(cache.get("s:a.sig"), undefined);
  });

  it("forgets every entry of a deleted session at once and caches nothing with a TTL of 0", () => {
    const cache = new SessionCache({ ttlMs: 2000 });
    cache.set("s:a.sig1", "a", data("alice"));
    cache.set("s:a.sig2", "a", data("alice"));
    cache.delete("a");
    assert.equal(cache.get("s:a.sig1"), undefined);
    assert.equal(cache.get("s:a.sig2"), undefined);
    const off = new SessionCache({ ttlMs: 0 });
    off.set("s:a.sig", "a", data("alice"));
    assert.equal(off.get("s:a.sig"), undefined);
  });

  it("drops the oldest entry when full", () => {
    const cache = new SessionCache({ ttlMs: 60_000, maxEntries: 2 });
    cache.set("1", "a", data("a"));
    cache.set("2", "b", data("b"));
    cache.set("3", "c", data("c"));
    assert.equal(cache.get("1"), undefined);
    assert.ok(cache.get("2"));
    assert.ok(cache.get("3"));
  });
});
