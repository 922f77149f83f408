// Problems found after the schema (files that cannot be read, rules across fields) name the
// source of their field as the schema's do: a new user's trial saw
// "oidc.client_secret_file: cannot read … (ENOENT)" and a public URL refused without the
// variable that set it, and "http://u:p@host" refused as having a "path, query or fragment".
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { loadConfig } from "../../../src/config/load.ts";
import { OIDC, problemsOf } from "../../support/config-problems.ts";

describe("where a problem's value came from", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-sources-"));
  const missing = path.join(dir, "no-such-secret");

  it("names the variable or the file that gave an unreadable secret file", () => {
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: { ...OIDC, OIDC_CLIENT_SECRET_FILE: missing } })),
      [`oidc.client_secret_file: cannot read ${missing} (ENOENT) [from environment variable OIDC_CLIENT_SECRET_FILE]`],
    );
    const file = path.join(dir, "config.yaml");
    writeFileSync(file, `oidc:\n  client_secret_file: ${missing}\n`);
    assert.deepEqual(
      problemsOf(() => loadConfig({ file, env: OIDC })),
      [`oidc.client_secret_file: cannot read ${missing} (ENOENT) [from ${file}]`],
    );
  });

  it("names the flag or variable of a refused public URL, and says userinfo is what is wrong", () => {
    const [viaFlag] = problemsOf(() =>
      loadConfig({
        env: { ...OIDC, MCP_PUBLIC_URL: "https://ok.example.com" },
        flags: { publicUrl: "https://a.example.com/x" },
      }),
    );
    assert.match(String(viaFlag), /^server\.public_url: .*no path, query or fragment.* \[from flag --public-url\]$/);

    for (const publicUrl of ["http://u:p@mcp.example.com", "https://user@mcp.example.com:8443/"]) {
      const problems = problemsOf(() => loadConfig({ env: { ...OIDC, MCP_PUBLIC_URL: publicUrl } }));
      assert.equal(problems.length, 1, problems.join("\n"));
      const [problem] = problems as [string];
      assert.match(problem, /^server\.public_url: .*without a user name or password/);
      assert.doesNotMatch(problem, /path, query or fragment|u:p|user@/);
      assert.ok(problem.endsWith(" [from environment variable MCP_PUBLIC_URL]"), problem);
    }
  });

  it("adds no source to a problem about a field no source set", () => {
    const problems = problemsOf(() => loadConfig({ env: { MCP_ENV: "production", ...OIDC } }));
    const missing = problems.find((p) => p.startsWith("server.public_url:"));
    assert.ok(missing && !missing.includes("[from "), problems.join("\n"));
  });
});
