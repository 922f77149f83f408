// Sessions in a real redis-server: shared by two proxy instances, surviving a proxy restart
// and a Redis restart, and failing closed while Redis is away.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient, createCluster } from "@redis/client";
import { TestBrowser } from "../support/browser.ts";
import { startCluster, startRedis, startSentinel, type TestRedis } from "../support/redis-server.ts";
import { type Stack, startStack, startStackWithRedis } from "../support/stack.ts";

async function waitForReady(url: string, want: number): Promise<void> {
  // Bounded poll of the readiness endpoint: the proxy's Redis client reconnects on its own.
  for (let attempt = 0; attempt < 200; attempt++) {
    const response = await fetch(`${url}/readyz`);
    await response.body?.cancel();
    if (response.status === want) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url}/readyz never answered ${want}`);
}

describe("Redis sessions", () => {
  let redis: TestRedis;
  let stack: Stack;
  let close: () => Promise<void>;
  const urls: string[] = [];
  const alice = new TestBrowser();

  before(async () => {
    // No session cache: every request must read Redis, so its absence is seen at once.
    ({ redis, stack, close } = await startStackWithRedis({ proxies: 2, env: { SESSION_CACHE_TTL: "0" } }));
    urls.push(...stack.ports.map((port) => `http://127.0.0.1:${port}`));
    const page = await alice.signIn(`${urls[0]}/`, "alice");
    assert.equal(page.status, 200);
  });
  after(() => close());

  it("stores sessions under the mcp:session: prefix with the configured TTL", async () => {
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const keys = await client.keys("mcp:session:*");
      assert.equal(keys.length, 1);
      const ttl = await client.ttl(keys[0] as string);
      assert.ok(ttl > 23 * 3600 && ttl <= 24 * 3600, `ttl ${ttl}`);
      const stored = await client.get(keys[0] as string);
      assert.match(stored ?? "", /"id":"alice"/);
    } finally {
      await client.close();
    }
  });

  it("lets a session opened on one instance be used on the other", async () => {
    const response = await alice.fetch(`${urls[1]}/api/v1/session`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { user: { id: string } }).user.id, "alice");
  });

  it("keeps the session across a proxy restart", async () => {
    await stack.proxies[0]?.shutdown();
    await stack.startProxy(0, { SESSION_STORE: "redis", REDIS_URL: redis.url, SESSION_CACHE_TTL: "0" });
    const page = await alice.navigate(`${urls[0]}/`);
    assert.equal(page.status, 200);
    assert.match(page.text, /alice@example\.com/);
  });

  it("fails closed while Redis is down and keeps the session once it is back", async () => {
    await redis.stop();
    const during = await alice.fetch(`${urls[0]}/mcp`, { method: "POST", body: "{}" });
    assert.equal(during.status, 503);
    assert.equal(((await during.json()) as { error: { code: string } }).error.code, "INTERNAL_ERROR");
    await waitForReady(urls[0] as string, 503);
    await redis.start();
    await waitForReady(urls[0] as string, 200);
    const response = await alice.fetch(`${urls[0]}/api/v1/session`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { user: { id: string } }).user.id, "alice");
  });
});

