// The metrics' name labels (name-labels.ts): only names the server is known to have get one,
// bounded; everything else is "_other".
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { McpNameLabels, NAME_LABEL_LENGTH, NAME_LABEL_LIMIT } from "../../../src/mcp/name-labels.ts";

describe("McpNameLabels", () => {
  it("gives no label to a name never listed nor answered, however many such names come", () => {
    const labels = new McpNameLabels();
    for (let i = 0; i < NAME_LABEL_LIMIT + 10; i++) assert.equal(labels.label(`junk-${i}`, false), "_other");
    labels.learn("search");
    assert.equal(labels.label("search", false), "search");
  });

  it("learns a name a call was answered for, and keeps to the limit and the length", () => {
    const labels = new McpNameLabels();
    assert.equal(labels.label("echo", true), "echo");
    assert.equal(labels.label("echo", false), "echo");
    assert.equal(labels.label("x".repeat(NAME_LABEL_LENGTH + 1), true), "_other");
    for (let i = 1; i < NAME_LABEL_LIMIT; i++) labels.learn(`tool-${i}`);
    assert.equal(labels.label("one-too-many", true), "_other");
    assert.equal(labels.label("tool-1", false), "tool-1");
  });
});
