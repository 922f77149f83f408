// Session stores behind one interface: express-session's memory store for a single
// instance, Redis (standalone, Sentinel or Cluster) through connect-redis for several.
import session from "express-session";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../observability/logger.ts";
import { type KeyValueStore, memoryKeyValue, type RedisCommands, redisKeyValue } from "./key-value.ts";
import type { RedisConnection } from "./redis-client.ts";

export interface SessionBackend {
  readonly kind: "memory" | "redis";
  readonly store: session.Store;
  /** Records besides sessions (the MCP authorization server's), in the same place. */
  readonly keyValue: KeyValueStore;
  /** False while the store cannot answer (Redis disconnected): readiness reports it. */
  isReady(): boolean;
  countSessions(): Promise<number>;
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
    isReady: () => true,
    countSessions,
    async close() {
      clearInterval(pruner);
      await keyValue.close();
    },
  };
}

async function redisBackend(connection: RedisConnection, config: Config): Promise<SessionBackend> {
  const { RedisStore } = await import("connect-redis");
  const store = new RedisStore({
    client: connection.client,
    prefix: config.redis.prefix,
    ttl: Math.ceil(config.session.ttl / 1000),
    // The cookie expires a fixed TTL after sign-in (no rolling), so extending the Redis TTL
    // on every request (an EXPIRE per request) would buy nothing.
    disableTouch: true,
  });
  return {
    kind: "redis",
    store,
    keyValue: redisKeyValue(connection.client as RedisCommands, config.redis.oauth_prefix),
    isReady: () => connection.isReady(),
    countSessions: () => callbackToPromise<number>((cb) => store.length(cb)),
    close: () => connection.close(),
  };
}

export async function createSessionBackend(config: Config, logger: Logger): Promise<SessionBackend> {
  if (config.session.store === "memory") return memoryBackend();
  // Loaded only with the Redis store: a single instance on the memory store does not carry them.
  const { connectRedis } = await import("./redis-client.ts");
  const connection = await connectRedis(config, logger);
  return redisBackend(connection, config);
}
