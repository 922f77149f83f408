// The systemd unit and install script: the unit verifies cleanly with systemd-analyze in a
// staging root laid out by install.sh itself, with the seed's hardening; the script passes
// shellcheck and keeps an existing configuration on upgrade.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
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
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";

const ROOT = path.resolve(import.meta.dirname, "../../../..");
const DIR = path.join(ROOT, "deployments/systemd");
// The single executable (make binary): what the unit runs on a server without Node.
const BIN = path.join(ROOT, "dist/mcp-oidc-proxy");

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
