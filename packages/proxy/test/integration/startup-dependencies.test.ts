// The proxy started as a user starts it (`node src/main.ts`, configured by its environment)
// while what it depends on is not there: a Redis that accepts connections and never answers
// (redis-server paused with SIGSTOP), a Redis that refuses them (stopped), a Redis, a
// sentinel or a cluster seed node that accepts and never answers the handshake, keeping the
// connection (a TCP listener; a real one takes its port later), an identity provider that
// accepts and never answers (a TCP listener that holds every connection).
// Each time it listens all the same, says in a log line what it waits for, is alive
// (/healthz 200) but not ready (/readyz 503 naming what is missing), answers a request that
// needs the missing part 503, and becomes ready once it answers; SIGTERM ends it meanwhile.
// Also what else a first start meets: a busy port is one line and exit code 1, and bypass
// mode (which signs nothing) does not warn that session.secret is unset.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, afterEach, before, describe, it } from "node:test";
import { sign } from "cookie-signature";
import { type DevIdentityProvider, startDevIdentityProvider } from "../../dev/identity-provider.ts";
import { freePort } from "../support/ports.ts";
import { finished } from "../support/process.ts";
import { startCluster, startRedis, startSentinel, type TestRedis } from "../support/redis-server.ts";

const MAIN = path.resolve(import.meta.dirname, "../../src/main.ts");
const CLIENT_ID = "startup-proxy";
const SESSION_SECRET = "startup-session-secret-0123456789abcdef";
/** Bounds each test: without the fix a silent Redis kept the proxy from ever listening. */
const BOUND = { timeout: 60_000 };

type LogEntry = Record<string, unknown>;

/** A proxy process and the log lines it wrote so far, in order. */
interface ProxyProcess {
  child: ChildProcess;
  url: string;
  log: LogEntry[];
  /** Resolves with the first log line (so far or to come) whose message is `message`. */
  line(message: string): Promise<LogEntry>;
  exit: ReturnType<typeof finished>;
}

/** Starts `node src/main.ts`; a variable of `env` set to "" is left out. */
async function startProxyProcess(env: Record<string, string>): Promise<ProxyProcess> {
  const port = await freePort();
  const merged: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    MCP_HOST: "127.0.0.1",
    MCP_PORT: String(port),
    // Nothing is forwarded in these tests: every request is answered before that.
    MCP_TARGET_URL: "http://127.0.0.1:1",
    OIDC_CLIENT_ID: CLIENT_ID,
    OIDC_CLIENT_SECRET: `${CLIENT_ID}-secret`,
    SESSION_SECRET,
    LOG_LEVEL: "info",
    ...env,
  };
  const child = spawn(process.execPath, [MAIN], {
    env: Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== "")),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exit = finished(child);
  // A run cut short (a test's timeout) leaves no proxy behind.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  void exit.then(() => process.off("exit", killOnExit));
  const log: LogEntry[] = [];
  const waiting: { message: string; resolve: (entry: LogEntry) => void }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    let entry: LogEntry;
    try {
      entry = JSON.parse(text) as LogEntry;
    } catch {
      return;
    }
    log.push(entry);
    for (const waiter of waiting.filter((w) => w.message === entry.message)) waiter.resolve(entry);
  });
  const line = (message: string) =>
    new Promise<LogEntry>((resolve) => {
      const seen = log.find((entry) => entry.message === message);
      if (seen) resolve(seen);
      else waiting.push({ message, resolve });
    });
  return { child, url: `http://127.0.0.1:${port}`, log, line, exit };
}

/** The provider, with the proxy registered as its client. */
function startProvider(port?: number): Promise<DevIdentityProvider> {
  return startDevIdentityProvider({
    host: "127.0.0.1",
    ...(port ? { port } : {}),
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: `${CLIENT_ID}-secret`,
        redirect_uris: ["http://127.0.0.1/callback"],
        grant_types: ["authorization_code", "refresh_token"],
      },
    ],
  });
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/** A GET with exactly these headers (fetch would add its own Sec-Fetch-Mode: cors). */
function get(url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => {
          body += chunk;
        });
        res.on("end", () => {
          const retryAfter = res.headers["retry-after"];
          resolve({ status: res.statusCode ?? 0, retryAfter, body });
        });
      })
      .on("error", reject);
  });
}

/** A returning browser: a validly signed session cookie, so the proxy must ask the store. */
function withSessionCookie(url: string): Promise<Answer> {
  const cookie = `mcp_session=${encodeURIComponent(`s:${sign("returning-session", SESSION_SECRET)}`)}`;
  return get(`${url}/mcp`, { cookie });
}

/** A person opening the site: sent to sign in, which needs the provider. */
function browserNavigation(url: string): Promise<Answer> {
  return get(`${url}/`, { accept: "text/html", "sec-fetch-mode": "navigate" });
}

