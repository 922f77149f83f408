// The systemd unit and install script: the unit verifies cleanly with systemd-analyze in a
// staging root laid out by install.sh itself, with the seed's hardening and more (its
// systemd-analyze security rating, printed); the script passes shellcheck, keeps an existing
// configuration on upgrade, and starts no service whose configuration --config-test refuses.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { freePort } from "../support/ports.ts";
import { finished, logLine } from "../support/process.ts";

const ROOT = path.resolve(import.meta.dirname, "../../../..");
const DIR = path.join(ROOT, "deployments/systemd");
// The single executable (make binary): what the unit runs on a server without Node.
const BIN = path.join(ROOT, "dist/mcp-oidc-proxy");

function unitLines(): string[] {
  return readFileSync(path.join(DIR, "mcp-oidc-proxy.service"), "utf8").split("\n");
}

/** The values of every `key=` line of the unit, one string a line. */
function unitValues(key: string): string[] {
  return unitLines()
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));
}

/** System call names, with @groups expanded as systemd expands them (systemd-analyze syscall-filter). */
function syscallSet(names: string[]): Set<string> {
  const found = new Set<string>();
  for (const name of names) {
    if (!name.startsWith("@")) {
      found.add(name);
      continue;
    }
    const listed = spawnSync("systemd-analyze", ["syscall-filter", name], { encoding: "utf8" })
      .stdout.split("\n")
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith("#") && line !== name);
    for (const call of syscallSet(listed)) found.add(call);
  }
  return found;
}

/** What the unit's SystemCallFilter= lines let through: the allow lists less the ~ lists. */
function allowedSyscalls(): Set<string> {
  const lines = unitValues("SystemCallFilter");
  const allowed = syscallSet(lines.filter((line) => !line.startsWith("~")).flatMap((line) => line.split(/\s+/)));
  const denied = syscallSet(lines.filter((line) => line.startsWith("~")).flatMap((line) => line.slice(1).split(/\s+/)));
  return new Set([...allowed].filter((call) => !denied.has(call)));
}

function install(stage: string) {
  return spawnSync("bash", [path.join(DIR, "install.sh"), BIN], {
    env: { PATH: process.env.PATH ?? "", ROOT: stage },
    encoding: "utf8",
  });
}

