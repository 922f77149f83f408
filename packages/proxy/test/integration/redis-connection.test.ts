// The proxy's connection to a real redis-server (session/redis-client.ts) over time: an idle
// connection is kept although a socket silent for redis.connect_timeout is dropped (its PINGs
// keep it busy), and a password Redis refuses (requirepass, WRONGPASS) leaves the proxy
// unready, answering 503, with one line naming the cause and never the password, and ready
// without a restart once Redis takes that password. A cluster node whose connection breaks
// after startup is named in the log.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "@redis/client";
import { sign } from "cookie-signature";
import { loadConfig } from "../../src/config/load.ts";
import { connectRedis, type RedisConnection } from "../../src/session/redis-client.ts";
import { capturingLogger } from "../support/captured-log.ts";
import { startCluster, startRedis, type TestCluster, type TestRedis } from "../support/redis-server.ts";
import { SESSION_SECRET, type Stack, startStack } from "../support/stack.ts";

/** Bounds each test: a connection that never comes up must fail the test, not hang it. */
const BOUND = { timeout: 60_000 };

type Messages = { message?: string; error?: string }[];
const parsed = (lines: string[]): Messages => lines.map((line) => JSON.parse(line) as Messages[number]);

describe("an idle connection to Redis", BOUND, () => {
  let redis: TestRedis;
  let connection: RedisConnection | undefined;
  const lines: string[] = [];

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await connection?.close();
    await redis.close();
  });

  it("is kept past redis.connect_timeout: the socket timeout drops only a peer that does not answer", async () => {
    const { config } = loadConfig({ env: { SESSION_STORE: "redis", REDIS_URL: redis.url }, fieldsOnly: true });
    const connectTimeout = 300;
    connection = connectRedis(
      { ...config, redis: { ...config.redis, connect_timeout: connectTimeout } },
      capturingLogger(lines, "info"),
    );
    await connection.connected;
    const client = connection.client as NodeJS.EventEmitter;
    // Three PINGs of the idle connection, half the timeout apart: it outlived its socket
    // timeout. Without them the timeout drops it (an error) and it reconnects.
    const outcome = await new Promise<string>((resolve) => {
      let pings = 0;
      client.on("ping-interval", () => {
        if (++pings === 3) resolve("kept");
      });
      client.on("error", (error: Error) => resolve(error.message));
    });
    assert.equal(outcome, "kept");
    assert.equal(parsed(lines).filter((entry) => entry.message === "redis connected").length, 1, "one connection");
  });
});

describe("a cluster node's connection that breaks after startup", BOUND, () => {
  let cluster: TestCluster;
  let connection: RedisConnection | undefined;
  const lines: string[] = [];

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await connection?.close();
    await cluster.close();
  });

  it("is named in the log with the node (a node's errors are not the cluster's)", async () => {
    const nodes = cluster.nodes.join(",");
    const { config } = loadConfig({
      env: { SESSION_STORE: "redis", REDIS_MODE: "cluster", REDIS_NODES: nodes },
      fieldsOnly: true,
    });
    connection = connectRedis(config, capturingLogger(lines, "info"));
    await connection.connected;
    const node = cluster.nodes[0] as string;
    const admin = createClient({ url: `redis://${node}` });
    await admin.connect();
    try {
      // The proxy's connection to this node is cut (the admin's own is spared).
      await admin.sendCommand(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
    } finally {
      await admin.close();
    }
    // Each check waits for the logger's next write (bounded by the suite's timeout).
    const named = () => parsed(lines).find((entry) => entry.message === "redis connection error");
    while (!named()) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal((named() as { node?: string }).node, node);
  });
});

describe("a Redis that refuses the proxy's password (requirepass, WRONGPASS)", BOUND, () => {
  const REDIS_PASSWORD = "password-redis-requires-0123";
  const PROXY_PASSWORD = "password-the-proxy-has-4567";
  let redis: TestRedis;
  let admin: ReturnType<typeof createClient>;
  let stack: Stack;
  let url: string;
  const lines: string[] = [];

  before(async () => {
    redis = await startRedis();
    // Connected before the password is required: it stays signed in to change it later.
    admin = createClient({ url: redis.url });
    await admin.connect();
    await admin.configSet("requirepass", REDIS_PASSWORD);
    stack = await startStack({
      logger: capturingLogger(lines, "info"),
      env: { SESSION_STORE: "redis", REDIS_URL: redis.url, REDIS_PASSWORD: PROXY_PASSWORD, SESSION_CACHE_TTL: "0s" },
    });
    url = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(async () => {
    await stack.close();
    await admin.close();
    await redis.close();
  });

  /** A returning browser: a validly signed session cookie, so the proxy must ask the store. */
  const withSessionCookie = () =>
    fetch(`${url}/mcp`, {
      headers: { cookie: `mcp_session=${encodeURIComponent(`s:${sign("returning-session", SESSION_SECRET)}`)}` },
    });

  it("is unready and answers 503 meanwhile, says why, and is ready without a restart once Redis takes the password", async () => {
    const readiness = await fetch(`${url}/readyz`);
    assert.equal(readiness.status, 503);
    assert.deepEqual(((await readiness.json()) as { reasons: string[] }).reasons, ["session store unavailable"]);
    const refused = await withSessionCookie();
    assert.equal(refused.status, 503, await refused.text());
    assert.match(refused.headers.get("retry-after") ?? "", /^\d+$/, "Retry-After");
    const errors = parsed(lines).filter((entry) => entry.message === "redis connection error");
    assert.ok(errors.length >= 1, "a line says why");
    assert.match(String(errors[0]?.error), /WRONGPASS/, "and names the cause");
    await admin.configSet("requirepass", PROXY_PASSWORD);
    // Retried with backoff (at most 5 s apart): ready by itself, checked every 100 ms.
    for (;;) {
      const response = await fetch(`${url}/readyz`);
      await response.body?.cancel();
      if (response.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal((await withSessionCookie()).status, 401, "the store answered: no such session");
    for (const line of lines) {
      assert.ok(!line.includes(PROXY_PASSWORD) && !line.includes(REDIS_PASSWORD), `a password logged: ${line}`);
    }
  });
});
