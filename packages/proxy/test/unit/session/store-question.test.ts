// The question readiness probes and scrapes put to the session store: answered when the store
// answers within the wait, undefined when it is late or fails (the last answer kept), and never
// asked again while an earlier asking is still pending.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StoreQuestion } from "../../../src/session/store-question.ts";

describe("StoreQuestion", () => {
  it("gives the store's answer when it comes within the wait, and keeps it as the last", async () => {
    const question = new StoreQuestion(async () => 3, 1000);
    assert.equal(await question.answer(), 3);
    assert.equal(question.last, 3);
  });

  it("gives undefined for a store that does not answer, and asks it only once meanwhile", async () => {
    let asked = 0;
    let answer: (value: number) => void = () => {};
    const question = new StoreQuestion(() => {
      asked++;
      return new Promise<number>((resolve) => {
        answer = resolve;
      });
    }, 20);
    assert.equal(await question.answer(), undefined);
    // The wait is used up: a second probe answers at once, and asks nothing more.
    assert.equal(await question.answer(), undefined);
    assert.equal(asked, 1);
    answer(7);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(question.last, 7, "a late answer is still kept");
    assert.equal(await question.answer(), undefined, "asked afresh, and not answered");
    assert.equal(asked, 2);
  });

  it("gives undefined for a store that fails, keeping the last answer", async () => {
    let fail = false;
    const question = new StoreQuestion(async () => {
      if (fail) throw new Error("down");
      return 1;
    }, 1000);
    assert.equal(await question.answer(), 1);
    fail = true;
    assert.equal(await question.answer(), undefined);
    assert.equal(question.last, 1);
  });
});
