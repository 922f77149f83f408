// One Redis connection for the proxy, in the topology the config names. Commands fail
// fast while disconnected (no offline queue), so requests answer 503 instead of hanging
// (the deadline on a connected Redis that does not answer is the session store's, store.ts);
// the client reconnects on its own with capped backoff, also from a connection silent for
// redis.connect_timeout, its handshake included (decision 044). The connection is made in the
// background: a Redis that is down or silent at startup keeps the proxy unready, never
// unstarted (decision 040). node-redis's core package: the
// `redis` package adds the commands of the search, JSON, time-series and Bloom modules
// (~1.5 MiB resident, decision 026), which sessions do not use.
import { createClient, createCluster, createSentinel } from "@redis/client";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../observability/logger.ts";

export interface RedisConnection {
  /** The node-redis client handed to connect-redis. */
  client: unknown;
  /** PING (every master of a cluster); rejects at once until the first connection is made. */
  ping(): Promise<unknown>;
  /** Settles once the first connection is made (never rejects; pending while Redis is down or silent). */
  connected: Promise<void>;
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

type Closable = { close(): Promise<void>; destroy(): void | Promise<void> };

/** close(), or destroy() once the deadline passed without it; destroy() at once while still connecting. */
function closing(client: Closable, first: FirstConnection): () => Promise<void> {
  return async () => {
    first.stop();
    if (!first.made) {
      // Nothing was ever answered, so nothing is pending worth waiting for; close() would
      // wait for the handshake a silent Redis never answers.
      await Promise.resolve(client.destroy()).catch(() => undefined);
      return;
    }
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

/**
 * The first connection, made in the background: node-redis retries a standalone client's
 * own attempts; a cluster's or Sentinel's failed discovery is tried again here, with the
 * same backoff. `made` stays false while Redis is down, or connected but silent (the
 * handshake is never answered).
 */
class FirstConnection {
  made = false;
  readonly done: Promise<void>;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(connect: () => Promise<unknown>, onFailed: (error: Error) => void) {
    this.done = new Promise((resolve) => {
      const attempt = (retries: number) => {
        connect().then(
          () => {
            if (this.#stopped) return;
            this.made = true;
            resolve();
          },
          (error: unknown) => {
            if (this.#stopped) return;
            onFailed(error as Error);
            this.#timer = setTimeout(attempt, reconnectStrategy(retries), retries + 1);
            this.#timer.unref();
          },
        );
      };
      attempt(0);
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

interface ClientParts {
  config: Config["redis"];
  logger: Logger;
  /** Logs the error (at most a line every 10 s); `node`: the cluster node it came from. */
  onError: (error: Error | string, node?: string) => void;
  /** The options of every node connection: fail fast while disconnected, bounded queue. */
  nodeOptions: Record<string, unknown>;
  /** What a Sentinel's own connections (to the sentinels) take of them: the deadlines. */
  sentinelOptions: Record<string, unknown>;
}

/** The connection once `first` is made; PING fails at once before (a cluster knows no masters yet). */
function connection(client: Closable, first: FirstConnection, ping: () => Promise<unknown>): RedisConnection {
  const notYet = () => Promise.reject(new Error("not connected to Redis yet"));
  return {
    client,
    ping: () => (first.made ? ping() : notYet()),
    connected: first.done,
    close: closing(client, first),
  };
}

function clusterConnection({ config, logger, onError, nodeOptions }: ClientParts): RedisConnection {
  const cluster = createCluster({
    rootNodes: config.nodes.map((node) => ({ socket: parseNode(node) })),
    defaults: nodeOptions,
  });
  cluster.on("error", onError);
  // A node's own connection errors (down, silent, refusing the password) are not "error"s of
  // the cluster: without this a node lost after startup was never named in the log.
  cluster.on("node-error", (error: Error, node: { host: string; port: number }) =>
    onError(error, `${node.host}:${node.port}`),
  );
  const first = new FirstConnection(() => cluster.connect(), onError);
  void first.done.then(() => logger.info("redis connected", { mode: "cluster" }));
  // Every master must answer: a key on a silent one would hang otherwise.
  const ping = () => Promise.all(cluster.masters.map(async (m) => (await cluster.nodeClient(m)).ping()));
  return connection(cluster, first, ping);
}

function sentinelConnection({ config, logger, onError, nodeOptions, sentinelOptions }: ClientParts): RedisConnection {
  const sentinel = createSentinel({
    name: config.sentinel_name,
    sentinelRootNodes: config.nodes.map(parseNode),
    nodeClientOptions: nodeOptions,
    // Without them a sentinel that accepts and never answers held discovery for ever.
    sentinelClientOptions: sentinelOptions,
  });
  sentinel.on("error", onError);
  const first = new FirstConnection(() => sentinel.connect(), onError);
  void first.done.then(() => logger.info("redis connected", { mode: "sentinel" }));
  return connection(sentinel, first, () => sentinel.ping());
}

function standaloneConnection({ config, logger, onError, nodeOptions }: ClientParts): RedisConnection {
  const client = createClient({ url: config.url, ...nodeOptions });
  client.on("error", onError);
  // On every (re)connection: the line after a run of connection errors says Redis is back.
  client.on("ready", () => logger.info("redis connected", { mode: "standalone" }));
  // node-redis retries this attempt itself (reconnectStrategy); it rejects only when closed.
  const first = new FirstConnection(() => client.connect(), onError);
  return connection(client, first, () => client.ping());
}

/** The connection, being made: returns at once, whether Redis answers or not. */
export function connectRedis(config: Config, logger: Logger): RedisConnection {
  const { redis } = config;
  let lastErrorLog = 0;
  const onError = (error: Error | string, node?: string) => {
    // A down Redis emits an error per reconnect attempt; one line every 10 s is enough.
    const now = Date.now();
    if (now - lastErrorLog > 10_000) {
      lastErrorLog = now;
      // node-redis's Sentinel emits some of its errors as bare strings.
      const message = error instanceof Error ? error.message : String(error);
      logger.error("redis connection error", { error: message, mode: redis.mode, ...(node ? { node } : {}) });
    }
  };
  const deadlines = {
    socket: {
      connectTimeout: redis.connect_timeout,
      // connectTimeout covers only the TCP connect: node-redis waits for the handshake's answer
      // (HELLO, AUTH) without a deadline, so a peer that accepts and never answers held the
      // connection, unready, for ever. A socket silent this long is dropped and retried
      // (reconnectStrategy), during the handshake as at any time (decision 044).
      socketTimeout: redis.connect_timeout,
      reconnectStrategy,
    },
    // Traffic on an idle connection, so socketTimeout drops only a peer that does not answer:
    // a write refreshes the socket's timer, and the PING is written well within it.
    pingInterval: Math.max(1, Math.floor(redis.connect_timeout / 2)),
  };
  const nodeOptions = {
    ...(redis.password ? { password: redis.password } : {}),
    ...deadlines,
    disableOfflineQueue: true,
    // Commands waiting on a Redis that stopped answering are bounded: past this many, new
    // ones fail at once ("The queue is full") instead of piling up.
    commandsQueueMaxLength: MAX_PENDING_COMMANDS,
  };
  const parts = { config: redis, logger, onError, nodeOptions, sentinelOptions: deadlines };
  if (redis.mode === "cluster") return clusterConnection(parts);
  if (redis.mode === "sentinel") return sentinelConnection(parts);
  return standaloneConnection(parts);
}
