// What we write for kubectl and Helm reads back the same in YAML 1.1 (their reader) and 1.2.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { stringifyForKubectl } from "../../../scripts/kubectl-yaml.ts";

describe("stringifyForKubectl", () => {
  it("quotes the strings YAML 1.1 reads as something else (the CRD's plain default: off was a boolean)", () => {
    const value = {
      mode: "off",
      words: ["on", "yes", "no", "y", "n", "On", "OFF", "1:20", "0o7", "0755", "~", "null", "1e3", ".inf"],
      on: "key that YAML 1.1 reads as true",
      plain: "provider",
      number: 3,
      flag: true,
    };
    const text = stringifyForKubectl(value);
    assert.match(text, /mode: "off"/);
    assert.match(text, /"on": key that YAML 1.1 reads as true/);
    assert.match(text, /plain: provider/);
    assert.deepEqual(parse(text, { version: "1.1" }), value);
    assert.deepEqual(parse(text), value);
  });
});