/** Listening, alive, not ready for `reason` (also the startup log line's), and `request` answered 503. */
async function assertWaitingFor(proxy: ProxyProcess, reason: string, request: (url: string) => Promise<Answer>) {
  await proxy.line("mcp-oidc-proxy listening");
  const waitingLine = await proxy.line("not ready yet: waiting in the background, answering 503 until then");
  assert.deepEqual(waitingLine.waiting_for, [reason]);
  assert.equal((await fetch(`${proxy.url}/healthz`)).status, 200, "alive");
  const readiness = await fetch(`${proxy.url}/readyz`);
  assert.equal(readiness.status, 503);
  assert.deepEqual(((await readiness.json()) as { reasons: string[] }).reasons, [reason]);
  const refused = await request(proxy.url);
  assert.equal(refused.status, 503, refused.body);
  assert.match(refused.retryAfter ?? "", /^\d+$/, "Retry-After");
}

/** Resolves once /readyz answers 200 (checking every 100 ms: a background retry is awaited). */
async function ready(proxy: ProxyProcess): Promise<void> {
  for (;;) {
    const response = await fetch(`${proxy.url}/readyz`);
    await response.body?.cancel();
    if (response.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SIGTERM: the process exits 0 having shut down. */
async function stopped(proxy: ProxyProcess): Promise<void> {
  proxy.child.kill("SIGTERM");
  const { code, stderr } = await proxy.exit;
  assert.equal(code, 0, stderr);
  assert.ok(proxy.log.some((entry) => entry.message === "shutdown complete"));
}

/**
 * A TCP listener that accepts every connection and never answers; `release()` drops them and
 * frees the port; `stopListening()` frees the port and keeps them open, silent (a peer that
 * holds a connection it will never answer: a wedged Redis, a proxy in front of one gone).
 */
async function startSilentListener() {
  const sockets = new Set<net.Socket>();
  let accepted: () => void;
  const firstAccepted = new Promise<void>((resolve) => {
    accepted = resolve;
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    accepted();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    /** Settles once a connection was accepted. */
    firstAccepted,
    /** The port is free on return (close()'s callback would wait for the connections kept). */
    stopListening: () => void server.close(),
    async release() {
      if (!server.listening) {
        for (const socket of sockets) socket.destroy();
        return;
      }
      // Closed first: a connection accepted after the others were dropped would hold close().
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

describe("starting while the session store is silent or down", BOUND, () => {
  let redis: TestRedis;
  let provider: DevIdentityProvider;
  const proxies: ProxyProcess[] = [];
  const start = async () => {
    const proxy = await startProxyProcess({
      OIDC_DISCOVERY_URL: provider.issuer,
      SESSION_STORE: "redis",
      REDIS_URL: redis.url,
    });
    proxies.push(proxy);
    return proxy;
  };

  before(async () => {
    redis = await startRedis();
    provider = await startProvider();
  });
  after(async () => {
    for (const { child } of proxies) if (child.exitCode === null) child.kill("SIGKILL");
    await redis.close();
    await provider.close();
  });

  it("a Redis that accepts connections and never answers (paused): listens, 503 until it answers, then ready", async () => {
    redis.pause();
    let proxy: ProxyProcess;
    try {
      proxy = await start();
      await assertWaitingFor(proxy, "session store unavailable", withSessionCookie);
    } finally {
      redis.resume();
    }
    await ready(proxy);
    const unknownSession = await withSessionCookie(proxy.url);
    assert.equal(unknownSession.status, 401, "the store answered: no such session");
    await stopped(proxy);
  });

  it("a Redis that refuses connections (stopped): listens, 503 until it is up, then ready", async () => {
    await redis.stop();
    let proxy: ProxyProcess;
    try {
      proxy = await start();
      await assertWaitingFor(proxy, "session store unavailable", withSessionCookie);
    } finally {
      await redis.start();
    }
    await ready(proxy);
    await stopped(proxy);
  });

  it("ends on SIGTERM while it waits for a silent Redis", async () => {
    redis.pause();
    try {
      const proxy = await start();
      await proxy.line("not ready yet: waiting in the background, answering 503 until then");
      await stopped(proxy);
    } finally {
      redis.resume();
    }
  });
});

describe("a Redis that accepts the connection and never answers the handshake", BOUND, () => {
  let silent: Awaited<ReturnType<typeof startSilentListener>>;
  let provider: DevIdentityProvider;
  let redis: TestRedis | undefined;
  let proxy: ProxyProcess | undefined;

  before(async () => {
    silent = await startSilentListener();
    provider = await startProvider();
  });
  after(async () => {
    if (proxy?.child.exitCode === null) proxy.child.kill("SIGKILL");
    await silent.release();
    await redis?.close();
    await provider.close();
  });

  it("drops the silent connection after redis.connect_timeout and retries: ready once a Redis answers there", async () => {
    proxy = await startProxyProcess({
      OIDC_DISCOVERY_URL: provider.issuer,
      SESSION_STORE: "redis",
      REDIS_URL: `redis://127.0.0.1:${silent.port}`,
    });
    await silent.firstAccepted;
    await assertWaitingFor(proxy, "session store unavailable", withSessionCookie);
    // The port now belongs to a real Redis; the connection the proxy holds stays open and
    // silent. Without a deadline on the handshake the proxy waited on it for ever.
    silent.stopListening();
    redis = await startRedis(silent.port);
    await ready(proxy);
    assert.equal((await withSessionCookie(proxy.url)).status, 401, "the store answered: no such session");
    const dropped = await proxy.line("redis connection error");
    assert.match(String(dropped.error), /timeout/i, "the log line names the silent peer's timeout");
    await stopped(proxy);
  });
});

describe("a Sentinel or a cluster seed node that accepts the connection and never answers", BOUND, () => {
  let silent: Awaited<ReturnType<typeof startSilentListener>>;
  let provider: DevIdentityProvider;
  let proxy: ProxyProcess | undefined;
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    provider = await startProvider();
  });
  afterEach(async () => {
    if (proxy?.child.exitCode === null) proxy.child.kill("SIGKILL");
    await silent.release();
    for (const close of closers.splice(0).reverse()) await close();
  });
  after(async () => {
    await provider.close();
  });

  /** Waits on the silent node, then is ready once `takeOver` starts the real one on its port. */
  async function readyOnceAnswered(mode: string, takeOver: (port: number) => Promise<void>) {
    silent = await startSilentListener();
    proxy = await startProxyProcess({
      OIDC_DISCOVERY_URL: provider.issuer,
      SESSION_STORE: "redis",
      REDIS_MODE: mode,
      REDIS_NODES: `127.0.0.1:${silent.port}`,
    });
    await silent.firstAccepted;
    await assertWaitingFor(proxy, "session store unavailable", withSessionCookie);
    silent.stopListening();
    await takeOver(silent.port);
    await ready(proxy);
    assert.equal((await withSessionCookie(proxy.url)).status, 401, "the store answered: no such session");
    const dropped = await proxy.line("redis connection error");
    assert.match(String(dropped.error), /timeout/i, "the log line names the silent peer's timeout");
    await stopped(proxy);
  }

  it("sentinel: drops the silent sentinel and retries; ready once a sentinel answers there", async () => {
    await readyOnceAnswered("sentinel", async (port) => {
      const master = await startRedis();
      closers.push(() => master.close());
      const sentinel = await startSentinel(master, port);
      closers.push(() => sentinel.close());
    });
  });

  it("cluster: drops the silent seed node and retries; ready once a cluster node answers there", async () => {
    await readyOnceAnswered("cluster", async (port) => {
      const cluster = await startCluster(port);
      closers.push(() => cluster.close());
    });
  });
});

describe("starting while the identity provider accepts connections and never answers", BOUND, () => {
  let silent: Awaited<ReturnType<typeof startSilentListener>>;
  let provider: DevIdentityProvider | undefined;
  let proxy: ProxyProcess | undefined;

  before(async () => {
    silent = await startSilentListener();
  });
  after(async () => {
    if (proxy?.child.exitCode === null) proxy.child.kill("SIGKILL");
    await silent.release();
    await provider?.close();
  });

  it("listens before discovery's first attempt gives up, 503 until the provider answers, then ready", async () => {
    proxy = await startProxyProcess({ OIDC_DISCOVERY_URL: `http://127.0.0.1:${silent.port}` });
    await assertWaitingFor(proxy, "identity provider not discovered", browserNavigation);
    const listening = proxy.log.findIndex((entry) => entry.message === "mcp-oidc-proxy listening");
    const failed = proxy.log.findIndex((entry) => entry.message === "identity provider discovery failed; retrying");
    assert.ok(failed === -1 || failed > listening, "listening did not wait for the silent provider");
    // The provider comes up where the silent listener was: discovery's retry finds it.
    await silent.release();
    provider = await startProvider(silent.port);
    await ready(proxy);
    const signIn = await browserNavigation(proxy.url);
    assert.equal(signIn.status, 302, "sent to the provider to sign in");
    await stopped(proxy);
  });
});

describe("a first start's other surprises", BOUND, () => {
  it("a busy port stops it with one line naming the address and setting, and exit code 1", async () => {
    const busy = await startSilentListener();
    try {
      const proxy = await startProxyProcess({ AUTH_MODE: "bypass", MCP_PORT: String(busy.port) });
      const { code, stderr } = await proxy.exit;
      assert.equal(code, 1);
      assert.equal(
        stderr,
        `mcp-oidc-proxy: cannot listen on 127.0.0.1:${busy.port} (server.port): address already in use\n`,
      );
    } finally {
      await busy.release();
    }
  });

  it("bypass mode, which signs and seals nothing, does not warn that session.secret is unset", async () => {
    const proxy = await startProxyProcess({ AUTH_MODE: "bypass", SESSION_SECRET: "" });
    await proxy.line("mcp-oidc-proxy listening");
    await stopped(proxy);
    const warnings = proxy.log.filter((entry) => entry.level === "warn").map((entry) => entry.message);
    assert.ok(warnings.length > 0, "the bypass warning is there");
    assert.ok(!warnings.some((message) => String(message).includes("session.secret")), warnings.join("; "));
  });
});
