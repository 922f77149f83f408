// The work queue with an injected clock (no sleeping): coalescing, one key never twice at
// once, per-key exponential backoff, delayed adds, shutdown.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MISSING_REFERENCE_RECHECK_MAX_MS } from "../../../src/controller/controller.ts";
import { type Clock, WorkQueue } from "../../../src/runtime/work-queue.ts";

/** A clock whose time moves only when the test says so. */
function manualClock() {
  let now = 0;
  const timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  const clock: Clock = {
    now: () => now,
    setTimeout(fn, ms) {
      const timer = { at: now + ms, fn, cancelled: false };
      timers.push(timer);
      return {
        cancel: () => {
          timer.cancelled = true;
        },
      };
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const timer of timers.filter((t) => !t.cancelled && t.at <= now)) {
      timer.cancelled = true;
      timer.fn();
    }
  };
  return { clock, advance };
}

describe("work queue", () => {
  it("coalesces a key added many times", async () => {
    const queue = new WorkQueue();
    for (let i = 0; i < 5; i++) queue.add("ns/a");
    queue.add("ns/b");
    assert.equal(queue.depth, 2);
    assert.equal(await queue.next(), "ns/a");
    assert.equal(await queue.next(), "ns/b");
  });

  it("processes a key added during its processing once more afterwards, never twice at once", async () => {
    const queue = new WorkQueue();
    queue.add("ns/a");
    const key = await queue.next();
    queue.add("ns/a");
    assert.equal(queue.depth, 0, "not handed out while being processed");
    queue.done(key as string);
    assert.equal(queue.depth, 1);
  });

  it("backs off exponentially per key and starts over after forget", () => {
    const { clock, advance } = manualClock();
    const queue = new WorkQueue({ clock, baseDelayMs: 100, maxDelayMs: 1000 });
    assert.deepEqual(
      [queue.retry("k"), queue.retry("k"), queue.retry("k"), queue.retry("k"), queue.retry("k")],
      [100, 200, 400, 800, 1000],
    );
    queue.forget("k");
    assert.equal(queue.retry("k"), 100);
    advance(99);
    assert.equal(queue.depth, 0);
    advance(1);
    assert.equal(queue.depth, 1);
  });

  it("caps a retry at the maximum given for it (a missing Secret was looked for only every 5 min)", () => {
    const { clock } = manualClock();
    const queue = new WorkQueue({ clock, baseDelayMs: 100 });
    const delays = Array.from({ length: 15 }, () => queue.retry("k", MISSING_REFERENCE_RECHECK_MAX_MS));
    assert.equal(Math.max(...delays), MISSING_REFERENCE_RECHECK_MAX_MS);
    assert.equal(MISSING_REFERENCE_RECHECK_MAX_MS, 30_000);
    assert.ok(queue.retry("other") < MISSING_REFERENCE_RECHECK_MAX_MS, "other keys keep their own backoff");
  });

  it("keeps the earliest of two delayed adds", () => {
    const { clock, advance } = manualClock();
    const queue = new WorkQueue({ clock });
    queue.addAfter("k", 1000);
    queue.addAfter("k", 10);
    advance(10);
    assert.equal(queue.depth, 1);
  });

  it("ends waiting workers at shutdown", async () => {
    const queue = new WorkQueue();
    const waiting = queue.next();
    queue.shutDown();
    assert.equal(await waiting, undefined);
  });
});
