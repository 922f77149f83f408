// make lambda: dist/lambda/index.mjs, the proxy's Lambda function in one ES module (esbuild),
// for the nodejs24.x runtime; deployments/serverless/template.yaml deploys it.
import { mkdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";

export const LAMBDA_DIR = path.resolve(import.meta.dirname, "../../../dist/lambda");
export const LAMBDA_BUNDLE = path.join(LAMBDA_DIR, "index.mjs");

export async function buildLambda(): Promise<string> {
  rmSync(LAMBDA_DIR, { recursive: true, force: true });
  mkdirSync(LAMBDA_DIR, { recursive: true });
  const result = await build({
    entryPoints: [path.join(import.meta.dirname, "../src/serverless/handler.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    outfile: LAMBDA_BUNDLE,
    logLevel: "error",
    legalComments: "inline",
    // CommonJS dependencies inside an ES module bundle still call require().
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
    },
  });
  if (result.errors.length > 0) throw new Error("bundling failed");
  return LAMBDA_BUNDLE;
}

if (import.meta.main) {
  const bundle = await buildLambda();
  process.stdout.write(
    `wrote ${path.relative(process.cwd(), bundle)} (${(statSync(bundle).size / 2 ** 20).toFixed(1)} MiB)\n`,
  );
}
