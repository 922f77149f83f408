import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryPressure, type MemoryReadings } from "../../../src/upstream/memory-pressure.ts";

const MiB = 1024 * 1024;

function readings(values: Partial<Record<keyof MemoryReadings, number>>): MemoryReadings & { reads: number } {
  const all = { heapUsed: 20 * MiB, heapLimit: 140 * MiB, rss: 90 * MiB, limit: 256 * MiB, ...values };
  const out = {
    reads: 0,
    heapUsed: () => {
      out.reads++;
      return all.heapUsed;
    },
    heapLimit: () => all.heapLimit,
    rss: () => all.rss,
    limit: () => all.limit,
  };
  return out;
}

describe("MemoryPressure", () => {
  it("is low with room in the heap and the container", () => {
    assert.equal(new MemoryPressure(readings({})).high(), false);
  });

  it("is high past 75 % of V8's heap limit, or 90 % of the container's limit in resident memory", () => {
    assert.equal(new MemoryPressure(readings({ heapUsed: 106 * MiB })).high(), true);
    assert.equal(new MemoryPressure(readings({ rss: 235 * MiB })).high(), true);
  });

  it("ignores resident memory where no limit is set (0, or cgroup v1's huge number)", () => {
    assert.equal(new MemoryPressure(readings({ rss: 4096 * MiB, limit: 0 })).high(), false);
    assert.equal(new MemoryPressure(readings({ rss: 4096 * MiB, limit: 2 ** 63 })).high(), false);
  });

  it("reads at most every 250 ms", () => {
    const fake = readings({});
    let now = 1_000;
    const pressure = new MemoryPressure(fake, () => now);
    pressure.high();
    now += 100;
    pressure.high();
    assert.equal(fake.reads, 1);
    now += 150;
    pressure.high();
    assert.equal(fake.reads, 2);
  });
});
