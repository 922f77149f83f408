// A session store that stops answering (redis-server paused with SIGSTOP: connections stay
// open, nothing comes back) or is gone (killed): every request that needs it answers 503 JSON
// with Retry-After within session.store_timeout instead of hanging, and /readyz says so; also
// when it stops only after the MCP server answered (a new MCP session that cannot be bound).
// The authorization server's token requests (refresh, code exchange, revocation) and a
// sign-out answer 503 too, and end nothing. A client that leaves while its request waits for
// the store is forwarded nothing. Probes and scrapes never wait out the store's deadline:
// /metrics answers from what it has, /readyz and /health say 503 while a request that needs
// the store still waits. Shutdown ends while the store hangs (node-redis's close() waits for
// every pending reply; it is cut after a deadline).
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { createClient } from "@redis/client";
import type { RunningProxy } from "../../src/proxy-server.ts";
import { TestBrowser } from "../support/browser.ts";
import { capturingLogger } from "../support/captured-log.ts";
import { CLIENT_REDIRECT, connectWithOAuth, initializeRequest } from "../support/mcp-oauth-client.ts";
import { HandClient } from "../support/oauth-hand-client.ts";
import type { TestRedis } from "../support/redis-server.ts";
import { type Stack, startStackWithRedis } from "../support/stack.ts";

interface Answer {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

async function answer(response: Response): Promise<Answer> {
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe("a session store that hangs or is gone", () => {
  let redis: TestRedis;
  let stack: Stack;
  let close: () => Promise<void>;
  let url: string;
  let token: string;
  let authorizeUrl: string;
  const alice = new TestBrowser();

  before(async () => {
    ({ redis, stack, close } = await startStackWithRedis({
      env: {
        MCP_AUTH_MODE: "proxy",
        // Every request reads the store, so its state is seen at once.
        SESSION_CACHE_TTL: "0s",
        SESSION_STORE_TIMEOUT: "300ms",
      },
    }));
    url = `http://127.0.0.1:${stack.ports[0]}`;
    assert.equal((await alice.signIn(`${url}/`, "alice")).status, 200);
    const { client, oauth } = await connectWithOAuth(`${url}/mcp`, "alice");
    await client.close();
    token = oauth.savedTokens?.access_token ?? "";
    assert.ok(token);
    const registered = new HandClient(url);
    assert.equal((await registered.register()).status, 201);
    authorizeUrl = `${url}/oauth/authorize?${new URLSearchParams({
      response_type: "code",
      client_id: registered.clientId,
      redirect_uri: CLIENT_REDIRECT,
      code_challenge: "x".repeat(43),
      code_challenge_method: "S256",
    })}`;
  });
  after(() => close());

  type Kind = "session" | "bearer" | "registration" | "authorize" | "readiness";
  /** Each kind of request that needs the store: a browser session, a bearer token, registration, authorize, readiness. */
  async function everyKind(): Promise<Record<Kind, Answer>> {
    const post = { method: "POST", headers: { "content-type": "application/json" }, body: "{}" };
    return {
      session: await answer(await alice.fetch(`${url}/mcp`, post)),
      bearer: await answer(
        await fetch(`${url}/mcp`, { ...post, headers: { ...post.headers, authorization: `Bearer ${token}` } }),
      ),
      registration: await answer(await new HandClient(url).register()),
      authorize: await answer(await fetch(authorizeUrl, { redirect: "manual" })),
      readiness: await answer(await fetch(`${url}/readyz`)),
    };
  }

  function assertUnavailable(answers: Record<Kind, Answer>): void {
    for (const [kind, { status, retryAfter, body }] of Object.entries(answers)) {
      assert.equal(status, 503, `${kind}: ${JSON.stringify(body)}`);
      if (kind !== "readiness") assert.match(retryAfter ?? "", /^\d+$/, `${kind} has Retry-After`);
    }
    assert.equal((answers.session.body.error as { code: string }).code, "INTERNAL_ERROR");
    assert.equal(answers.registration.body.error, "temporarily_unavailable");
    assert.equal(answers.authorize.body.error, "temporarily_unavailable", "as every endpoint, not server_error");
    assert.deepEqual(answers.readiness.body.reasons, ["session store unavailable"]);
  }

  it("answers 503 with Retry-After, and is not ready, while Redis is paused (SIGSTOP)", async () => {
    redis.pause();
    try {
      assertUnavailable(await everyKind());
    } finally {
      redis.resume();
    }
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    assert.equal((await alice.fetch(`${url}/api/v1/session`)).status, 200);
  });

  it("answers 503 with Retry-After, and is not ready, while Redis is down", async () => {
    await redis.stop();
    try {
      assertUnavailable(await everyKind());
    } finally {
      await redis.start();
    }
  });
});

describe("the authorization server's token requests and sign-out while the session store hangs", () => {
  let redis: TestRedis;
  let stack: Stack;
  let close: () => Promise<void>;
  let url: string;
  let hand: HandClient;
  let tokens: { access_token: string; refresh_token: string };
  let unusedCode: { code: string; verifier: string };

  before(async () => {
    ({ redis, stack, close } = await startStackWithRedis({
      env: {
        MCP_AUTH_MODE: "proxy",
        // The sign-in is read once and kept: a sign-out reaches its own store calls (ending
        // the grants, destroying the session), not only the session's read.
        SESSION_CACHE_TTL: "60s",
        SESSION_STORE_TIMEOUT: "300ms",
      },
    }));
    url = `http://127.0.0.1:${stack.ports[0]}`;
    hand = new HandClient(url);
    assert.equal((await hand.register()).status, 201);
    const first = await hand.authorize("alice");
    const exchanged = await hand.exchange(first.code ?? "", first.verifier);
    assert.equal(exchanged.status, 200);
    tokens = (await exchanged.json()) as typeof tokens;
    assert.ok(tokens.refresh_token, "a refresh token");
    const second = await hand.authorize("alice");
    unusedCode = { code: second.code ?? "", verifier: second.verifier };
    assert.equal((await hand.browser.fetch(`${url}/api/v1/session`)).status, 200, "the sign-in is cached");
  });
  after(() => close());

  type Kind = "refresh" | "code exchange" | "revocation" | "sign-out";
  const asks: Record<Kind, () => Promise<Response>> = {
    refresh: () => hand.token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token }),
    "code exchange": () => hand.exchange(unusedCode.code, unusedCode.verifier),
    revocation: () => hand.revoke(tokens.access_token),
    // A program's sign-out (no Sec-Fetch-Site, no form): the session and the grants end.
    "sign-out": () => hand.browser.fetch(`${url}/logout`, { method: "POST" }),
  };

  it("answers each 503 with Retry-After, ends nothing meanwhile, and each works once Redis answers", async () => {
    redis.pause();
    try {
      for (const [kind, ask] of Object.entries(asks)) {
        const { status, retryAfter, body } = await answer(await ask());
        assert.equal(status, 503, `${kind}: ${JSON.stringify(body)}`);
        assert.match(retryAfter ?? "", /^\d+$/, `${kind} has Retry-After`);
      }
    } finally {
      redis.resume();
    }
    const store = createClient({ url: redis.url });
    await store.connect();
    try {
      assert.equal((await store.keys("mcp:session:*")).length, 1, "the session is still in the store");
    } finally {
      await store.close();
    }
    for (const kind of ["refresh", "code exchange", "sign-out"] as const) {
      const response = await asks[kind]();
      assert.equal(response.status, 200, `${kind} after: ${await response.text()}`);
    }
    assert.equal((await hand.browser.fetch(`${url}/api/v1/session`)).status, 401, "signed out");
  });
});

