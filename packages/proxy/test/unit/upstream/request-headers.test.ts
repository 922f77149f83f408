// The headers the MCP server receives (upstream/request-headers.ts), built from a request's
// raw header list: what is dropped, what is kept as sent, what the proxy adds last.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import type { SessionUser } from "../../../src/auth/session-user.ts";
import { loadConfig } from "../../../src/config/load.ts";
import { ProxyCookies } from "../../../src/proxy-cookies.ts";
import { ProxyHeaders } from "../../../src/proxy-headers.ts";
import { IdentityHeaders } from "../../../src/upstream/identity-headers.ts";
import { type UpstreamHeaderParts, upstreamHeaders } from "../../../src/upstream/request-headers.ts";

const { config } = loadConfig({ env: { AUTH_MODE: "bypass" } });
const parts: UpstreamHeaderParts = {
  headers: new ProxyHeaders(config.headers),
  cookies: new ProxyCookies(config),
  identity: new IdentityHeaders(config.headers),
  publicHost: undefined,
};
const alice: SessionUser = {
  id: "alice",
  email: "alice@example.com",
  emailVerified: true,
  name: "Alice",
  groups: ["mcp-users"],
  provider: "https://id.example.com",
};

/** A request as Node hands it over: the raw list, the joined map, the peer's address. */
function request(raw: string[]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    headers[name] = headers[name] === undefined ? (raw[i + 1] as string) : `${headers[name]}, ${raw[i + 1]}`;
  }
  return { rawHeaders: raw, headers, socket: { remoteAddress: "10.0.0.7" } } as unknown as IncomingMessage;
}

/** The flat list as [name, value] pairs with lower-case names. */
const pairs = (flat: string[]) =>
  Array.from({ length: flat.length / 2 }, (_, i) => [(flat[2 * i] as string).toLowerCase(), flat[2 * i + 1]]);

describe("upstream request headers", () => {
  it("keeps repeated headers as separate lines, as the client sent them", () => {
    const out = pairs(
      upstreamHeaders(
        request(["Mcp-Method", "a", "mcp-method", "b"]),
        { requestId: "r1", forwardedProto: "http", user: undefined },
        parts,
      ),
    );
    assert.deepEqual(
      out.filter(([name]) => name === "mcp-method"),
      [
        ["mcp-method", "a"],
        ["mcp-method", "b"],
      ],
    );
  });

  it("drops the client's credentials, identity look-alikes, hop-by-hop headers and what Connection names", () => {
    const raw = [
      "Authorization",
      "Bearer secret",
      "X-User-ID",
      "mallory",
      "X_User_Email",
      "mallory@example.com",
      "Connection",
      "keep-alive, X-Secret-Hop",
      "X-Secret-Hop",
      "1",
      "Keep-Alive",
      "timeout=5",
      "Accept",
      "application/json",
    ];
    const out = pairs(upstreamHeaders(request(raw), { requestId: "r2", forwardedProto: "https", user: alice }, parts));
    const names = out.map(([name]) => name);
    for (const dropped of ["authorization", "x_user_email", "connection", "x-secret-hop", "keep-alive"]) {
      assert.ok(!names.includes(dropped), dropped);
    }
    assert.deepEqual(
      out.filter(([name]) => name === "x-user-id"),
      [["x-user-id", "alice"]],
      "only the proxy's identity",
    );
    assert.ok(names.includes("accept"));
  });

  it("removes only the proxy's own cookies and adds forwarding information and the request id last", () => {
    const raw = [
      "Cookie",
      "mcp_session=s%3Aabc; theme=dark",
      "X-Forwarded-For",
      "203.0.113.9",
      "Host",
      "mcp.example.com",
    ];
    const out = pairs(
      upstreamHeaders(request(raw), { requestId: "r3", forwardedProto: "https", user: undefined }, parts),
    );
    assert.deepEqual(
      out.find(([name]) => name === "cookie"),
      ["cookie", "theme=dark"],
    );
    const forwarded = out.filter(([name]) => name === "x-forwarded-for");
    assert.deepEqual(forwarded, [["x-forwarded-for", "10.0.0.7"]], "an untrusted chain is replaced");
    assert.deepEqual(
      out.find(([name]) => name === "x-forwarded-host"),
      ["x-forwarded-host", "mcp.example.com"],
    );
    assert.deepEqual(
      out.find(([name]) => name === "x-request-id"),
      ["x-request-id", "r3"],
    );
  });

  it("keeps the chain from a proxy server.trust_proxy trusts, not from another peer", () => {
    const from = (trust: string[]) =>
      pairs(
        upstreamHeaders(
          request(["X-Forwarded-For", "203.0.113.9"]),
          { requestId: "r5", forwardedProto: "https", user: undefined },
          { ...parts, headers: new ProxyHeaders(config.headers, trust) },
        ),
      ).find(([name]) => name === "x-forwarded-for");
    assert.deepEqual(from(["10.0.0.0/8"]), ["x-forwarded-for", "203.0.113.9, 10.0.0.7"]);
    assert.deepEqual(from(["192.168.0.1"]), ["x-forwarded-for", "10.0.0.7"]);
  });

  it("keeps the chain of trusted proxies in front (server.trust_proxy)", () => {
    const trusting = { ...parts, headers: new ProxyHeaders(config.headers, true), publicHost: "public.example.com" };
    const out = pairs(
      upstreamHeaders(
        request(["X-Forwarded-For", "203.0.113.9"]),
        { requestId: "r4", forwardedProto: "https", user: undefined },
        trusting,
      ),
    );
    assert.deepEqual(
      out.find(([name]) => name === "x-forwarded-for"),
      ["x-forwarded-for", "203.0.113.9, 10.0.0.7"],
    );
    assert.deepEqual(
      out.find(([name]) => name === "x-forwarded-host"),
      ["x-forwarded-host", "public.example.com"],
    );
  });
});
