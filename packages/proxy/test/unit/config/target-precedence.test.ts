// The MCP server's address across sources: a new user's trial found --target-host,
// --target-port, MCP_TARGET_HOST and MCP_TARGET_PORT silently ignored when the file set
// target.url, against "flags > environment > files".
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../../src/config/load.ts";
import { configuredUrls } from "../../../src/upstream/endpoints.ts";

const OIDC = { OIDC_DISCOVERY_URL: "https://id.example.com", OIDC_CLIENT_ID: "proxy" };

function yamlFile(text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "mcp-proxy-target-")), "config.yaml");
  writeFileSync(file, text);
  return file;
}

function upstreamOf(options: Parameters<typeof loadConfig>[0]): string[] {
  return configuredUrls(loadConfig(options).config.target).map((url) => url.href);
}

describe("target address precedence", () => {
  const file = yamlFile("target:\n  url: http://mcp-server:3000/base\n");

  it("lets a flag's or variable's host and port win over a file's target.url, keeping its path", () => {
    assert.deepEqual(upstreamOf({ file, env: { ...OIDC, MCP_TARGET_PORT: "4000" } }), ["http://mcp-server:4000/base"]);
    assert.deepEqual(upstreamOf({ file, env: OIDC, flags: { targetHost: "10.0.0.7" } }), ["http://10.0.0.7:3000/base"]);
    assert.deepEqual(
      upstreamOf({ file, env: { ...OIDC, MCP_TARGET_HOST: "a.internal" }, flags: { targetPort: "5000" } }),
      ["http://a.internal:5000/base"],
    );
    assert.deepEqual(upstreamOf({ file, env: { ...OIDC, MCP_TARGET_HOST: "::1", MCP_TARGET_PROTOCOL: "https" } }), [
      "https://[::1]:3000/base",
    ]);
  });

  it("writes the rewritten target.url in the form it had: no path gains no slash", () => {
    const targetUrl = (url: string, env: Record<string, string>) =>
      loadConfig({ file: yamlFile(`target:\n  url: "${url}"\n`), env: { ...OIDC, ...env } }).config.target.url;
    const elsewhere = { MCP_TARGET_HOST: "b", MCP_TARGET_PORT: "2" };
    assert.equal(targetUrl("http://a:1", elsewhere), "http://b:2");
    assert.equal(targetUrl("http://a:1/", elsewhere), "http://b:2/");
    assert.equal(targetUrl("http://a:1?x=1", elsewhere), "http://b:2?x=1");
    assert.equal(targetUrl("http://user@a:1/base", elsewhere), "http://user@b:2/base");
    assert.equal(targetUrl("http://a:1", { MCP_TARGET_PROTOCOL: "https" }), "https://a:1");
  });

  it("keeps target.url when the same or a later source sets it", () => {
    const both = yamlFile("target:\n  host: ignored\n  port: 1\n  url: http://mcp-server:3000/base\n");
    assert.deepEqual(upstreamOf({ file: both, env: OIDC }), ["http://mcp-server:3000/base"]);
    assert.deepEqual(
      upstreamOf({ file, env: { ...OIDC, MCP_TARGET_PORT: "4000", MCP_TARGET_URL: "http://other:9000" } }),
      ["http://other:9000/"],
    );
    assert.deepEqual(
      upstreamOf({ file, env: { ...OIDC, MCP_TARGET_HOST: "h" }, flags: { targetUrl: "http://flag:1/x" } }),
      ["http://flag:1/x"],
    );
  });

  it("refuses a later host or port over an earlier target.urls, naming both sources", () => {
    const several = yamlFile("target:\n  urls: [http://a:1, http://b:1]\n");
    try {
      loadConfig({ file: several, env: OIDC, flags: { targetPort: "4000" } });
      assert.fail("expected a ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      assert.deepEqual(error.problems, [
        `target.port: set by flag --target-port, but target.urls (from ${several}) lists the endpoints; set target.urls there instead (MCP_TARGET_URLS)`,
      ]);
    }
  });

  it("says at start when a later source's host or port rewrote a file's target.url, without its credentials", () => {
    const secret = yamlFile("target:\n  url: http://svc:s3cret@my-mcp:8000/api?api_key=TOPSECRET\n");
    const { notices } = loadConfig({
      file: secret,
      env: { ...OIDC, MCP_TARGET_HOST: "host.docker.internal", MCP_TARGET_PORT: "3000" },
    });
    assert.deepEqual(notices, [
      `target.url from ${secret} (http://redacted:redacted@my-mcp:8000/api?api_key=redacted) is used as http://redacted:redacted@host.docker.internal:3000/api?api_key=redacted: target.host from environment variable MCP_TARGET_HOST, target.port from environment variable MCP_TARGET_PORT outrank it`,
    ]);
    assert.deepEqual(loadConfig({ file, env: OIDC }).notices, []);
  });

  // A security review found a URL's setters silently ignoring or cutting such hosts: the
  // file's host stayed in use, or traffic went to a part of what was written.
  it("refuses a target host that is not a host alone, naming its source", () => {
    for (const host of [
      "evil.example:9999",
      "user:pw@evil.example",
      "[::1]:5",
      "fe80::1%eth0",
      "h%2f",
      " h ",
      "h/x?y#z",
      "h\\x",
      "a b",
      "1:2",
      "1.2.3.256",
      "foo.123",
      "0x7f.1",
    ]) {
      try {
        loadConfig({ file, env: { ...OIDC, MCP_TARGET_HOST: host } });
        assert.fail(`expected ${host} to be refused`);
      } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(
          error.problems.join("\n"),
          /^target\.host: must be a host name or IP address alone .*\[from environment variable MCP_TARGET_HOST\]$/,
        );
      }
    }
  });

  it("takes host names, IPv4 and IPv6 addresses, and uses an IPv6 host without a url", () => {
    for (const host of ["mcp-server", "10.0.0.5", "host.docker.internal", "my_svc", "mcp.internal."]) {
      assert.deepEqual(upstreamOf({ env: { ...OIDC, MCP_TARGET_HOST: host } }), [`http://${host}:3000/`]);
    }
    assert.deepEqual(upstreamOf({ env: { ...OIDC, MCP_TARGET_HOST: "::1" } }), ["http://[::1]:3000/"]);
    assert.deepEqual(upstreamOf({ env: { ...OIDC, MCP_TARGET_HOST: "[2001:db8::1]" } }), [
      "http://[2001:db8::1]:3000/",
    ]);
  });
});
