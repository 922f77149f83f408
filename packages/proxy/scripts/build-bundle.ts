// The proxy's production build: src/main.ts and its dependencies bundled by esbuild into ES
// modules under packages/proxy/dist/, so Node runs plain JavaScript (no type stripping at run
// time, one file read instead of hundreds). Code splitting keeps each lazily imported part
// (the Redis client, the authorization server's oidc-provider, the secret sources, tracing)
// in its own chunk that is loaded only when the configuration uses it. The container image,
// the installed command (bin/mcp-oidc-proxy.js rebuilds it when a source is newer) and make
// bench run it. Written beside and renamed into place, so a starting launcher never reads
// half a build.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { build, type Plugin } from "esbuild";

export const BUNDLE_DIR = path.resolve(import.meta.dirname, "../dist");
export const BUNDLE = path.join(BUNDLE_DIR, "mcp-oidc-proxy.mjs");

/**
 * `import … from "node:http"` in an ES module makes Node read every export of the built-in,
 * and node:http's exports include getters (WebSocket, CloseEvent, MessageEvent) that load
 * Node's own copy of undici (+13 MiB resident in a bare Node; in the proxy, which loads the
 * undici package and the same web streams anyway, ~1.5 MiB with main.ts's install()). Those
 * imports are bundled as `require("node:http")`, whose exports are only read when used.
 * See docs/decisions/026-idle-memory.md.
 */
const httpByRequire: Plugin = {
  name: "http-by-require",
  setup(plugin) {
    plugin.onResolve({ filter: /^(node:)?https?$/ }, (args) =>
      args.kind === "import-statement"
        ? { path: args.path.replace(/^(node:)?/, "node:"), namespace: "http-by-require" }
        : undefined,
    );
    plugin.onLoad({ filter: /.*/, namespace: "http-by-require" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

/** Dependencies' JSON files this large or larger are written beside the chunks. */
const JSON_BESIDE_BYTES = 16 * 1024;

/**
 * The large JSON files of dependencies (mime-db's table, twice; iconv-lite's code pages) are
 * copied beside the chunks and read with Node's require() when their module first asks for
 * them, instead of being inlined as JavaScript: V8 keeps the source text of every loaded
 * module resident, and an object literal's boilerplate with the code that built it, while a
 * parsed JSON file leaves only its objects. iconv-lite's tables are then never read at all
 * (body-parser decodes the forms the proxy parses as UTF-8 or ISO-8859-1; 0.4 MiB of the
 * loaded source before). The files go to `chunks/`, and the banner's `__chunkDir` finds them
 * from the entry and from a chunk alike. See docs/decisions/031-idle-module-graph.md.
 */
function jsonBeside(copies: Map<string, string>): Plugin {
  return {
    name: "json-beside",
    setup(plugin) {
      plugin.onLoad({ filter: /[\\/]node_modules[\\/].*\.json$/ }, (args) => {
        if (statSync(args.path).size < JSON_BESIDE_BYTES) return undefined;
        const hash = createHash("sha256").update(args.path).digest("hex").slice(0, 8);
        const name = `${path.basename(args.path, ".json")}-${hash}.json`;
        copies.set(name, args.path);
        return { contents: `module.exports = require(__chunkDir + ${JSON.stringify(`/${name}`)});`, loader: "js" };
      });
    },
  };
}

/**
 * Bundles `entry` (the proxy's main by default; bench/library-floor.ts bundles its probe the
 * same way, so both pay the same for what they load) into `outdir`, as `<name>.mjs`.
 */
export async function buildBundle(
  outdir: string = BUNDLE_DIR,
  entry: string = path.join(import.meta.dirname, "../src/main.ts"),
  name = "mcp-oidc-proxy",
): Promise<string> {
  const staging = `${outdir}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const jsonCopies = new Map<string, string>();
  const result = await build({
    entryPoints: { [name]: entry },
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node24",
    outdir: staging,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    // Smaller source to parse and keep resident (V8 keeps every loaded module's source text:
    // ~5 MiB before, ~3.5 with short local names); names stay (error stacks, class names).
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: true,
    keepNames: true,
    logLevel: "error",
    plugins: [httpByRequire, jsonBeside(jsonCopies)],
    legalComments: "eof",
    // CommonJS dependencies inside ES modules still call require() and read __dirname.
    banner: {
      js: [
        'import { createRequire as __createRequire } from "node:module";',
        'import { dirname as __pathDirname } from "node:path";',
        'import { fileURLToPath as __fileURLToPath } from "node:url";',
        "const require = __createRequire(import.meta.url);",
        "const __filename = __fileURLToPath(import.meta.url);",
        "const __dirname = __pathDirname(__filename);",
        // Every output but the entry is in chunks/ (chunkNames), where jsonBeside writes.
        'const __chunkDir = /[\\\\/]chunks$/.test(__dirname) ? __dirname : __dirname + "/chunks";',
      ].join(" "),
    },
  });
  if (result.errors.length > 0) throw new Error("bundling failed");
  for (const [name, source] of jsonCopies) copyFileSync(source, path.join(staging, "chunks", name));
  rmSync(outdir, { recursive: true, force: true });
  renameSync(staging, outdir);
  return path.join(outdir, `${name}.mjs`);
}

if (import.meta.main) {
  const bundle = await buildBundle();
  process.stdout.write(
    `wrote ${path.relative(process.cwd(), bundle)} (${(statSync(bundle).size / 2 ** 20).toFixed(1)} MiB, chunks beside it)\n`,
  );
}
