// Bad input of every kind gets a 4xx (JSON where the proxy answers), never a crash.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { type Stack, startStack } from "../support/stack.ts";

async function rawExchange(port: number, bytes: string): Promise<string> {
  const socket = net.connect(port, "127.0.0.1");
  socket.write(bytes);
  let answer = "";
  for await (const chunk of socket) answer += chunk;
  return answer;
}

describe("malformed requests", () => {
  let stack: Stack;
  let url: string;
  before(async () => {
    stack = await startStack();
    url = `http://127.0.0.1:${stack.ports[0]}`;
  });
  after(() => stack.close());

  const cases: [string, string, RequestInit, number][] = [
    ["garbage cookies", "/mcp", { headers: { cookie: "%%%;;;===; mcp_session=%E0%A4%A; =x" } }, 401],
    ["a session cookie with a bad signature", "/mcp", { headers: { cookie: "mcp_session=s:abc.def" } }, 401],
    ["bad percent-encoding in the path", "/%E0%A4%A/x%2fetc", {}, 401],
    ["encoded dot segments in the path", "/%E0%A4%A/..%2f..%2fetc", {}, 400],
    ["a callback with repeated parameters", "/callback?state=a&state=b&code=x&code=y", {}, 400],
    ["a callback without parameters", "/callback", {}, 400],
    ["a return path that is not a string", "/login?rd[a]=1", { headers: { accept: "application/json" } }, 302],
    ["a foreign Origin", "/mcp", { method: "POST", headers: { origin: "https://evil.example" }, body: "{}" }, 403],
    ["the null Origin", "/mcp", { method: "POST", headers: { origin: "null" }, body: "{}" }, 403],
    ["an unsupported method without a session", "/mcp", { method: "PATCH", body: "x" }, 401],
  ];
  for (const [name, path, init, status] of cases) {
    it(`answers ${name} with ${status}`, async () => {
      const response = await fetch(`${url}${path}`, { ...init, redirect: "manual" });
      assert.equal(response.status, status);
      if (status !== 302) {
        const body = (await response.json()) as { error: { code: string }; request_id: string };
        assert.ok(body.error.code);
        assert.ok(body.request_id);
      } else {
        assert.match(response.headers.get("location") ?? "", /^http:\/\/localhost:\d+\/auth\?/);
      }
    });
  }

  it("answers broken HTTP with 400 and oversized headers with 431", async () => {
    assert.match(await rawExchange(stack.ports[0] as number, "GARBAGE\r\n\r\n"), /^HTTP\/1\.1 400/);
    const big = `GET /mcp HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`;
    assert.match(await rawExchange(stack.ports[0] as number, big), /^HTTP\/1\.1 431/);
  });

  it("is still alive and ready after all of it", async () => {
    const response = await fetch(`${url}/readyz`);
    assert.equal(response.status, 200);
  });
});
