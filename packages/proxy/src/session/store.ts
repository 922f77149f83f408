// Session stores behind one interface: express-session's memory store for a single
// instance, Redis (standalone, Sentinel or Cluster) through connect-redis for several.
// A Redis that fails or does not answer within session.store_timeout fails every call with
// the one "store unavailable" error (503 + Retry-After), wherever the call came from.
import session from "express-session";
import type { Config } from "../config/schema.ts";
import { storeUnavailable } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { type KeyValueStore, memoryKeyValue, type RedisCommands, redisKeyValue } from "./key-value.ts";
import type { RedisConnection } from "./redis-client.ts";
import { sealingTokens } from "./sealed-tokens.ts";
import { PROBE_WAIT_MS, StoreQuestion } from "./store-question.ts";

export interface SessionBackend {
  readonly kind: "memory" | "redis";
  readonly store: session.Store;
  /** Records besides sessions (the MCP authorization server's), in the same place. */
  readonly keyValue: KeyValueStore;
  /**
   * False while the store cannot answer (Redis down, or silent for a probe's wait): readiness
   * reports it. Never waits longer than PROBE_WAIT_MS (store-question.ts).
   */
  answers(): Promise<boolean>;
  /** Settles once the store was first reached (at once for memory; pending while Redis is down or silent at startup). */
  readonly connected: Promise<void>;
  /** Sessions in the store; the last count known when it does not answer within a probe's wait (undefined: none yet). */
  countSessions(): Promise<number | undefined>;
  close(): Promise<void>;
}

const MEMORY_PRUNE_INTERVAL_MS = 10 * 60 * 1000;

function callbackToPromise<T>(run: (cb: (err: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    run((err, value) => (err ? reject(err) : resolve(value as T)));
  });
}

function memoryBackend(): SessionBackend {
  const store = new session.MemoryStore();
  const countSessions = () =>
    // MemoryStore.length walks all sessions and drops the expired ones as it goes.
    callbackToPromise<number>((cb) => store.length(cb));
  const pruner = setInterval(() => void countSessions().catch(() => {}), MEMORY_PRUNE_INTERVAL_MS);
  pruner.unref();
  const keyValue = memoryKeyValue();
  return {
    kind: "memory",
    store,
    keyValue,
    answers: () => Promise.resolve(true),
    connected: Promise.resolve(),
    countSessions,
    async close() {
      clearInterval(pruner);
      await keyValue.close();
    },
  };
}

type Callback = (err?: unknown, ...results: unknown[]) => void;
const STORE_METHODS = ["get", "set", "destroy", "touch", "length", "all", "clear"] as const;

/** Rejects with the "store unavailable" error when `call` fails or has not settled within `timeoutMs`. */
export function withDeadline<T>(call: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([call, deadline])
    .catch((error: unknown) => {
      throw storeUnavailable(error);
    })
    .finally(() => clearTimeout(timer));
}

/**
 * The store with a deadline on every call: its callback gets the "store unavailable" error
 * when the store fails or does not answer in time (a late answer is then dropped).
 */
function failClosed(store: session.Store, timeoutMs: number): session.Store {
  const methods = store as unknown as Record<string, ((...args: unknown[]) => unknown) | undefined>;
  for (const name of STORE_METHODS) {
    const original = methods[name]?.bind(store);
    if (!original) continue;
    methods[name] = (...args: unknown[]) => {
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback !== "function") return original(...args);
      const answered = new Promise<unknown[]>((resolve, reject) => {
        args[last] = (err: unknown, ...results: unknown[]) => (err ? reject(err) : resolve(results));
      });
      original(...args);
      withDeadline(answered, timeoutMs).then(
        (results) => (callback as Callback)(null, ...results),
        (error: unknown) => (callback as Callback)(error),
      );
      return undefined;
    };
  }
  return store;
}

function failClosedKeyValue(store: KeyValueStore, timeoutMs: number): KeyValueStore {
  return {
    get: (key) => withDeadline(store.get(key), timeoutMs),
    set: (key, value, ttl) => withDeadline(store.set(key, value, ttl), timeoutMs),
    delete: (key) => withDeadline(store.delete(key), timeoutMs),
    claim: (key, value, ttl) => withDeadline(store.claim(key, value, ttl), timeoutMs),
    addToSet: (key, member, ttl) => withDeadline(store.addToSet(key, member, ttl), timeoutMs),
    members: (key) => withDeadline(store.members(key), timeoutMs),
    removeFromSet: (key, member) => withDeadline(store.removeFromSet(key, member), timeoutMs),
    close: () => store.close(),
  };
}

async function redisBackend(
  connection: RedisConnection,
  config: Config,
  secrets: readonly string[],
): Promise<SessionBackend> {
  const timeout = config.session.store_timeout;
  const probeWait = Math.min(timeout, PROBE_WAIT_MS);
  const { RedisStore } = await import("connect-redis");
  const store = new RedisStore({
    client: connection.client,
    prefix: config.redis.prefix,
    ttl: Math.ceil(config.session.ttl / 1000),
    // The cookie expires a fixed TTL after sign-in (no rolling), so extending the Redis TTL
    // on every request (an EXPIRE per request) would buy nothing.
    disableTouch: true,
  });
  const ping = new StoreQuestion(() => withDeadline(connection.ping(), timeout), probeWait);
  // store.length has the store's deadline: failClosed (below) wraps the store's own methods.
  const count = new StoreQuestion(() => callbackToPromise<number>((cb) => store.length(cb)), probeWait);
  return {
    kind: "redis",
    // The provider's tokens are sealed in the record (sealed-tokens.ts).
    store: failClosed(sealingTokens(store, secrets), timeout),
    keyValue: failClosedKeyValue(redisKeyValue(connection.client as RedisCommands, config.redis.oauth_prefix), timeout),
    answers: async () => (await ping.answer()) !== undefined,
    connected: connection.connected,
    countSessions: async () => (await count.answer()) ?? count.last,
    close: () => connection.close(),
  };
}

/** `secrets`: session.secret (current first), which seals the provider's tokens in Redis. */
export async function createSessionBackend(
  config: Config,
  logger: Logger,
  secrets: readonly string[],
): Promise<SessionBackend> {
  if (config.session.store === "memory") return memoryBackend();
  // Loaded only with the Redis store: a single instance on the memory store does not carry them.
  const { connectRedis } = await import("./redis-client.ts");
  // Returns at once: a Redis down or silent at startup leaves the store unavailable (503,
  // /readyz says so) until it answers, as at any other time.
  const connection = connectRedis(config, logger);
  return redisBackend(connection, config, secrets);
}
