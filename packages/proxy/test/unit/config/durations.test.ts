// Durations read alike from every source: a new user's trial found MCP_SHUTDOWN_TIMEOUT=30,
// SESSION_TTL=86400 and a quoted YAML "300" read as milliseconds (ms("30") is 30 ms), while
// the example config and the error text promise "a number of seconds".
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { loadConfig } from "../../../src/config/load.ts";
import { OIDC, problemsOf } from "../../support/config-problems.ts";

function yamlFile(text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "mcp-proxy-durations-")), "config.yaml");
  writeFileSync(file, text);
  return file;
}

describe("durations", () => {
  it("reads a plain number as seconds from the environment and from quoted and unquoted YAML", () => {
    const fromEnv = loadConfig({
      env: { ...OIDC, MCP_SHUTDOWN_TIMEOUT: "30", MCP_TARGET_RESPONSE_TIMEOUT: "300", SESSION_TTL: "86400" },
    }).config;
    assert.equal(fromEnv.server.shutdown_timeout, 30_000);
    assert.equal(fromEnv.target.response_timeout, 300_000);
    assert.equal(fromEnv.session.ttl, 86_400_000);

    const file = yamlFile(
      "server:\n  shutdown_timeout: \"30\"\n  request_timeout: 45\ntarget:\n  response_timeout: '1.5'\nsession:\n  ttl: 86400\n",
    );
    const fromFile = loadConfig({ file, env: OIDC }).config;
    assert.equal(fromFile.server.shutdown_timeout, 30_000);
    assert.equal(fromFile.server.request_timeout, 45_000);
    assert.equal(fromFile.target.response_timeout, 1500);
    assert.equal(fromFile.session.ttl, 86_400_000);
  });

  it("still reads units, and text with a unit the same from every source", () => {
    const file = yamlFile("session:\n  ttl: 8h\n  cache_ttl: 250ms\n");
    const { config } = loadConfig({ file, env: { ...OIDC, MCP_SHUTDOWN_TIMEOUT: " 2.5 ", MCP_REQUEST_TIMEOUT: "5m" } });
    assert.equal(config.session.ttl, 8 * 3600_000);
    assert.equal(config.session.cache_ttl, 250);
    assert.equal(config.server.shutdown_timeout, 2500);
    assert.equal(config.server.request_timeout, 300_000);
  });

  it("refuses negative and garbage durations, naming the field, the value and where it came from", () => {
    const file = yamlFile("server:\n  shutdown_timeout: -5\nsession:\n  ttl: '-30'\n");
    const problems = problemsOf(() =>
      loadConfig({ file, env: { ...OIDC, MCP_TARGET_RESPONSE_TIMEOUT: "soon", SESSION_CACHE_TTL: "1e3" } }),
    );
    const text = problems.join("\n");
    const source = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match(text, new RegExp(`server\\.shutdown_timeout: "-5" is not a duration.*\\[from ${source}\\]`));
    assert.match(text, new RegExp(`session\\.ttl: "-30" is not a duration.*\\[from ${source}\\]`));
    assert.match(
      text,
      /target\.response_timeout: "soon" is not a duration; write e\.g\. 30s, 5m, 24h or a number of seconds.*\[from environment variable MCP_TARGET_RESPONSE_TIMEOUT\]/,
    );
    assert.match(text, /session\.cache_ttl: "1e3" is not a duration.*\[from environment variable SESSION_CACHE_TTL\]/);
    assert.equal(problems.length, 4, text);
  });
});
