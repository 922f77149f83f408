import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BoundedMemo } from "../../src/bounded-memo.ts";

describe("BoundedMemo", () => {
  const counting = () => {
    const calls: string[] = [];
    const compute = (key: string) => {
      calls.push(key);
      return key === "none" ? undefined : key.toUpperCase();
    };
    return { calls, compute };
  };

  it("computes once per input, an undefined result included", () => {
    const { calls, compute } = counting();
    const memo = new BoundedMemo(compute, { maxEntries: 10, maxKeyLength: 10 });
    assert.equal(memo.get("a"), "A");
    assert.equal(memo.get("a"), "A");
    assert.equal(memo.get("none"), undefined);
    assert.equal(memo.get("none"), undefined);
    assert.deepEqual(calls, ["a", "none"]);
  });

  it("computes inputs longer than the limit each time", () => {
    const { calls, compute } = counting();
    const memo = new BoundedMemo(compute, { maxEntries: 10, maxKeyLength: 3 });
    memo.get("long");
    assert.equal(memo.get("long"), "LONG");
    assert.deepEqual(calls, ["long", "long"]);
  });

  it("starts over once full, and stays right", () => {
    const { calls, compute } = counting();
    const memo = new BoundedMemo(compute, { maxEntries: 2, maxKeyLength: 10 });
    memo.get("a");
    memo.get("b");
    memo.get("c"); // full: forgets a and b
    assert.equal(memo.get("a"), "A");
    assert.equal(memo.get("c"), "C");
    assert.deepEqual(calls, ["a", "b", "c", "a"]);
  });
});
