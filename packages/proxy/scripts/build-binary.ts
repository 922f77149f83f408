// make binary: the proxy as one executable file (Node's single executable applications):
// the sources and their dependencies bundled by esbuild into one script, that script
// injected (postject) into a copy of this Node 24 binary. No Node needed where it runs.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";
import { inject } from "postject";

const here = import.meta.dirname;
export const BINARY_DIR = path.resolve(here, "../../../dist");
export const BINARY = path.join(BINARY_DIR, "mcp-oidc-proxy");
// The fuse Node looks for to know a blob was injected (documented with the SEA feature).
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

export async function buildBinary(): Promise<string> {
  const work = path.join(BINARY_DIR, "sea");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const bundle = path.join(work, "mcp-oidc-proxy.cjs");
  // Node 24 runs a CommonJS main script in a single executable.
  const result = await build({
    entryPoints: [path.join(here, "../sea/entry.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node24",
    outfile: bundle,
    logLevel: "error",
    legalComments: "inline",
    // import.meta has no meaning in the bundle; the entry calls main() itself.
    define: { "import.meta.main": "false" },
  });
  if (result.errors.length > 0) throw new Error("bundling failed");
  const blob = path.join(work, "sea-prep.blob");
  const seaConfig = path.join(work, "sea-config.json");
  writeFileSync(
    seaConfig,
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }),
  );
  execFileSync(process.execPath, ["--experimental-sea-config", seaConfig], { stdio: "ignore" });
  copyFileSync(process.execPath, BINARY);
  await inject(BINARY, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SEA_FUSE });
  rmSync(work, { recursive: true, force: true });
  return BINARY;
}

if (import.meta.main) {
  const binary = await buildBinary();
  process.stdout.write(
    `wrote ${path.relative(process.cwd(), binary)} (${Math.round(statSync(binary).size / 2 ** 20)} MiB)\n`,
  );
}
