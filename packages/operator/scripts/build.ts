// The operator's bundled build: src/main.ts and its dependencies in one ES module (esbuild),
// packages/operator/dist/mcp-oidc-operator.mjs. The installed command and the container
// both run it: no type stripping at run time and one file instead of ~3,000 modules
// (client-node's generated models) cut the idle RSS by ~60 MiB (decision 019). The
// launcher rebuilds it when a source is newer, so it never runs stale code.
import { mkdirSync, renameSync, statSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";

export const BUNDLE = path.resolve(import.meta.dirname, "../dist/mcp-oidc-operator.mjs");

export async function buildOperator(): Promise<string> {
  mkdirSync(path.dirname(BUNDLE), { recursive: true });
  // Written beside and renamed: a launcher starting meanwhile reads the old or the new file.
  const partial = `${BUNDLE}.${process.pid}.tmp`;
  const result = await build({
    entryPoints: [path.resolve(import.meta.dirname, "../src/main.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    outfile: partial,
    logLevel: "error",
    legalComments: "inline",
    // Whitespace and syntax only: names stay as written, so stack traces read as the sources.
    minifyWhitespace: true,
    minifySyntax: true,
    // import.meta.main stays as written: true where the container runs the bundle itself,
    // false where the launcher imports it and calls main().
    // CommonJS dependencies inside an ES module bundle still call require().
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
    },
  });
  if (result.errors.length > 0) throw new Error("bundling failed");
  renameSync(partial, BUNDLE);
  return BUNDLE;
}

if (import.meta.main) {
  const bundle = await buildOperator();
  process.stdout.write(
    `wrote ${path.relative(process.cwd(), bundle)} (${(statSync(bundle).size / 2 ** 20).toFixed(1)} MiB)\n`,
  );
}
