// The one collection the command runs once the proxy is ready (src/startup-garbage.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate } from "node:timers/promises";
import { collectStartupGarbage } from "../../src/startup-garbage.ts";

describe("collectStartupGarbage", () => {
  it("collects what nothing references any more, and leaves no global gc behind", async () => {
    const garbage = new WeakRef({ left: "by start-up" });
    // A WeakRef's target lives until the end of the job that made it.
    await setImmediate();
    collectStartupGarbage();
    assert.equal(garbage.deref(), undefined);
    assert.equal("gc" in globalThis, false);
  });
});
