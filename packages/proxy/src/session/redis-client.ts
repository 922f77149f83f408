// One Redis connection for the proxy, in the topology the config names. Commands fail
// fast while disconnected (no offline queue), so requests answer 503 instead of hanging
// (the deadline on a connected Redis that does not answer is the session store's, store.ts);
// the client reconnects on its own with capped backoff. node-redis's core package: the
// `redis` package adds the commands of the search, JSON, time-series and Bloom modules
// (~1.5 MiB resident, decision 026), which sessions do not use.
import { createClient, createCluster, createSentinel } from "@redis/client";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../observability/logger.ts";

export interface RedisConnection {
  /** The node-redis client handed to connect-redis. */
  client: unknown;
  /** PING (every master of a cluster). */
  ping(): Promise<unknown>;
  close(): Promise<void>;
}

const MAX_RECONNECT_DELAY_MS = 5000;
const MAX_PENDING_COMMANDS = 10_000;
const reconnectStrategy = (retries: number) => Math.min(100 * 2 ** retries, MAX_RECONNECT_DELAY_MS);

/**
 * How long shutdown waits for Redis to answer what is pending (close() waits for every
 * reply) before the connection is dropped: a Redis that hangs would otherwise hold the pod
 * until it is killed.
 */
const CLOSE_DEADLINE_MS = 2000;

/** close(), or destroy() once the deadline passed without it. */
function closing(client: { close(): Promise<void>; destroy(): void | Promise<void> }): () => Promise<void> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(resolve, CLOSE_DEADLINE_MS, "late");
    });
    const closed = client.close().catch(() => undefined);
    const outcome = await Promise.race([closed, late]);
    clearTimeout(timer);
    if (outcome === "late") await client.destroy();
  };
}

function parseNode(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(":");
  return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
}

export async function connectRedis(config: Config, logger: Logger): Promise<RedisConnection> {
  const { redis } = config;
  let lastErrorLog = 0;
  const onError = (error: Error) => {
    // A down Redis emits an error per reconnect attempt; one line every 10 s is enough.
    const now = Date.now();
    if (now - lastErrorLog > 10_000) {
      lastErrorLog = now;
      logger.error("redis connection error", { error: error.message, mode: redis.mode });
    }
  };
  const socket = { connectTimeout: redis.connect_timeout, reconnectStrategy };
  // Commands waiting on a Redis that stopped answering are bounded: past this many, new ones
  // fail at once ("The queue is full") instead of piling up.
  const commandsQueueMaxLength = MAX_PENDING_COMMANDS;
  const auth = redis.password ? { password: redis.password } : {};

  if (redis.mode === "cluster") {
    const cluster = createCluster({
      rootNodes: redis.nodes.map((node) => ({ socket: parseNode(node) })),
      defaults: { ...auth, socket, disableOfflineQueue: true, commandsQueueMaxLength },
    });
    cluster.on("error", onError);
    await cluster.connect();
    // Every master must answer: a key on a silent one would hang otherwise.
    const ping = () => Promise.all(cluster.masters.map(async (m) => (await cluster.nodeClient(m)).ping()));
    return { client: cluster, ping, close: closing(cluster) };
  }
  if (redis.mode === "sentinel") {
    const sentinel = createSentinel({
      name: redis.sentinel_name,
      sentinelRootNodes: redis.nodes.map(parseNode),
      nodeClientOptions: { ...auth, socket, disableOfflineQueue: true, commandsQueueMaxLength },
    });
    sentinel.on("error", onError);
    await sentinel.connect();
    return { client: sentinel, ping: () => sentinel.ping(), close: closing(sentinel) };
  }
  const client = createClient({ url: redis.url, ...auth, socket, disableOfflineQueue: true, commandsQueueMaxLength });
  client.on("error", onError);
  client.on("ready", () => logger.info("redis connected", { mode: "standalone" }));
  await client.connect();
  return { client, ping: () => client.ping(), close: closing(client) };
}
