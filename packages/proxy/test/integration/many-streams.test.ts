// Open event streams never starve request/response traffic: more streams than the old
// upstream connection cap (256) stay open while POSTs keep answering, and one user past
// target.max_streams_per_user gets 429 JSON (counted in a metric) without touching anyone else,
// also for streams opened by a GET that did not ask for one (no Accept: text/event-stream).
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { TestBrowser } from "../support/browser.ts";
import { type Stack, startStack } from "../support/stack.ts";

interface OpenStream {
  status: number;
  body: string;
  close(): void;
}

/** Opens GET /sse (the older SSE transport of the demo MCP server) on its own connection; resolves at the first bytes. */
function openStream(url: string, cookie: string, accept = "text/event-stream"): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/sse`, { agent: false, headers: { cookie, accept } });
    req.once("error", reject);
    req.once("response", (res) => {
      res.setEncoding("utf8");
      res.once("data", (chunk: string) =>
        resolve({ status: res.statusCode ?? 0, body: chunk, close: () => req.destroy() }),
      );
    });
  });
}

async function initialize(url: string, cookie: string): Promise<number> {
  const response = await fetch(`${url}/mcp`, {
    method: "POST",
    headers: { cookie, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "load-test", version: "1" } },
    }),
  });
  await response.body?.cancel();
  return response.status;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
}

async function signedIn(stack: Stack, user: string): Promise<{ url: string; cookie: string }> {
  const url = `http://127.0.0.1:${stack.ports[0]}`;
  const browser = new TestBrowser();
  assert.equal((await browser.signIn(`${url}/`, user)).status, 200);
  return { url, cookie: await browser.jar.getCookieString(url) };
}

describe("300 open event streams", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { MCP_MAX_STREAMS_PER_USER: "0" } });
  });
  after(() => stack.close());

  it("stay open while POSTs keep answering (more than the old cap of 256 upstream connections)", async () => {
    const { url, cookie } = await signedIn(stack, "alice");
    const streams: OpenStream[] = [];
    try {
      // In batches of 50: bounded load on a shared machine, still all open at once.
      for (let batch = 0; batch < 6; batch++) {
        streams.push(...(await Promise.all(Array.from({ length: 50 }, () => openStream(url, cookie)))));
      }
      assert.equal(streams.length, 300);
      assert.ok(
        streams.every((s) => s.status === 200),
        "every stream opened",
      );
      assert.equal(await metric(url, "mcp_proxy_active_streams"), 300);
      for (let i = 0; i < 5; i++) assert.equal(await initialize(url, cookie), 200, "a POST answers meanwhile");
      const another = await openStream(url, cookie);
      assert.equal(another.status, 200, "and so does one more stream");
      another.close();
    } finally {
      for (const stream of streams) stream.close();
    }
  });
});

describe("target.max_streams_per_user", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { MCP_MAX_STREAMS_PER_USER: "3" } });
  });
  after(() => stack.close());

  it("refuses a user's stream past the limit with 429 JSON and a metric; other users go on", async () => {
    const alice = await signedIn(stack, "alice");
    const bob = await signedIn(stack, "bob");
    const url = alice.url;
    const held = await Promise.all([1, 2, 3].map(() => openStream(url, alice.cookie)));
    assert.deepEqual(
      held.map((s) => s.status),
      [200, 200, 200],
    );
    try {
      const refused = await openStream(url, alice.cookie);
      assert.equal(refused.status, 429);
      const body = JSON.parse(refused.body) as { error: { code: string; details: { max_streams_per_user: number } } };
      assert.equal(body.error.code, "RATE_LIMITED");
      assert.equal(body.error.details.max_streams_per_user, 3);

      // An MCP POST accepts a stream as its answer: at the limit it is refused before it is sent.
      assert.equal(await initialize(url, alice.cookie), 429);
      const bobs = await openStream(url, bob.cookie);
      assert.equal(bobs.status, 200, "another user is not affected");
      bobs.close();
      assert.equal(await initialize(url, bob.cookie), 200);

      // A closed stream gives its slot back (bounded wait for the proxy to see the close).
      held.pop()?.close();
      for (let attempt = 0; (await metric(url, "mcp_proxy_active_streams")) !== 2; attempt++) {
        assert.ok(attempt < 200, "the proxy never saw the streams close");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(await metric(url, "mcp_proxy_streams_refused_total"), 2);
      const again = await openStream(url, alice.cookie);
      assert.equal(again.status, 200, "a closed stream gave its slot back");
      held.push(again);
    } finally {
      for (const stream of held) stream.close();
    }
  });

  it("counts a stream a GET did not ask for (the HTTP+SSE server answers any GET with one): past the limit, 429", async () => {
    const { url, cookie } = await signedIn(stack, "carol");
    const refusedBefore = await metric(url, "mcp_proxy_streams_refused_total");
    const held = await Promise.all([1, 2, 3].map(() => openStream(url, cookie, "*/*")));
    try {
      assert.deepEqual(
        held.map((s) => s.status),
        [200, 200, 200],
      );
      const refused = await openStream(url, cookie, "*/*");
      assert.equal(refused.status, 429);
      assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, "RATE_LIMITED");
      assert.equal(await metric(url, "mcp_proxy_streams_refused_total"), refusedBefore + 1);
    } finally {
      for (const stream of held) stream.close();
    }
  });
});
