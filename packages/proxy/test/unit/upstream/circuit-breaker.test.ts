import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CircuitBreaker } from "../../../src/upstream/circuit-breaker.ts";

describe("circuit breaker", () => {
  it("opens after the threshold, half-opens after the reset time with one trial, then closes", () => {
    let now = 0;
    const states: string[] = [];
    const breaker = new CircuitBreaker({
      failureThreshold: 3,
      resetTimeoutMs: 1000,
      now: () => now,
      onChange: (s) => states.push(s),
    });
    for (let i = 0; i < 3; i++) {
      assert.equal(breaker.allowRequest(), true);
      breaker.recordFailure();
    }
    assert.equal(breaker.state, "open");
    assert.equal(breaker.allowRequest(), false);
    now = 1000;
    assert.equal(breaker.allowRequest(), true, "one trial after the reset time");
    assert.equal(breaker.allowRequest(), false, "only one trial at a time");
    breaker.recordSuccess();
    assert.equal(breaker.state, "closed");
    assert.deepEqual(states, ["open", "half-open", "closed"]);
  });

  it("re-opens when the trial fails", () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, resetTimeoutMs: 10, now: () => now });
    breaker.recordFailure();
    now = 10;
    assert.equal(breaker.allowRequest(), true);
    breaker.recordFailure();
    assert.equal(breaker.state, "open");
    assert.equal(breaker.allowRequest(), false);
  });

  it("forgets failures after a success", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, resetTimeoutMs: 10 });
    breaker.recordFailure();
    breaker.recordSuccess();
    breaker.recordFailure();
    assert.equal(breaker.state, "closed");
  });
});
