// A small key-value interface with expiry, over the same store as the sessions: a Map for a
// single instance, Redis (standalone, Sentinel, Cluster) for several. The MCP authorization
// server keeps clients, grants, codes and tokens in it, so any replica answers any step.

export interface KeyValueStore {
  get(key: string): Promise<string | undefined>;
  /** ttlSeconds undefined or 0: kept until deleted. */
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Sets `key` to `value` only when it holds nothing: true for the one caller that set it,
   * false for every other, however many ask at once (Redis SET NX). What a single-use record
   * (a code, a refresh token) needs to be used once, a read then a write being a race.
   */
  claim(key: string, value: string, ttlSeconds?: number): Promise<boolean>;
  /** Adds a member to a set whose life is extended to at least ttlSeconds. */
  addToSet(key: string, member: string, ttlSeconds?: number): Promise<void>;
  members(key: string): Promise<string[]>;
  /** Takes one member out of a set (Redis SREM): one command, so a member added meanwhile stays. */
  removeFromSet(key: string, member: string): Promise<void>;
  close(): Promise<void>;
}

/** The node-redis commands used here; standalone, Sentinel and Cluster clients all have them. */
export interface RedisCommands {
  get(key: string): Promise<string | null>;
  set(
    key: string,
    value: string,
    options?: { expiration?: { type: "EX"; value: number }; condition?: "NX" },
  ): Promise<string | null>;
  del(key: string): Promise<number>;
  sAdd(key: string, member: string): Promise<number>;
  sMembers(key: string): Promise<string[]>;
  sRem(key: string, member: string): Promise<number>;
  expire(key: string, seconds: number, mode?: "GT" | "NX"): Promise<number>;
}

export function redisKeyValue(client: RedisCommands, prefix: string): KeyValueStore {
  const ttl = (seconds: number | undefined) =>
    seconds && seconds > 0 ? { expiration: { type: "EX" as const, value: Math.ceil(seconds) } } : undefined;
  return {
    async get(key) {
      return (await client.get(prefix + key)) ?? undefined;
    },
    async set(key, value, ttlSeconds) {
      const options = ttl(ttlSeconds);
      await (options ? client.set(prefix + key, value, options) : client.set(prefix + key, value));
    },
    async delete(key) {
      await client.del(prefix + key);
    },
    async claim(key, value, ttlSeconds) {
      // null when the key existed: SET NX is one command, so one caller wins.
      return (await client.set(prefix + key, value, { ...ttl(ttlSeconds), condition: "NX" })) !== null;
    },
    async addToSet(key, member, ttlSeconds) {
      await client.sAdd(prefix + key, member);
      if (ttlSeconds && ttlSeconds > 0) {
        // NX gives a new set its expiry, GT only ever lengthens it: the index outlives its members.
        await client.expire(prefix + key, Math.ceil(ttlSeconds), "NX");
        await client.expire(prefix + key, Math.ceil(ttlSeconds), "GT");
      }
    },
    members: (key) => client.sMembers(prefix + key),
    async removeFromSet(key, member) {
      await client.sRem(prefix + key, member);
    },
    // The connection belongs to the session store, which closes it.
    close: async () => {},
  };
}

interface Entry {
  value: string | Set<string>;
  expiresAt: number;
}

const PRUNE_INTERVAL_MS = 60_000;

export function memoryKeyValue(now: () => number = Date.now): KeyValueStore {
  const entries = new Map<string, Entry>();
  const expiry = (ttlSeconds: number | undefined) =>
    ttlSeconds && ttlSeconds > 0 ? now() + ttlSeconds * 1000 : Number.POSITIVE_INFINITY;
  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const pruner = setInterval(() => {
    for (const key of entries.keys()) live(key);
  }, PRUNE_INTERVAL_MS);
  pruner.unref();
  return {
    async get(key) {
      const value = live(key)?.value;
      return typeof value === "string" ? value : undefined;
    },
    async set(key, value, ttlSeconds) {
      entries.set(key, { value, expiresAt: expiry(ttlSeconds) });
    },
    async delete(key) {
      entries.delete(key);
    },
    async claim(key, value, ttlSeconds) {
      // No await between the test and the set: one event-loop turn, so one caller wins.
      if (live(key)) return false;
      entries.set(key, { value, expiresAt: expiry(ttlSeconds) });
      return true;
    },
    async addToSet(key, member, ttlSeconds) {
      const entry = live(key);
      const set = entry?.value instanceof Set ? entry.value : new Set<string>();
      set.add(member);
      entries.set(key, { value: set, expiresAt: Math.max(entry?.expiresAt ?? 0, expiry(ttlSeconds)) });
    },
    async members(key) {
      const value = live(key)?.value;
      return value instanceof Set ? [...value] : [];
    },
    async removeFromSet(key, member) {
      const value = live(key)?.value;
      if (value instanceof Set) value.delete(member);
    },
    async close() {
      clearInterval(pruner);
    },
  };
}
