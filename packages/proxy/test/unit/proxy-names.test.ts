// The owners of the proxy's cookie and header names, and the path and Host rules, on their own.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { createHostCheck } from "../../src/middleware/host-check.ts";
import { ProxyCookies } from "../../src/proxy-cookies.ts";
import { ProxyHeaders } from "../../src/proxy-headers.ts";
import { requestPath } from "../../src/request-path.ts";

const { config } = loadConfig({ env: { AUTH_MODE: "bypass" } });

describe("proxy cookies", () => {
  const cookies = new ProxyCookies(config);

  it("knows every variant of its names and nothing else", () => {
    for (const name of [
      "mcp_session",
      "__Host-mcp_session",
      "mcp_oauth",
      "mcp_oauth.sig",
      "__Host-mcp_oauth.sig",
      "mcp_oauth.legacy.sig",
      "mcp_oauth_interaction",
      "mcp_oauth_resume.sig",
      "mcp_login_abc",
      "__Host-mcp_login_abc",
    ]) {
      assert.equal(cookies.isProxyCookie(name), true, name);
    }
    for (const name of ["session", "mcp_sessionx", "my_mcp_oauth", "mcp_oauth_other"]) {
      assert.equal(cookies.isProxyCookie(name), false, name);
    }
  });

  it("drops only the proxy's cookies and drops the header when nothing is left", () => {
    assert.equal(cookies.withoutProxyCookies("a=1; mcp_session=s; b=2"), "a=1; b=2");
    assert.equal(cookies.withoutProxyCookies("mcp_oauth=x; mcp_oauth.sig=y"), undefined);
    assert.equal(cookies.withoutProxyCookies("%%%;;; mcp_session"), undefined);
    assert.equal(cookies.withoutProxyCookies("a=1;b=2 ;  c"), "a=1;b=2 ;  c", "unchanged without the proxy's");
  });

  it("follows a configured session cookie name", () => {
    const { config: renamed } = loadConfig({ env: { AUTH_MODE: "bypass", SESSION_COOKIE_NAME: "sid" } });
    const custom = new ProxyCookies(renamed);
    assert.equal(custom.isProxyCookie("sid"), true);
    assert.equal(custom.isProxyCookie("mcp_session"), false);
  });
});

describe("proxy headers", () => {
  const headers = new ProxyHeaders({ ...config.headers, request_id: "X-Correlation-ID" });

  it("strips names folded: any case, underscores as dashes", () => {
    for (const name of [
      "X_User_ID",
      "x-user-id",
      "X-USER_GROUPS",
      "Forwarded",
      "X_Real_IP",
      "x-forwarded-prefix",
      "X_Correlation_ID",
      // Other authenticating proxies' and platforms' identity headers.
      "X-Auth-Request-User",
      "X_Auth_Request_Email",
      "Remote-User",
      "X-Remote-User",
      "X-WEBAUTH-USER",
      "X-Authenticated-User",
      "X-Pomerium-Claim-Email",
      "X-Amzn-Oidc-Identity",
      "X-MS-CLIENT-PRINCIPAL-NAME",
      "Cf-Access-Authenticated-User-Email",
      "X-Goog-Authenticated-User-Email",
      "X-Original-URL",
      "Remote-Groups",
      "X-Remote-Extra-Scopes",
      "X-authentik-username",
      "Tailscale-User-Login",
      "OIDC_CLAIM_email",
      "OIDC_access_token",
    ]) {
      assert.equal(headers.isStripped(name), true, name);
    }
    for (const name of ["Mcp-Method", "Mcp-Param-Region", "Content-Type", "X-Custom"]) {
      assert.equal(headers.isStripped(name), false, name);
    }
  });

  it("allows the MCP families and the standard headers in preflights, and exposes the request id", () => {
    assert.deepEqual(
      headers.allowedRequestHeaders("Content-Type, Mcp-Param-A_B, mcp-param-x, X-Other, x-correlation-id"),
      ["Content-Type", "mcp-param-x", "x-correlation-id"],
    );
    assert.match(headers.exposed, /X-Correlation-ID/);
  });
});

describe("request path", () => {
  it("keeps unambiguous paths as they are", () => {
    for (const path of ["/mcp", "/a..b/c", "/.well-known/x", "/public/a%2Fb", "/x;y=1", "/..."]) {
      assert.equal(requestPath(`${path}?q=..`), path);
    }
  });

  it("refuses dot segments in every spelling, and targets that are not paths", () => {
    for (const url of ["/a/..", "/a/%2E%2e/b", "/..;x/b", "/a\\..\\b", "/a%5c..%5cb", "/a%2f.", "http://h/x", "*"]) {
      assert.throws(() => requestPath(url), { status: 400 }, url);
    }
  });
});

describe("host check", () => {
  const request = (host: string | undefined) => ({ headers: host === undefined ? {} : { host } }) as never;

  it("accepts the public URL's host and aliases, any port and case, and refuses others with 421", () => {
    const check = createHostCheck({
      ...config.server,
      public_url: "https://mcp.example.com",
      allowed_hosts: ["svc.ns"],
    });
    assert.ok(check);
    for (const host of ["mcp.example.com", "MCP.example.com:443", "mcp.example.com.", "svc.ns:8080"])
      check(request(host));
    for (const host of ["evil.example", "mcp.example.com@evil.example", "svc.ns.evil.example", undefined]) {
      assert.throws(() => check(request(host)), { status: 421 }, String(host));
    }
  });

  it("is off without a public URL and aliases", () => {
    assert.equal(createHostCheck({ ...config.server, allowed_hosts: [] }), undefined);
  });
});
