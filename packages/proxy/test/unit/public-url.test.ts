import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { safeReturnPath } from "../../src/public-url.ts";

const base = new URL("https://mcp.example.com");

/** Where a browser goes when it follows `Location: <path>` from a page of `base`. */
const followed = (path: string) => new URL(path, base);

describe("return path after sign-in", () => {
  it("keeps same-origin paths with their query", () => {
    assert.equal(safeReturnPath("/tools?x=1", base), "/tools?x=1");
    assert.equal(safeReturnPath("/", base), "/");
    assert.equal(safeReturnPath("/a/./b/../c", base), "/a/c", "returned as normalized");
    assert.equal(safeReturnPath("https://mcp.example.com/deep?q=1", base), "/deep?q=1");
  });

  // Regression: the path was checked before normalization and returned after it, so
  // `/.//evil.example/x` passed the check and came back as `//evil.example/x`.
  it("open redirect after sign-in: no trick leaves the site", () => {
    const tricks = [
      "/.//evil.example/x",
      "/%2e//evil.example",
      "/%2E//evil.example",
      "/x/..//evil.example",
      "/x/%2e%2e//evil.example",
      "/./\\evil.example",
      "//evil.example",
      "///evil.example",
      "////evil.example/x",
      "https://evil.example/",
      "http://evil.example",
      "https:evil.example",
      "http:evil.example",
      "https:/evil.example",
      "https:\\\\evil.example",
      "/\\evil.example",
      "\\\\evil.example",
      "\\/evil.example",
      "/\t/evil.example",
      "/\n/evil.example",
      "\t//evil.example",
      " //evil.example",
      "/%0d%0aSet-Cookie:x",
      "/\u0000",
      "/%2f/evil.example",
      "/%5c/evil.example",
      "javascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "//mcp.example.com@evil.example",
      "https://mcp.example.com.evil.example/",
      "https://mcp.example.com:444/",
      "http://mcp.example.com/",
      "",
      42,
      undefined,
      null,
    ];
    for (const trick of tricks) {
      const result = safeReturnPath(trick, base);
      assert.ok(
        result.startsWith("/") && !result.startsWith("//") && !result.startsWith("/\\"),
        `${trick} -> ${result}`,
      );
      assert.equal(followed(result).origin, base.origin, `${String(trick)} -> ${result}`);
      assert.doesNotMatch(result, /[\p{Cc}\\]/u, `${String(trick)} -> ${JSON.stringify(result)}`);
    }
  });
});
