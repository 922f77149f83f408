// The single executable (make binary, which make test runs first): one file, no Node or
// node_modules beside it, run with a config file the way a user runs it on a server, in
// front of a real MCP server with a real provider, and used by the SDK's OAuth client.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { VERSION } from "../../src/version.ts";
import {
  type PackagedStack,
  signInThenStop,
  startPackagedStack,
  writePackagedConfig,
} from "../support/packaged-proxy.ts";
import { freePort } from "../support/ports.ts";
import { finished } from "../support/process.ts";

const BINARY = path.resolve(import.meta.dirname, "../../../../dist/mcp-oidc-proxy");

/** Runs the binary from an empty directory with an environment that has no Node on PATH. */
function runBinary(args: string[], cwd: string) {
  return spawn(BINARY, args, { cwd, env: { PATH: "/usr/bin:/bin" }, stdio: ["ignore", "pipe", "pipe"] });
}

describe("single executable", () => {
  let stack: PackagedStack;
  let dir: string;
  let port: number;

  before(async () => {
    assert.ok(existsSync(BINARY), "dist/mcp-oidc-proxy is missing: run make binary");
    port = await freePort();
    stack = await startPackagedStack("binary", port);
    dir = mkdtempSync(path.join(tmpdir(), "mcp-binary-"));
  });
  after(() => stack.close());

  it("prints its version, and refuses an invalid config naming the field (exit 2)", async () => {
    const version = await finished(runBinary(["--version"], dir));
    assert.equal(version.stdout.trim(), VERSION);
    writeFileSync(path.join(dir, "bad.yaml"), "server:\n  port: eighty\n");
    const bad = await finished(runBinary(["--config", "bad.yaml"], dir));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /server\.port/);
  });

  it("runs from a config file, signs an MCP client in and proxies its calls, and stops on SIGTERM", async () => {
    writePackagedConfig(dir, stack, "binary", port);
    await signInThenStop(runBinary(["--config", "config.yaml"], dir), port);
  });
});
