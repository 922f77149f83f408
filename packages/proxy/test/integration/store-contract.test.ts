// One contract for every session backend (session/store.ts): its express-session store and
// its key-value store behave alike on the memory backend and on a real redis-server, so what
// the proxy and its authorization server rely on holds wherever they run.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { SessionData, Store } from "express-session";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createSessionBackend, type SessionBackend } from "../../src/session/store.ts";
import { startRedis, type TestRedis } from "../support/redis-server.ts";

const SECRET = "s".repeat(32);
const OIDC = { OIDC_DISCOVERY_URL: "http://127.0.0.1:1/", OIDC_CLIENT_ID: "proxy", SESSION_SECRET: SECRET };

const call = <T>(run: (cb: (err: unknown, value?: T) => void) => void) =>
  new Promise<T | undefined>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));

function sessionData(user: string): SessionData {
  return { cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000) }, user } as unknown as SessionData;
}

function contract(name: string, open: () => Promise<SessionBackend>) {
  describe(`session backend contract: ${name}`, () => {
    let backend: SessionBackend;
    let store: Store;
    before(async () => {
      backend = await open();
      store = backend.store;
    });
    after(() => backend.close());

    it("answers, and keeps a session until it is destroyed", async () => {
      assert.equal(await backend.answers(), true);
      const id = randomUUID();
      await call((cb) => store.set(id, sessionData("alice"), cb));
      const read = await call<SessionData | null>((cb) => store.get(id, cb));
      assert.equal((read as unknown as { user: string }).user, "alice");
      assert.ok(((await backend.countSessions()) ?? 0) >= 1);
      await call((cb) => store.destroy(id, cb));
      assert.equal((await call<SessionData | null>((cb) => store.get(id, cb))) ?? undefined, undefined);
    });

    it("keeps key-value records until deleted; an unknown key is undefined", async () => {
      const kv = backend.keyValue;
      const key = `contract:${randomUUID()}`;
      assert.equal(await kv.get(key), undefined);
      await kv.set(key, "one", 60);
      assert.equal(await kv.get(key), "one");
      await kv.set(key, "two");
      assert.equal(await kv.get(key), "two", "a set replaces the value");
      await kv.delete(key);
      assert.equal(await kv.get(key), undefined);
    });

    it("lets one of many callers claiming a key at once have it, until it expires or is deleted", async () => {
      const kv = backend.keyValue;
      const key = `contract-claim:${randomUUID()}`;
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => kv.claim(key, String(i), 60)));
      assert.equal(claims.filter(Boolean).length, 1, "exactly one claim wins");
      assert.equal(await kv.get(key), String(claims.indexOf(true)), "the winner's value is kept");
      assert.equal(await kv.claim(key, "late", 60), false);
      await kv.delete(key);
      assert.equal(await kv.claim(key, "again", 60), true);
    });

    it("collects set members once each, takes one out, and forgets the set when deleted", async () => {
      const kv = backend.keyValue;
      const key = `contract-set:${randomUUID()}`;
      assert.deepEqual(await kv.members(key), []);
      await kv.addToSet(key, "a", 60);
      await kv.addToSet(key, "b", 30);
      await kv.addToSet(key, "a", 60);
      assert.deepEqual((await kv.members(key)).sort(), ["a", "b"]);
      await kv.removeFromSet(key, "a");
      await kv.removeFromSet(key, "not a member");
      assert.deepEqual(await kv.members(key), ["b"]);
      await kv.delete(key);
      assert.deepEqual(await kv.members(key), []);
    });
  });
}

contract("memory", () =>
  createSessionBackend(loadConfig({ env: OIDC }).config, createLogger("error", "json"), [SECRET]),
);

let redis: TestRedis | undefined;
contract("redis", async () => {
  redis = await startRedis();
  const config = loadConfig({ env: { ...OIDC, SESSION_STORE: "redis", REDIS_URL: redis.url } }).config;
  const backend = await createSessionBackend(config, createLogger("error", "json"), [SECRET]);
  // The connection is made in the background (a Redis down at startup leaves the store unavailable).
  await backend.connected;
  return {
    ...backend,
    close: async () => {
      await backend.close();
      await redis?.close();
    },
  };
});
