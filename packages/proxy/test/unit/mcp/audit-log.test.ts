// The audit file out of order (audit-log.ts, decision 049): a deleted file or a failing write
// is reported (never thrown into the request), nothing more goes to the lost file, and the
// path is reopened at most once a second (the clock is the test's).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { AuditLog, type AuditRecord } from "../../../src/mcp/audit-log.ts";

const record = (request_id: string): AuditRecord => ({
  time: "2026-12-02T00:00:00.000Z",
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
      assert.match(readFileSync(file, "utf8"), /"request_id":"two"/);
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
});
