// The one bounded TTL cache (ttl-cache.ts) behind the session cache, both token verifiers and
// the MCP session binding, on an injected clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TtlCache } from "../../src/ttl-cache.ts";

describe("TtlCache", () => {
  it("keeps an entry for the TTL and not a millisecond longer", () => {
    let now = 1_000;
    const cache = new TtlCache<string>({ ttlMs: 100, now: () => now });
    cache.set("a", "x");
    now = 1_099;
    assert.equal(cache.get("a"), "x");
    now = 1_100;
    assert.equal(cache.get("a"), undefined);
    assert.equal(cache.size, 0, "an expired entry is dropped when read");
  });

  it("never keeps an entry past its own expiry when that comes first (a token's exp)", () => {
    let now = 0;
    const cache = new TtlCache<string>({ ttlMs: 60_000, now: () => now });
    cache.set("token", "verified", 500);
    now = 499;
    assert.equal(cache.get("token"), "verified");
    now = 500;
    assert.equal(cache.get("token"), undefined);
  });

  it("caches nothing with a TTL of 0", () => {
    const cache = new TtlCache<string>({ ttlMs: 0 });
    cache.set("a", "x");
    assert.equal(cache.get("a"), undefined);
    assert.equal(cache.size, 0);
  });

  it("drops the oldest entry when full; setting a key again makes it the newest", () => {
    const cache = new TtlCache<number>({ ttlMs: 1_000, maxEntries: 2, now: () => 0 });
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("a", 3);
    cache.set("c", 4);
    assert.equal(cache.get("b"), undefined, "b was the oldest");
    assert.equal(cache.get("a"), 3);
    assert.equal(cache.get("c"), 4);
    assert.equal(cache.size, 2);
  });

  it("forgets one key, or every entry whose value matches (an ended session or revoked grant)", () => {
    const cache = new TtlCache<{ grant: string }>({ ttlMs: 1_000, now: () => 0 });
    cache.set("t1", { grant: "g1" });
    cache.set("t2", { grant: "g1" });
    cache.set("t3", { grant: "g2" });
    cache.deleteWhere((entry) => entry.grant === "g1");
    cache.delete("t3");
    assert.equal(cache.size, 0);
  });

  it("loads a value once for callers asking at the same time, and keeps it", async () => {
    const cache = new TtlCache<string>({ ttlMs: 1_000 });
    let loads = 0;
    let answer: (value: { value: string }) => void = () => {};
    const load = () => {
      loads++;
      return new Promise<{ value: string }>((resolve) => {
        answer = resolve;
      });
    };
    const asked = Array.from({ length: 20 }, () => cache.getOrLoad("token", load));
    answer({ value: "verified" });
    assert.deepEqual(await Promise.all(asked), Array(20).fill("verified"));
    assert.equal(await cache.getOrLoad("token", load), "verified");
    assert.equal(loads, 1);
  });

  it("shares a load's failure with its callers and keeps nothing of it", async () => {
    const cache = new TtlCache<string>({ ttlMs: 1_000 });
    let loads = 0;
    const failing = async () => {
      loads++;
      throw new Error("store down");
    };
    const asked = [cache.getOrLoad("token", failing), cache.getOrLoad("token", failing)];
    for (const each of asked) await assert.rejects(each, /store down/);
    assert.equal(loads, 1);
    assert.equal(await cache.getOrLoad("token", async () => ({ value: "later" })), "later");
  });

  it("keeps nothing of a load under way when its key is deleted meanwhile (a revoke), nor of any at a deleteWhere", async () => {
    const cache = new TtlCache<string>({ ttlMs: 1_000 });
    for (const forget of [() => cache.delete("token"), () => cache.deleteWhere(() => false)]) {
      let answer: (value: { value: string }) => void = () => {};
      const loading = cache.getOrLoad("token", () => new Promise((resolve) => (answer = resolve)));
      forget();
      answer({ value: "read before the revoke" });
      assert.equal(await loading, "read before the revoke");
      assert.equal(cache.get("token"), undefined);
    }
  });

  it("shares loads under way even with a TTL of 0, and keeps nothing after", async () => {
    const cache = new TtlCache<string>({ ttlMs: 0 });
    let loads = 0;
    const load = async () => ({ value: String(++loads) });
    assert.deepEqual(await Promise.all([cache.getOrLoad("k", load), cache.getOrLoad("k", load)]), ["1", "1"]);
    assert.equal(await cache.getOrLoad("k", load), "2");
  });
});
