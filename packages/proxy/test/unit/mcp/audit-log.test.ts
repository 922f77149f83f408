// The audit file out of order (audit-log.ts, decisions 049 and 051): a deleted file or a
// failing write is reported (never thrown into the request), nothing more goes to the lost
// file, and the path is reopened at most once a second (the clock is the test's), in order
// again only once a line was written there; a write the file takes only part of is not taken
// for a whole one; and the texts a client chooses are kept to a bounded length.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { AUDIT_FIELD_LIMIT, AUDIT_NAME_LIMIT, AuditLog, type AuditRecord } from "../../../src/mcp/audit-log.ts";

const AUDIT_LOG_MODULE = fileURLToPath(new URL("../../../src/mcp/audit-log.ts", import.meta.url));

const record = (request_id: string): AuditRecord => ({
  time: "2026-12-02T00:00:00.000Z",
  stage: "done",
  request_id,
  user: "alice",
  provider: "p",
  client_id: null,
  method: "tools/call",
  name: "echo",
  jsonrpc_id: 1,
  decision: "allow",
  rule: null,
  reason: "",
  upstream_status: 200,
  status: 200,
  duration_ms: 1,
});

describe("AuditLog out of order", () => {
  it("a deleted file: reported, nothing written to it, reopened at its path a second later", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "audit-log-"));
    const file = path.join(dir, "a.jsonl");
    let now = 0;
    const problems: (string | undefined)[] = [];
    const log = new AuditLog({ output: file, onProblem: (p) => problems.push(p), now: () => now });
    try {
      log.write(record("one"));
      assert.equal(log.problem(), undefined);
      rmSync(file);
      assert.match(log.problem() ?? "", /was deleted/);
      log.write(record("lost"));
      assert.ok(!existsSync(file), "not written to the deleted file, nor recreated before its time");
      now += 999;
      assert.match(log.problem() ?? "", /was deleted/);
      now += 1;
      assert.equal(log.problem(), undefined, "reopened");
      log.write(record("two"));
      const [resumed, two] = readFileSync(file, "utf8").trim().split("\n");
      assert.equal(JSON.parse(resumed as string).event, "audit_resumed", "the gap is marked in the trail");
      assert.match(JSON.parse(resumed as string).gap, /was deleted/);
      assert.match(two as string, /"request_id":"two"/);
      assert.deepEqual(
        problems.map((p) => p !== undefined),
        [false, true, false],
      );
    } finally {
      log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a write that fails (no space left: /dev/full) is reported, not thrown", () => {
    const log = new AuditLog({ output: "/dev/full", now: () => 0 });
    try {
      assert.doesNotThrow(() => log.write(record("full")));
      assert.match(log.problem() ?? "", /ENOSPC/);
    } finally {
      log.close();
    }
  });

  it("/dev/full (the file opens, every write fails): reopening it never puts the trail back in order", () => {
    let now = 0;
    const problems: (string | undefined)[] = [];
    const log = new AuditLog({ output: "/dev/full", onProblem: (p) => problems.push(p), now: () => now });
    try {
      log.write(record("full"));
      for (let second = 1; second <= 5; second++) {
        now = second * 1_000;
        assert.match(log.problem() ?? "", /ENOSPC/, `after ${second} s`);
      }
      assert.deepEqual(
        problems.map((p) => p !== undefined),
        [false, true],
        "never reported writable again",
      );
    } finally {
      log.close();
    }
  });

  it("a write the file takes only part of (a file size limit of 1 KiB): not taken for written; the next line starts anew", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "audit-log-"));
    const file = path.join(dir, "a.jsonl");
    // A process of its own, whose file size limit (ulimit -f, KiB) cuts the line's write
    // short; then the half line is shortened (room for the next) and the file reopened.
    const script = `
      const { truncateSync } = await import("node:fs");
      const { AuditLog } = await import(${JSON.stringify(AUDIT_LOG_MODULE)});
      let now = 0;
      const log = new AuditLog({ output: ${JSON.stringify(file)}, now: () => now });
      log.write(${JSON.stringify({ ...record("long"), name: "n".repeat(1_000) })});
      const cut = log.problem() ?? null;
      truncateSync(${JSON.stringify(file)}, 512);
      now = 1000;
      console.log(JSON.stringify({ cut, reopened: log.problem() ?? null }));`;
    try {
      const out = execFileSync("bash", [
        "-c",
        'ulimit -f 1 && exec "$0" --input-type=module -e "$1"',
        process.execPath,
        script,
      ]);
      const { cut, reopened } = JSON.parse(out.toString()) as { cut: string | null; reopened: string | null };
      assert.match(cut ?? "", /EFBIG/, "the short write was noticed");
      assert.equal(reopened, null, "in order again");
      const lines = readFileSync(file, "utf8").split("\n");
      assert.equal(lines[0]?.length, 512, "the half line, on its own");
      assert.equal(JSON.parse(lines[1] as string).event, "audit_resumed", "the next line whole");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("AuditLog bounds what a client chooses", () => {
  it("a megabyte name, method, id and reason: a line of a few kilobytes; cut texts say so and keep a hash of the whole", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "audit-log-"));
    const file = path.join(dir, "a.jsonl");
    const log = new AuditLog({ output: file });
    const huge = (c: string) => c.repeat(1_000_000);
    try {
      log.write({ ...record("a"), name: huge("x"), method: huge("m"), jsonrpc_id: huge("i"), reason: huge("r") });
      log.write({ ...record("b"), name: huge("x") });
      log.write({ ...record("c"), name: `${huge("x")}y` });
      log.write({ ...record("d"), name: "echo" });
      const text = readFileSync(file, "utf8");
      assert.ok(text.length < 8_000, `${text.length} bytes for four lines`);
      const [a, b, c, d] = text
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as AuditRecord);
      assert.equal(a?.name, `${"x".repeat(AUDIT_NAME_LIMIT)}…`);
      for (const field of [a?.method, a?.jsonrpc_id, a?.reason])
        assert.equal(String(field).length, AUDIT_FIELD_LIMIT + 1);
      assert.deepEqual(Object.keys(a?.cut ?? {}).sort(), ["jsonrpc_id", "method", "name", "reason"]);
      assert.equal(a?.cut?.name?.characters, 1_000_000);
      assert.match(a?.cut?.name?.sha256 ?? "", /^[0-9a-f]{16}$/);
      assert.deepEqual(a?.cut?.name, b?.cut?.name, "equal names stay equal");
      assert.notDeepEqual(b?.cut?.name, c?.cut?.name, "names that differ past the cut differ");
      assert.equal(d?.name, "echo", "a short name is kept as it is");
      assert.equal(d?.cut, undefined);
    } finally {
      log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
