// The mcp-oidc-proxy command as a user runs it: node_modules/.bin/mcp-oidc-proxy.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { freePort } from "../support/ports.ts";
import { finished, logLine, olderNode } from "../support/process.ts";

const BIN = path.resolve(import.meta.dirname, "../../../../node_modules/.bin/mcp-oidc-proxy");

function run(args: string[], env: Record<string, string> = {}, node?: string) {
  const [command, argv] = node ? [node, [BIN, ...args]] : [BIN, args];
  return spawn(command, argv, { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

/** Resolves once nothing accepts connections on the port any more. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

/** Whether a process runs (a zombie, exited but not yet reaped by its new parent, does not). */
function running(pid: number): boolean {
  try {
    // The state follows the command name in parentheses: R, S, D… or Z.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Resolves once `done` holds, checking every 50 ms for at most 30 s (a process's exit seen from outside it). */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (done()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe("mcp-oidc-proxy command", () => {
  it("prints its version and help", async () => {
    const version = await finished(run(["--version"]));
    assert.equal(version.code, 0);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
    const help = await finished(run(["--help"]));
    for (const flag of [
      "--config",
      "--host",
      "--port",
      "--target-host",
      "--target-port",
      "--auth-mode",
      "--log-level",
    ]) {
      assert.ok(help.stdout.includes(flag), `help mentions ${flag}`);
    }
  });

  it("stops with exit code 2 and names every bad field of an invalid configuration", async () => {
    const result = await finished(run(["--port", "nope"], { AUTH_MODE: "oidc", OIDC_CLIENT_ID: "x" }));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /server\.port: .*"nope".*flag --port/);
  });

  it("a flag value outside its choices (--env qa) exited 1: stops with exit code 2 naming the choices", async () => {
    const result = await finished(run(["--env", "qa", "--config-test"]));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--env <name>.*qa.*development, staging, production/s);
    const unknown = await finished(run(["--no-such-flag"]));
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option '--no-such-flag'/);
    const version = await finished(run(["--version"]));
    assert.equal(version.code, 0);
  });

  it("stops with exit code 2 naming an OTEL_* tracing value it does not support", async () => {
    const result = await finished(
      run(["--auth-mode", "bypass", "--config-test"], {
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      }),
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported/);
  });

  it("validates a config file with --config-test without starting", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-cli-"));
    const file = path.join(dir, "config.yaml");
    writeFileSync(file, "auth:\n  mode: bypass\n");
    const result = await finished(run(["--config", file, "--config-test"]));
    assert.equal(result.code, 0);
    assert.match(result.stdout, /configuration OK/);
  });

  it("refuses with --config-test a public URL with a path, whose redirect URI would have dropped it", async () => {
    for (const publicUrl of ["https://mcp.example.com/tools", "https://mcp.example.com/?x=1#frag"]) {
      const result = await finished(run(["--auth-mode", "bypass", "--public-url", publicUrl, "--config-test"]));
      assert.equal(result.code, 2, publicUrl);
      assert.ok(result.stderr.includes(`server.public_url: must be an origin`), result.stderr);
      assert.ok(result.stderr.includes(`(got ${publicUrl})`), result.stderr);
    }
  });

  it("names every problem of an MCP policy with --config-test, and exits 2", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-cli-"));
    const file = path.join(dir, "config.yaml");
    writeFileSync(
      file,
      "auth:\n  mode: bypass\nmcp_policy:\n  rules:\n    - { name: a, groups: [admins] }\n    - { name: a, tools: [x], scopes: [s] }\n",
    );
    const result = await finished(run(["--config", file, "--config-test"]));
    assert.equal(result.code, 2);
    const output = result.stdout + result.stderr;
    assert.ok(
      output.includes(
        `mcp_policy.rules[0]: rule "a" names no tools, resources or prompts; list the globs it covers [from ${file}]`,
      ),
      output,
    );
    assert.ok(
      output.includes(
        `mcp_policy.rules[1].name: "a" is also the name of mcp_policy.rules[0]; names must be unique [from ${file}]`,
      ),
      output,
    );
    assert.ok(output.includes(`mcp_policy.rules[1].scopes: scopes are properties of bearer tokens`), output);
  });

  // A new user's trial: `users: []` and `email_domains: []` let every signed-in user run
  // deploy, and --config-test said OK; `@example.com` never matched and passed too.
  it("--config-test refuses empty condition lists and what can never match, every problem in one run", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-cli-"));
    const file = path.join(dir, "config.yaml");
    writeFileSync(
      file,
      `auth: { mode: bypass }
oidc: { groups_claim: "" }
mcp_policy:
  rules:
    - { name: deploy, tools: [deploy], users: [], email_domains: [] }
    - { name: deploy, tools: [x], groups: admins, tool: [y] }
    - { name: docs, resources: ["file:///docs/**"], email_domains: ["@example.com"] }
`,
    );
    const result = await finished(run(["--config", file, "--config-test"]));
    assert.equal(result.code, 2);
    const problems = result.stderr.split("\n").filter((line) => line.startsWith("  - "));
    assert.deepEqual(problems, [
      `  - oidc.groups_claim: must name a claim (default groups) (got "") [from ${file}]`,
      `  - mcp_policy.rules[0].users: an empty list matches nobody; remove it or list values (got []) [from ${file}]`,
      `  - mcp_policy.rules[0].email_domains: an empty list matches nobody; remove it or list values (got []) [from ${file}]`,
      `  - mcp_policy.rules[1].groups: must be a list, e.g. [admins] or ["admin_*"] (got "admins") [from ${file}]`,
      `  - mcp_policy.rules[1].tool: unknown field (check the spelling) [from ${file}]`,
      `  - mcp_policy.rules[2].email_domains[0]: must be a domain without "@", e.g. example.com (got "@example.com") [from ${file}]`,
      `  - mcp_policy.rules[1].name: "deploy" is also the name of mcp_policy.rules[0]; names must be unique [from ${file}]`,
    ]);
  });

  it("never prints the credentials of target.url at startup (user, password, query values)", async () => {
    const port = await freePort();
    const target = "http://mcp-user:target-password-123@127.0.0.1:1/mcp?api_key=target-key-456";
    const child = run(["--host", "127.0.0.1", "--port", String(port), "--target-url", target], {
      AUTH_MODE: "bypass",
      LOG_LEVEL: "info",
    });
    const exit = finished(child);
    const listening = await logLine(child, "mcp-oidc-proxy listening");
    child.kill("SIGTERM");
    const { stdout, stderr } = await exit;
    assert.equal(listening.target, "http://redacted:redacted@127.0.0.1:1/mcp?api_key=redacted");
    for (const secret of ["mcp-user", "target-password-123", "target-key-456"]) {
      assert.ok(!stdout.includes(secret) && !stderr.includes(secret), `${secret} is not in the output`);
    }
  });

  it("serves, reloads on SIGHUP and drains on SIGTERM", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-cli-"));
    const file = path.join(dir, "config.yaml");
    writeFileSync(file, "auth:\n  mode: bypass\nlogging:\n  level: info\n");
    const port = await freePort();
    const child = run(["--config", file, "--host", "127.0.0.1", "--port", String(port), "--target-port", "1"]);
    const exit = finished(child);
    await logLine(child, "mcp-oidc-proxy listening");
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
      status: string;
      version: string;
    };
    assert.ok(["healthy", "degraded"].includes(health.status));

    // Before the reload a tools/call goes to the (unreachable) MCP server: 502.
    const toolCall = () =>
      fetch(`http://127.0.0.1:${port}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "admin_reset" } }),
      });
    assert.equal((await toolCall()).status, 502);
    writeFileSync(
      file,
      "auth:\n  mode: bypass\nlogging:\n  level: debug\naccess:\n  public_paths: [/open]\nmcp_policy:\n  rules:\n    - { tools: [search] }\n",
    );
    const reloaded = logLine(child, "configuration reloaded");
    child.kill("SIGHUP");
    const entry = await reloaded;
    assert.deepEqual(entry.applied, ["logging.level", "access", "mcp_policy"]);
    // After it the MCP policy denies the call without asking the MCP server.
    const denied = await toolCall();
    assert.equal(((await denied.json()) as { error: { code: number } }).error.code, -32003);

    child.kill("SIGTERM");
    const { code, stdout } = await exit;
    assert.equal(code, 0);
    assert.match(stdout, /shutdown complete/);
  });

  const node20 = olderNode();
  it("launcher on an older Node passes SIGHUP and SIGTERM to its Node 24 child, which stops listening", {
    skip: node20 ? false : "no Node older than 24 on this machine",
    timeout: 60_000,
  }, async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-cli-"));
    const file = path.join(dir, "config.yaml");
    writeFileSync(file, "auth:\n  mode: bypass\nlogging:\n  level: info\n");
    const port = await freePort();
    const args = ["--config", file, "--host", "127.0.0.1", "--port", String(port), "--target-port", "1"];
    const launcher = run(args, {}, node20);
    const exit = finished(launcher);
    t.after(() => launcher.kill("SIGKILL"));
    await logLine(launcher, "mcp-oidc-proxy listening");

    writeFileSync(file, "auth:\n  mode: bypass\nlogging:\n  level: debug\n");
    const reloaded = logLine(launcher, "configuration reloaded");
    launcher.kill("SIGHUP");
    assert.deepEqual((await reloaded).applied, ["logging.level"]);

    launcher.kill("SIGTERM");
    const { code, stdout } = await exit;
    assert.equal(code, 0, "the launcher exits with the child's status");
    assert.match(stdout, /shutdown complete/);
    assert.equal(await refused(port), true, "the child no longer listens");
  });

  // A new user's trial: SIGKILL of the launcher (a service manager's last resort) left its
  // Node 24 child serving, an orphan, where the README says service managers see the real
  // process stop.
  it("launcher on an older Node killed with SIGKILL: its Node 24 child stops too and no longer listens", {
    skip: node20 ? false : "no Node older than 24 on this machine",
    timeout: 60_000,
  }, async (t) => {
    const port = await freePort();
    const launcher = run(
      ["--host", "127.0.0.1", "--port", String(port), "--target-port", "1"],
      {
        AUTH_MODE: "bypass",
        LOG_LEVEL: "info",
      },
      node20,
    );
    const exit = finished(launcher);
    await logLine(launcher, "mcp-oidc-proxy listening");
    const child = Number(
      execFileSync("ps", ["-o", "pid=", "--ppid", String(launcher.pid)], { encoding: "utf8" }).trim(),
    );
    t.after(() => {
      if (running(child)) process.kill(child, "SIGKILL");
    });
    assert.ok(running(child), "the launcher runs the proxy in a child");
    launcher.kill("SIGKILL");
    await exit;
    await until(() => !running(child), "the child to exit after its launcher was killed");
    assert.equal(await refused(port), true, "nothing serves on the port");
  });

  it("launcher on an older Node exits with its child's status", {
    skip: node20 ? false : "no Node older than 24 on this machine",
  }, async () => {
    const result = await finished(run(["--port", "nope"], { AUTH_MODE: "oidc", OIDC_CLIENT_ID: "x" }, node20));
    assert.equal(result.code, 2);
  });
});
