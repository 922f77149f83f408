// The operator's bundled build: src/main.ts and its dependencies in one ES module (esbuild),
// packages/operator/dist/mcp-oidc-operator.mjs. The installed command and the container
// both run it: no type stripping at run time and one file instead of ~3,000 modules cut the
// idle RSS by ~60 MiB (decision 019). The launcher rebuilds it when a source is newer, so it
// never runs stale code.
//
// client-node's generated code (src/gen: ~2,700 models, the API classes, their serializer)
// is declared free of side effects here, which it is (classes and tables, no registration),
// but its package.json does not say so: esbuild then keeps only what the operator reaches,
// and config.js's `import … from "./gen/index.js"` no longer drags every model in. The
// operator reaches none of them (every request is plain JSON, runtime/raw-client.ts): ~1 MB
// of code and ~14 MiB of RSS less (decision 023; a test holds the bundle to it).
import { mkdirSync, renameSync, statSync } from "node:fs";
import path from "node:path";
import { type BuildOptions, build, type Plugin } from "esbuild";

export const BUNDLE = path.resolve(import.meta.dirname, "../dist/mcp-oidc-operator.mjs");

const CLIENT_NODE_GENERATED = `${path.sep}@kubernetes${path.sep}client-node${path.sep}dist${path.sep}gen${path.sep}`;

/** Marks client-node's generated modules as free of side effects, so unused ones are left out. */
const clientNodeGeneratedIsPure: Plugin = {
  name: "client-node-generated-is-pure",
  setup(builder) {
    builder.onResolve({ filter: /^\./ }, async (args) => {
      if (args.pluginData === "resolving" || !args.importer.includes(`${path.sep}client-node${path.sep}`)) return;
      const resolved = await builder.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: "resolving",
      });
      if (resolved.errors.length > 0 || !resolved.path.includes(CLIENT_NODE_GENERATED)) return;
      return { path: resolved.path, sideEffects: false };
    });
  },
};

export const BUILD_OPTIONS = {
  entryPoints: [path.resolve(import.meta.dirname, "../src/main.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  logLevel: "error",
  legalComments: "inline",
  // Whitespace and syntax only: names stay as written, so stack traces read as the sources.
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [clientNodeGeneratedIsPure],
  // import.meta.main stays as written: true where the container runs the bundle itself,
  // false where the launcher imports it and calls main().
  // CommonJS dependencies inside an ES module bundle still call require().
  banner: {
    js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
  },
} satisfies BuildOptions;

export async function buildOperator(): Promise<string> {
  mkdirSync(path.dirname(BUNDLE), { recursive: true });
  // Written beside and renamed: a launcher starting meanwhile reads the old or the new file.
  const partial = `${BUNDLE}.${process.pid}.tmp`;
  const result = await build({ ...BUILD_OPTIONS, outfile: partial });
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
