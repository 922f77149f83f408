// The package `npm pack` makes of the proxy, installed the way a user installs it: the
// tarball into an empty directory outside the repository with `npm install` (offline: the
// packed package needs nothing from a registry, its bundle carries every dependency). Its
// command answers --version and --config-test, then signs a real MCP client in and proxies a
// tool call. The tarball had no dist/ and named the workspace-only launcher as a dependency.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
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

const PACKAGE_DIR = path.resolve(import.meta.dirname, "../..");
/** The user's PATH with the Node running the tests first: the one prepack's build and the command run on. */
const PATH = [path.dirname(process.execPath), process.env.PATH ?? ""].join(path.delimiter);

function npm(args: string[], cwd: string) {
  const result = spawnSync("npm", args, { cwd, encoding: "utf8", env: { ...process.env, PATH } });
  assert.equal(result.status, 0, `npm ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

describe("the packed package (npm pack, npm install)", () => {
  let installDir: string;
  let command: string;

  before(() => {
    const packDir = mkdtempSync(path.join(tmpdir(), "proxy-pack-"));
    npm(["pack", "--pack-destination", packDir], PACKAGE_DIR);
    const tarball = readdirSync(packDir).find((file) => file.endsWith(".tgz"));
    assert.ok(tarball, "npm pack wrote a tarball");
    installDir = mkdtempSync(path.join(tmpdir(), "proxy-install-"));
    writeFileSync(path.join(installDir, "package.json"), "{}\n");
    npm(["install", "--offline", "--no-audit", "--no-fund", path.join(packDir, tarball)], installDir);
    command = path.join(installDir, "node_modules/.bin/mcp-oidc-proxy");
  });

  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(command, args, { cwd: installDir, encoding: "utf8", env: { PATH, ...env } });

  it("installs only itself, and its command prints the version", () => {
    assert.deepEqual(readdirSync(path.join(installDir, "node_modules")).sort(), [
      ".bin",
      ".package-lock.json",
      "@mcp-oidc-proxy",
    ]);
    const version = run(["--version"]);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);
  });

  it("checks a configuration with --config-test: accepts a good one, names the problems of another", () => {
    writeFileSync(path.join(installDir, "good.yaml"), "auth:\n  mode: bypass\n");
    const good = run(["--config", "good.yaml", "--config-test"]);
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /configuration OK/);
    writeFileSync(path.join(installDir, "bad.yaml"), "environment: production\nauth:\n  mode: bypass\n");
    const bad = run(["--config", "bad.yaml", "--config-test"]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /auth\.mode: "bypass" turns authentication off/);
  });

  describe("running", () => {
    let stack: PackagedStack;
    let port: number;
    before(async () => {
      port = await freePort();
      stack = await startPackagedStack("packed", port);
    });
    after(() => stack.close());

    it("signs an MCP client in and proxies its tool call, then stops on SIGTERM", async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "proxy-packed-run-"));
      writePackagedConfig(dir, stack, "packed", port);
      const proxy = spawn(command, ["--config", "config.yaml"], {
        cwd: dir,
        env: { PATH },
        stdio: ["ignore", "pipe", "pipe"],
      });
      await signInThenStop(proxy, port);
    });
  });
});
