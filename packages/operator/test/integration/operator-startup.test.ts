// How node_modules/.bin/mcp-oidc-operator fails at start: a setup problem is one clear log
// line and exit code 1, not an uncaught exception's stack trace.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";

const BIN = path.resolve(import.meta.dirname, "../../../../node_modules/.bin/mcp-oidc-operator");

describe("mcp-oidc-operator start-up", () => {
  let busy: net.Server;
  let dir: string;

  before(async () => {
    busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    dir = mkdtempSync(path.join(tmpdir(), "operator-startup-"));
    // Never contacted: the ports are bound before the API server is.
    writeFileSync(
      path.join(dir, "kubeconfig"),
      "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n" +
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n",
    );
  });
  after(() => {
    busy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a busy port ends the operator with one clear line (was an uncaught stack trace)", async () => {
    const { port } = busy.address() as net.AddressInfo;
    const child = spawn(
      BIN,
      ["--kubeconfig", path.join(dir, "kubeconfig"), "--bind-address", "127.0.0.1", "--health-port", String(port)],
      { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "" } },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, 1);
    const errors = output
      .trim()
      .split("\n")
      .filter((line) => !line.includes('"level":"info"'));
    assert.equal(errors.length, 1, output);
    const line = JSON.parse(errors[0] ?? "") as { level: string; message: string };
    assert.equal(line.level, "error");
    assert.equal(line.message, `cannot serve /healthz and /readyz on 127.0.0.1:${port}: the port is already in use`);
    assert.doesNotMatch(output, /\n\s+at /);
  });

  it("refuses lease terms in which a standby could take over before the leader gives up", () => {
    const cases: [string[], RegExp][] = [
      [["--leader-elect-renew-deadline", "20"], /--leader-elect-renew-deadline must be less than/],
      [["--leader-elect-retry-period", "10"], /--leader-elect-retry-period must be less than/],
    ];
    for (const [args, message] of cases) {
      const result = spawnSync(BIN, ["--kubeconfig", path.join(dir, "kubeconfig"), ...args], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "" },
      });
      assert.equal(result.status, 1, args.join(" "));
      assert.match(result.stderr, message);
    }
  });

  it("a kubeconfig that cannot be read, or none at all, is one clear line and exit code 2 (was a stack trace, or retrying forever)", () => {
    const home = path.join(dir, "empty-home");
    mkdirSync(home, { recursive: true });
    const malformed = path.join(dir, "malformed-kubeconfig");
    writeFileSync(malformed, "apiVersion: v1\nclusters: [\n  - bad: : :\n");
    const cases: [string[], string][] = [
      [["--kubeconfig", "/nonexistent"], "error: cannot read the kubeconfig /nonexistent: no such file"],
      // The YAML parser's message goes on with an excerpt of the file and a caret (5 lines).
      [
        ["--kubeconfig", malformed],
        `error: cannot read the kubeconfig ${malformed}: missed comma between flow collection entries (3:3)`,
      ],
      // No KUBECONFIG, no ~/.kube/config, no ServiceAccount token: nothing to connect to.
      [
        [],
        "error: no kubeconfig found and not in a cluster: pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config",
      ],
    ];
    for (const [args, message] of cases) {
      const result = spawnSync(BIN, args, {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", HOME: home },
        timeout: 60_000,
      });
      assert.equal(result.status, 2, `${args.join(" ")}: ${result.stderr}${result.stdout}`);
      assert.equal(result.stderr.trim(), message);
      assert.doesNotMatch(result.stdout, /HTTP protocol is not allowed/);
    }
  });
});
