import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { safeReturnPath } from "../../src/public-url.ts";

const base = new URL("https://mcp.example.com");

describe("return path after sign-in", () => {
  it("keeps same-origin paths with their query", () => {
    assert.equal(safeReturnPath("/tools?x=1", base), "/tools?x=1");
    assert.equal(safeReturnPath("/", base), "/");
  });

  it("refuses everything that could leave the site", () => {
    for (const bad of [
      "//evil.example",
      "https://evil.example/",
      "/\\evil.example",
      "javascript:alert(1)",
      "/%0d%0aSet-Cookie:x",
      "/\u0000",
      "\t//evil.example",
      42,
      undefined,
    ]) {
      const result = safeReturnPath(bad, base);
      assert.ok(result.startsWith("/") && !result.startsWith("//"), `${String(bad)} -> ${result}`);
      assert.equal(new URL(result, base).origin, base.origin);
    }
  });
});
