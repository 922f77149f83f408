// A security review saw every request of a store outage logged as an error of its own: a
// flood that buries the log. A dependency's 503s are one warning per cause per interval.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProxyError, storeUnavailable } from "../../../src/errors.ts";
import { failureLog, OUTAGE_LOG_INTERVAL_MS } from "../../../src/observability/failure-log.ts";
import { capturingLogger } from "../../support/captured-log.ts";

const logged = (lines: string[]) => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

describe("the failure log", () => {
  it("logs a dependency's 503s once per interval, counting the requests refused in between", async () => {
    const lines: string[] = [];
    let clock = 0;
    const log = failureLog(capturingLogger(lines, "info"), () => clock);
    for (let i = 0; i < 1000; i++) log(storeUnavailable(new Error("The client is offline")));
    clock += OUTAGE_LOG_INTERVAL_MS;
    log(storeUnavailable(new Error("The client is offline")));
    await new Promise((resolve) => setImmediate(resolve));
    const entries = logged(lines);
    assert.equal(entries.length, 2);
    assert.deepEqual(
      entries.map(({ level, error, refused_since_last }) => ({ level, error, refused_since_last })),
      [
        { level: "warn", error: "The client is offline", refused_since_last: 0 },
        { level: "warn", error: "The client is offline", refused_since_last: 999 },
      ],
    );
  });

  it("logs each other cause, and every fault of the proxy's own, as they come", async () => {
    const lines: string[] = [];
    const log = failureLog(capturingLogger(lines, "info"), () => 0);
    log(storeUnavailable(new Error("offline")));
    log(storeUnavailable(new Error("timed out")));
    log(new ProxyError("INTERNAL_ERROR", 500, "boom"));
    log(new ProxyError("INTERNAL_ERROR", 500, "boom"));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      logged(lines).map(({ level, error }) => `${level} ${error}`),
      ["warn offline", "warn timed out", "error boom", "error boom"],
    );
  });
});