describe("probes and scrapes while the session store hangs", () => {
  let redis: TestRedis;
  let stack: Stack;
  let close: () => Promise<void>;
  let url: string;
  const alice = new TestBrowser();

  before(async () => {
    ({ redis, stack, close } = await startStackWithRedis({
      env: {
        SESSION_CACHE_TTL: "0s",
        // Long, so a request held by the store is still waiting when the probes answer.
        SESSION_STORE_TIMEOUT: "5s",
      },
    }));
    url = `http://127.0.0.1:${stack.ports[0]}`;
    assert.equal((await alice.signIn(`${url}/`, "alice")).status, 200);
  });
  after(() => close());

  it("answers /metrics (last known session count), /readyz and /health (503) while a request waits for Redis", async () => {
    const healthy = await (await fetch(`${url}/metrics`)).text();
    assert.match(healthy, /^mcp_proxy_active_sessions 1$/m);
    redis.pause();
    try {
      // Waits for the store until its deadline, then 503: the probes must not wait that long.
      const held = alice.fetch(`${url}/api/v1/session`).then(async (response) => {
        await response.body?.cancel();
        return "the request held by the store";
      });
      // In turn, each after the one before: none may wait out the store's deadline.
      const first = async <T>(probe: Promise<T>) => Promise.race([probe, held]);
      for (const path of ["/readyz", "/health"]) {
        const probe = await first(fetch(`${url}${path}`));
        assert.ok(probe instanceof Response, `${probe} answered before ${path}`);
        assert.equal(probe.status, 503, path);
        assert.deepEqual(((await probe.json()) as { reasons: string[] }).reasons, ["session store unavailable"]);
      }
      const scrape = await first(fetch(`${url}/metrics`));
      assert.ok(scrape instanceof Response, `${scrape} answered before the scrape`);
      assert.equal(scrape.status, 200);
      assert.match(await scrape.text(), /^mcp_proxy_active_sessions 1$/m, "the last count known");
      assert.equal(await held, "the request held by the store");
    } finally {
      redis.resume();
    }
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
  });
});