describe("provider tokens in Redis sessions", () => {
  let redis: TestRedis;
  let stack: Stack;
  let url: string;
  /** Every ID and refresh token the provider handed out (sign-in and each refresh). */
  const issued: string[] = [];
  // Refresh when less than 2 h are left of a 1 h token: every request refreshes.
  const env = (secret: string) => ({
    SESSION_STORE: "redis",
    REDIS_URL: redis.url,
    SESSION_CACHE_TTL: "0",
    OIDC_REFRESH_BEFORE_EXPIRY: "2h",
    SESSION_SECRET: secret,
  });

  before(async () => {
    redis = await startRedis();
    stack = await startStack({ env: env("old-session-secret-0123456789abcdef") });
    url = `http://127.0.0.1:${stack.ports[0]}`;
    stack.idp.provider.on("grant.success", (ctx) => {
      const body = ctx.body as { id_token?: string; refresh_token?: string };
      for (const token of [body.id_token, body.refresh_token]) if (token) issued.push(token);
    });
  });
  after(async () => {
    await stack.close();
    await redis.close();
  });

  /** Every key and value in Redis, as text. */
  async function everything(): Promise<string[]> {
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const texts: string[] = [];
      for (const key of await client.keys("*")) {
        texts.push(key);
        const type = await client.type(key);
        if (type === "string") texts.push((await client.get(key)) ?? "");
        else if (type === "set") texts.push(...(await client.sMembers(key)));
      }
      return texts;
    } finally {
      await client.close();
    }
  }

  it("provider tokens stored in the clear in Redis: no ID or refresh token in any key or value; refresh and logout still work", async () => {
    const alice = new TestBrowser();
    assert.equal((await alice.signIn(`${url}/`, "alice")).status, 200);
    assert.equal((await alice.navigate(`${url}/`)).status, 200); // a refresh: it read the refresh token
    assert.ok(issued.length >= 4, `tokens issued: ${issued.length}`);
    const stored = (await everything()).join("\n");
    for (const token of issued) assert.ok(!stored.includes(token), "a provider token is readable in Redis");
    assert.doesNotMatch(stored, /refreshToken|idToken/);
    const logout = await alice.fetch(`${url}/logout`, { method: "POST" });
    const body = (await logout.json()) as { end_session_url: string };
    assert.equal(new URL(body.end_session_url).searchParams.get("id_token_hint"), issued.at(-2));
  });

  it("reads a session sealed with the old secret after a rotation (new secret first)", async () => {
    const bob = new TestBrowser();
    assert.equal((await bob.signIn(`${url}/`, "bob")).status, 200);
    await stack.proxies[0]?.shutdown();
    await stack.startProxy(0, env("new-session-secret-0123456789abcdef,old-session-secret-0123456789abcdef"));
    const before = issued.length;
    const page = await bob.navigate(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(page.text, /x-user-id<\/th><td>bob</);
    assert.equal(issued.length, before + 2, "the session's refresh token was read and used");
  });
});

describe("Redis Sentinel sessions", () => {
  it("finds the master through Sentinel and keeps sessions there", async () => {
    const master = await startRedis();
    const sentinel = await startSentinel(master);
    const stack = await startStack({
      env: {
        SESSION_STORE: "redis",
        REDIS_MODE: "sentinel",
        REDIS_NODES: `127.0.0.1:${sentinel.port}`,
        REDIS_SENTINEL_NAME: "mymaster",
      },
    });
    const client = createClient({ url: master.url });
    try {
      const url = `http://127.0.0.1:${stack.ports[0]}`;
      const page = await new TestBrowser().signIn(`${url}/`, "alice");
      assert.equal(page.status, 200);
      await client.connect();
      assert.equal((await client.keys("mcp:session:*")).length, 1);
    } finally {
      await client.close();
      await stack.close();
      await sentinel.close();
      await master.close();
    }
  });
});

describe("Redis Cluster sessions", () => {
  it("keeps sessions in a three-node cluster", async () => {
    const cluster = await startCluster();
    const stack = await startStack({
      env: { SESSION_STORE: "redis", REDIS_MODE: "cluster", REDIS_NODES: cluster.nodes.join(",") },
    });
    const client = createCluster({ rootNodes: cluster.nodes.map((node) => ({ url: `redis://${node}` })) });
    try {
      const url = `http://127.0.0.1:${stack.ports[0]}`;
      const browser = new TestBrowser();
      assert.equal((await browser.signIn(`${url}/`, "alice")).status, 200);
      const session = await browser.fetch(`${url}/api/v1/session`);
      assert.equal(session.status, 200);
      await client.connect();
      let keys = 0;
      for (const master of client.masters) {
        const node = await client.nodeClient(master);
        keys += (await node.keys("mcp:session:*")).length;
      }
      assert.equal(keys, 1);
    } finally {
      await client.close();
      await stack.close();
      await cluster.close();
    }
  });
});
