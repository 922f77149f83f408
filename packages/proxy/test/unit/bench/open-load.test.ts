// make bench's open-model timings: latency counted from each request's scheduled send, so a
// request vegeta sent late carries its lateness (no coordinated omission); warm-up requests
// left out; a failed answer fails the row.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { quantile, samplesOf } from "../../../bench/open-load.ts";

const START = 1_764_633_600_000_000_000n; // epoch ns: too large for a Number to hold exactly

/** vegeta's CSV columns: timestamp ns, status, latency ns, bytes out, bytes in, error, body, attack, seq. */
function record(seq: number, lateNs = 0, latencyNs = 1_000_000, status = "200", error = ""): string[] {
  const sent = START + BigInt(seq) * 1_000_000n + BigInt(lateNs);
  return [String(sent), status, String(latencyNs), "10", "20", error, "", "", String(seq)];
}

describe("open-model samples (1,000 req/s: one scheduled every ms)", () => {
  it("adds to a request's latency how late it was sent, and leaves the 100 ms of warm-up out", () => {
    const records = Array.from({ length: 200 }, (_, seq) => record(seq, seq === 150 ? 5_000_000 : 0));
    const { latency, late } = samplesOf("row", records, 1000);
    assert.equal(latency.length, 100);
    assert.equal(latency[50], 6); // 1 ms answered, sent 5 ms after its time
    assert.equal(late[50], 5);
    assert.deepEqual(new Set(latency.filter((_, i) => i !== 50)), new Set([1]));
  });

  it("takes the start from the request sent least late (the first may be late too)", () => {
    const records = Array.from({ length: 200 }, (_, seq) => record(seq, seq === 0 ? 3_000_000 : 0));
    const { late } = samplesOf("row", records, 1000);
    assert.equal(Math.max(...late), 0);
  });

  it("fails the row when an answer was not a 2xx or did not come", () => {
    assert.throws(() => samplesOf("row", [record(0), record(1, 0, 0, "502")], 1000), /1 of 2 failed/);
    assert.throws(() => samplesOf("row", [record(0, 0, 0, "0", "connection refused")], 1000), /connection refused/);
  });

  it("reads quantiles by nearest rank", () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(quantile(sorted, 0.5), 50);
    assert.equal(quantile(sorted, 0.99), 99);
    assert.equal(quantile(sorted, 1), 100);
  });
});
