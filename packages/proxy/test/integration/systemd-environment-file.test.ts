// install.sh's --config-test reads /etc/mcp-proxy/environment as the unit's EnvironmentFile=
// does, never as shell: a new user's trial found it sourced (`. environment`) as root, which
// runs any $(...) a value holds and reads quotes, backslashes and blanks otherwise than
// systemd. Run against a stand-in binary that records the environment it was given; the
// expected values follow systemd's reader (src/basic/env-file.c) and its tests.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";

const INSTALL = path.resolve(import.meta.dirname, "../../../../deployments/systemd/install.sh");

/** A stand-in for the proxy: records its environment; refuses the configuration if told to. */
function standIn(dir: string): string {
  const file = path.join(dir, "stand-in");
  writeFileSync(
    file,
    '#!/bin/sh\nenv -0 > "$0.env"\nif [ -n "$STAND_IN_REFUSE" ]; then echo "  - oidc.client_id: required" >&2; exit 2; fi\n',
  );
  chmodSync(file, 0o755);
  return file;
}

/** Installs into a staging root with `environment` as the secrets file; the run and what the binary saw. */
function installWith(environment: string | Buffer) {
  const dir = mkdtempSync(path.join(tmpdir(), "systemd-envfile-"));
  const stage = path.join(dir, "root");
  const binary = standIn(dir);
  const env = { PATH: process.env.PATH ?? "", ROOT: stage };
  // A first run lays the tree out; then the secrets file is the admin's.
  assert.equal(spawnSync("bash", [INSTALL, binary], { env, cwd: dir }).status, 0);
  writeFileSync(path.join(stage, "etc/mcp-proxy/environment"), environment);
  const run = spawnSync("bash", [INSTALL, binary], { env, cwd: dir, encoding: "utf8" });
  const seen = readFileSync(path.join(stage, "usr/local/bin/mcp-oidc-proxy.env"), "utf8")
    .split("\0")
    .filter(Boolean)
    .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]);
  return { run, dir, seen: Object.fromEntries(seen) as Record<string, string> };
}

describe("systemd install.sh: the environment file", () => {
  it("gives the proxy each value as systemd's EnvironmentFile= reads it, evaluating nothing", () => {
    const { run, dir, seen } = installWith(
      [
        "# a comment",
        "; another comment $(touch commented)",
        "PLAIN=abc#def",
        "  SPACED  =   value with spaces   ",
        "SINGLE='a $HOME `id` \\n'",
        'DOUBLE="x \\"q\\" \\\\ \\$HOME \\` \\n y"',
        "ESCAPED=a\\ b\\\\c",
        "JOINED=one\\",
        "two",
        "COMMAND=$(touch pwned)",
        "BACKTICK=`touch pwned2`",
        "EMPTY=",
        "MIXED=\"a b\"c' d'",
        "CRLF=value\r",
        "not a name=1",
        "2BAD=1",
        "LAST=end",
      ].join("\n"),
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /configuration OK/);
    assert.deepEqual(
      {
        PLAIN: seen.PLAIN,
        SPACED: seen.SPACED,
        SINGLE: seen.SINGLE,
        DOUBLE: seen.DOUBLE,
        ESCAPED: seen.ESCAPED,
        JOINED: seen.JOINED,
        COMMAND: seen.COMMAND,
        BACKTICK: seen.BACKTICK,
        EMPTY: seen.EMPTY,
        MIXED: seen.MIXED,
        CRLF: seen.CRLF,
        LAST: seen.LAST,
      },
      {
        PLAIN: "abc#def",
        SPACED: "value with spaces",
        SINGLE: "a $HOME `id` \\n",
        DOUBLE: 'x "q" \\ $HOME ` \\n y',
        ESCAPED: "a b\\c",
        JOINED: "onetwo",
        COMMAND: "$(touch pwned)",
        BACKTICK: "`touch pwned2`",
        EMPTY: "",
        MIXED: "a bc' d'",
        CRLF: "value",
        LAST: "end",
      },
    );
    assert.equal(seen["2BAD"], undefined);
    assert.match(run.stderr, /ignoring "not a name": not a variable name/);
    for (const file of ["pwned", "pwned2", "commented"]) assert.ok(!existsSync(path.join(dir, file)), file);
  });

  // systemd refuses a whole file with a NUL byte or a key or value that is not UTF-8, and the
  // service does not start; bash dropped the NUL and passed the bytes on, so the check passed.
  it("refuses a file systemd would refuse (a NUL byte, a line not UTF-8), naming the line and not its content", () => {
    const refusals: [Buffer, RegExp][] = [
      [Buffer.from("OK=1\nSECRET=hunter2\0hunter3\n"), /environment:2: a NUL byte; systemd refuses the whole file/],
      [
        Buffer.from("OK=1\n\nSECRET=hunter2\xe9\n", "latin1"),
        /environment:3: not valid UTF-8; systemd refuses the whole file/,
      ],
      // An encoded surrogate (U+D800) and an overlong "/" are not UTF-8 either.
      [Buffer.from([...Buffer.from("SECRET=hunter2"), 0xed, 0xa0, 0x80]), /environment:1: not valid UTF-8/],
      [Buffer.from([...Buffer.from("SECRET=hunter2"), 0xc0, 0xaf]), /environment:1: not valid UTF-8/],
    ];
    for (const [environment, message] of refusals) {
      const { run } = installWith(environment);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /but not started/);
      assert.match(run.stdout, message);
      assert.doesNotMatch(run.stdout + run.stderr, /hunter/, "nothing of the values is shown");
    }
    const comment = Buffer.from("# caf\xe9: a comment may hold any bytes\n", "latin1");
    const { run, seen } = installWith(Buffer.concat([comment, Buffer.from("NAME=café € 😀\n")]));
    assert.match(run.stdout, /configuration OK/, run.stdout);
    assert.equal(seen.NAME, "café € 😀");
  });

  it("asks for MCP_PUBLIC_URL among the settings to fill in", () => {
    const { run } = installWith("STAND_IN_REFUSE=1\n");
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /but not started/);
    assert.match(run.stdout, /- oidc\.client_id: required/);
    assert.match(run.stdout, /^ {2}MCP_PUBLIC_URL=https:\/\/mcp\.example\.com/m);
  });
});