describe("systemd", () => {
  it("installs binary, config, secrets file, data directory and unit into place", () => {
    const stage = mkdtempSync(path.join(tmpdir(), "systemd-stage-"));
    const result = install(stage);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(statSync(path.join(stage, "usr/local/bin/mcp-oidc-proxy")).mode & 0o100, "the binary is executable");
    assert.equal(
      statSync(path.join(stage, "etc/mcp-proxy/environment")).mode & 0o777,
      0o600,
      "secrets readable by root only",
    );
    assert.ok(existsSync(path.join(stage, "var/lib/mcp-proxy")));
    // Made before --config-test runs, which refuses an audit file it could not append to.
    assert.ok(existsSync(path.join(stage, "var/log/mcp-proxy")), "the unit's LogsDirectory");
    // The installed binary runs alone and accepts the installed configuration.
    const check = spawnSync(
      path.join(stage, "usr/local/bin/mcp-oidc-proxy"),
      ["--config", path.join(stage, "etc/mcp-proxy/config.yaml"), "--config-test"],
      {
        env: { PATH: "/usr/bin:/bin", OIDC_DISCOVERY_URL: "https://login.example.com", OIDC_CLIENT_ID: "mcp" },
        encoding: "utf8",
      },
    );
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /configuration OK/);
    // An upgrade keeps the configuration in place.
    writeFileSync(path.join(stage, "etc/mcp-proxy/config.yaml"), "# edited by the admin\n");
    assert.equal(install(stage).status, 0);
    assert.equal(readFileSync(path.join(stage, "etc/mcp-proxy/config.yaml"), "utf8"), "# edited by the admin\n");
  });

  // A new user's trial: the example configuration has no OpenID provider, and the script
  // restarted the service with it at once, which then exited every 5 s.
  it("starts no service whose configuration --config-test refuses, and says what to fill in", () => {
    const stage = mkdtempSync(path.join(tmpdir(), "systemd-unready-"));
    const first = install(stage);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /but not started: its configuration does not pass\n--config-test/);
    assert.match(first.stdout, /- oidc\.discovery_url: required/, "the proxy's own problems, each naming the field");
    assert.match(first.stdout, /\/etc\/mcp-proxy\/environment/);
    assert.match(first.stdout, /SESSION_SECRET=/);
    assert.doesNotMatch(first.stdout, /would be started/);
    // Filled in through the secrets file, as the unit's EnvironmentFile= gives them to the proxy.
    writeFileSync(
      path.join(stage, "etc/mcp-proxy/environment"),
      "OIDC_DISCOVERY_URL=https://login.example.com\nOIDC_CLIENT_ID=mcp\n",
    );
    const second = install(stage);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /configuration OK: the service would be started/);
  });

  it("does not restart a configuration the proxy refuses: it exits 2, which the unit does not restart on", () => {
    const stage = mkdtempSync(path.join(tmpdir(), "systemd-exit-"));
    assert.equal(install(stage).status, 0);
    const start = spawnSync(
      path.join(stage, "usr/local/bin/mcp-oidc-proxy"),
      ["--config", path.join(stage, "etc/mcp-proxy/config.yaml")],
      { env: { PATH: "/usr/bin:/bin" }, encoding: "utf8" },
    );
    assert.equal(start.status, 2, start.stderr);
    assert.ok(unitLines().includes("RestartPreventExitStatus=2"));
  });

  it("lets the README's audit trail file be written under ProtectSystem=strict", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const output = /audit: \{[^}]*output: (\/[^\s},]+)/.exec(readme)?.[1];
    assert.ok(output, "the README's mcp_policy example writes the audit trail to a file");
    const values = (key: string) => unitValues(key).flatMap((line) => line.split(/\s+/));
    const writable = [...values("ReadWritePaths"), ...values("LogsDirectory").map((dir) => `/var/log/${dir}`)];
    assert.ok(unitLines().includes("ProtectSystem=strict"));
    assert.ok(
      writable.some((dir) => output.startsWith(`${dir}/`)),
      `${output} is in none of the unit's writable directories (${writable.join(", ")})`,
    );
  });

  // No systemd runs here to start the unit: instead every system call and socket family the
  // proxy uses while it starts, forwards, judges and audits an MCP call, serves metrics and
  // drains on SIGTERM is traced (strace) and must be one the unit lets through.
  it("serves under the unit's system call filter and address families (each traced call is allowed)", async (t) => {
    const upstream = http.createServer((_request, response) => {
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: { content: [] } }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const dir = mkdtempSync(path.join(tmpdir(), "systemd-trace-"));
    const port = await freePort();
    const { port: upstreamPort } = upstream.address() as AddressInfo;
    writeFileSync(
      path.join(dir, "config.yaml"),
      [
        "environment: development",
        `server: { host: 127.0.0.1, port: ${port} }`,
        `target: { url: "http://localhost:${upstreamPort}" }`,
        "auth: { mode: bypass }",
        "mcp_policy:",
        '  rules: [{ name: all, tools: ["*"] }]',
        `  audit: { enabled: true, output: ${path.join(dir, "audit.jsonl")} }`,
      ].join("\n"),
    );
    const trace = path.join(dir, "trace");
    const proxy = spawn("strace", ["-f", "-qq", "-o", trace, BIN, "--config", path.join(dir, "config.yaml")], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: "/usr/bin:/bin" },
    });
    const exited = finished(proxy);
    await logLine(proxy, "mcp-oidc-proxy listening");
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${base}/health`)).status, 200);
    assert.equal((await fetch(`${base}/metrics`)).status, 200);
    const call = await fetch(`${base}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "search" } }),
    });
    assert.equal(call.status, 200);
    await call.text();
    // The strace process and the proxy are one group: SIGTERM reaches the proxy, which drains.
    process.kill(-(proxy.pid as number), "SIGTERM");
    assert.equal((await exited).code, 0);
    upstream.close();
    assert.match(readFileSync(path.join(dir, "audit.jsonl"), "utf8"), /"decision":"allow"/);

    const traced = readFileSync(trace, "utf8");
    const calls = new Set([...traced.matchAll(/^\d+ +(\w+)\(/gm)].map((match) => match[1] as string));
    const allowed = allowedSyscalls();
    t.diagnostic(`${calls.size} distinct system calls traced, ${allowed.size} allowed by the unit`);
    assert.deepEqual(
      [...calls].filter((name) => !allowed.has(name)),
      [],
    );
    const families = new Set([...traced.matchAll(/socket\((AF_\w+)/g)].map((match) => match[1] as string));
    const permitted = unitValues("RestrictAddressFamilies").flatMap((line) => line.split(/\s+/));
    assert.deepEqual(
      [...families].filter((family) => !permitted.includes(family)),
      [],
    );
  });

  it("is rated OK or better by systemd-analyze security (the seed's unit: 5.3 MEDIUM)", (t) => {
    const result = spawnSync(
      "systemd-analyze",
      ["security", "--offline=true", path.join(DIR, "mcp-oidc-proxy.service")],
      { encoding: "utf8" },
    );
    const overall = /Overall exposure level for mcp-oidc-proxy\.service: ([\d.]+) (\w+)/.exec(result.stdout);
    assert.ok(overall, result.stdout + result.stderr);
    t.diagnostic(`systemd-analyze security: ${overall[1]} ${overall[2]}`);
    assert.ok(Number(overall[1]) <= 2, `exposure ${overall[1]}`);
  });

  it("has a unit systemd-analyze verifies without a single warning", () => {
    const stage = mkdtempSync(path.join(tmpdir(), "systemd-verify-"));
    assert.equal(install(stage).status, 0);
    // What verify resolves besides our files: the system's targets and /bin/kill.
    mkdirSync(path.join(stage, "usr/lib/systemd"), { recursive: true });
    cpSync("/usr/lib/systemd/system", path.join(stage, "usr/lib/systemd/system"), {
      recursive: true,
      verbatimSymlinks: true,
    });
    mkdirSync(path.join(stage, "usr/bin"), { recursive: true });
    cpSync("/usr/bin/kill", path.join(stage, "usr/bin/kill"));
    symlinkSync("usr/bin", path.join(stage, "bin"));
    const result = spawnSync(
      "systemd-analyze",
      ["verify", `--root=${stage}`, "/etc/systemd/system/mcp-oidc-proxy.service"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.equal(`${result.stdout}${result.stderr}`.trim(), "");
  });

  it("keeps the seed's hardening and runs the seed's command", () => {
    const unit = readFileSync(path.join(DIR, "mcp-oidc-proxy.service"), "utf8");
    for (const line of [
      "ExecStart=/usr/local/bin/mcp-oidc-proxy --config /etc/mcp-proxy/config.yaml",
      "User=mcp-proxy",
      "Restart=on-failure",
      "NoNewPrivileges=true",
      "PrivateTmp=true",
      "ProtectSystem=strict",
      "ProtectHome=true",
      "ReadWritePaths=/var/lib/mcp-proxy",
      "SyslogIdentifier=mcp-oidc-proxy",
    ]) {
      assert.ok(unit.split("\n").includes(line), line);
    }
  });

  it("has an install script shellcheck finds nothing wrong with", () => {
    const result = spawnSync("shellcheck", [path.join(DIR, "install.sh")], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stdout);
  });
});