describe("a session store that stops answering once the MCP server has answered", () => {
  let redis: TestRedis;
  let stack: Stack;
  let close: () => Promise<void>;
  let url: string;
  const alice = new TestBrowser();
  const initialize = () => alice.fetch(`${url}/mcp`, initializeRequest());

  before(async () => {
    // The sign-in is cached (session.cache_ttl): only the new MCP session's binding needs the store.
    ({ redis, stack, close } = await startStackWithRedis({ env: { SESSION_STORE_TIMEOUT: "300ms" } }));
    url = `http://127.0.0.1:${stack.ports[0]}`;
    assert.equal((await alice.signIn(`${url}/`, "alice")).status, 200);
    const first = await initialize();
    assert.equal(first.status, 200);
    await first.body?.cancel();
  });
  after(() => close());

  it("answers 503 with Retry-After when the new MCP session cannot be bound (not 502)", async () => {
    redis.pause();
    try {
      const { status, retryAfter, body } = await answer(await initialize());
      assert.equal(status, 503, JSON.stringify(body));
      assert.match(retryAfter ?? "", /^\d+$/);
    } finally {
      redis.resume();
    }
  });
});

describe("clients that leave while the session store is slow", () => {
  let redis: TestRedis;
  let stack: Stack;
  let close: () => Promise<void>;
  let url: string;
  let cookie: string;
  const alice = new TestBrowser();
  const lines: string[] = [];

  before(async () => {
    // Its access log lines (4xx at info) tell when the proxy saw a client leave.
    const logger = capturingLogger(lines, "info");
    ({ redis, stack, close } = await startStackWithRedis({
      logger,
      env: {
        // Every request reads the store, so a paused one holds each request in authentication.
        SESSION_CACHE_TTL: "0s",
        SESSION_STORE_TIMEOUT: "10s",
        MCP_MAX_STREAMS_PER_USER: "3",
      },
    }));
    url = `http://127.0.0.1:${stack.ports[0]}`;
    assert.equal((await alice.signIn(`${url}/`, "alice")).status, 200);
    cookie = await alice.jar.getCookieString(url);
  });
  after(() => close());

  it("take no stream slot and send nothing upstream: their streams do not lock the user out", async () => {
    const streamsAsked = () => stack.mcp.requests.filter((r) => r.method === "GET" && r.url === "/sse").length;
    const asked = streamsAsked();
    redis.pause();
    try {
      for (let i = 0; i < 4; i++) {
        const socket = net.connect(stack.ports[0] as number, "127.0.0.1");
        socket.on("error", () => undefined);
        await once(socket, "connect");
        // Gone (its side closed) while its request waits for the store.
        socket.end(`GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nAccept: text/event-stream\r\n\r\n`);
        await once(socket, "close");
      }
      // The proxy has seen them close (logged 499) before the store answers.
      while (lines.filter((line) => line.includes('"status":499')).length < 4)
        await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      redis.resume();
    }
    const stream = await alice.fetch(`${url}/sse`, { headers: { accept: "text/event-stream" } });
    assert.equal(stream.status, 200, "the user is not locked out by streams nobody holds");
    await stream.body?.cancel();
    assert.equal(streamsAsked(), asked + 1, "only the held stream reached the MCP server");
  });
});

describe("shutdown while the session store hangs", () => {
  let redis: TestRedis;
  let stack: Stack;
  let close: () => Promise<void>;

  before(async () => {
    ({ redis, stack, close } = await startStackWithRedis({
      env: { SESSION_CACHE_TTL: "0s", MCP_SHUTDOWN_TIMEOUT: "1s" },
    }));
  });
  after(async () => {
    redis.resume();
    await close();
  });

  it("ends without Redis answering what is pending (a pod is not held until it is killed)", async () => {
    const url = `http://127.0.0.1:${stack.ports[0]}`;
    const alice = new TestBrowser();
    assert.equal((await alice.signIn(`${url}/`, "alice")).status, 200);
    redis.pause();
    // A probe and a request while Redis is paused leave replies pending (both answer 503).
    assert.equal((await fetch(`${url}/readyz`)).status, 503);
    assert.equal((await alice.fetch(`${url}/api/v1/session`)).status, 503);
    const proxy = stack.proxies[0] as RunningProxy;
    // Bounded far past server.shutdown_timeout (1 s) and the close deadline (2 s).
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      proxy.shutdown().then(() => "ended"),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 15_000, "still waiting for Redis");
      }),
    ]);
    clearTimeout(timer);
    assert.equal(ended, "ended");
  });
});
