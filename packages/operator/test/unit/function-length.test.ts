// No function in the operator's or the proxy's src/ runs over 80 lines: long ones are split
// into named parts. Read with the TypeScript compiler's own parser, not by pattern. One test
// for both packages (kept here), so the rule and its reading live in one place.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";

const PACKAGES = path.resolve(import.meta.dirname, "../../..");
const LIMIT = 80;

function longFunctions(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > LIMIT)
        found.push(`${path.relative(PACKAGES, file)}:${start + 1} (${end - start + 1} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

for (const pkg of ["operator", "proxy"]) {
  describe(`${pkg} sources`, () => {
    it(`have no function longer than ${LIMIT} lines`, () => {
      const src = path.join(PACKAGES, pkg, "src");
      const files = readdirSync(src, { recursive: true })
        .map(String)
        .filter((file) => file.endsWith(".ts"));
      assert.deepEqual(
        files.flatMap((file) => longFunctions(path.join(src, file))),
        [],
      );
    });
  });
}
