#!/usr/bin/env node
// The mcp-oidc-proxy command. In the repository (src/ beside it), on any Node
// (@mcp-oidc-proxy/launcher): Node 24 runs the proxy's bundled build (dist/, made by
// scripts/build-bundle.ts; decision 020), rebuilt first when a source or package.json (the
// version it prints) is newer; an older Node re-executes it with the project-local Node 24.
// Installed from the packed package (npm pack: bin/ and dist/ only, the bundle built by
// prepack and carrying every dependency), it runs that bundle as it is.
import { existsSync } from "node:fs";

if (existsSync(new URL("../src/main.ts", import.meta.url))) {
  const { launch } = await import("@mcp-oidc-proxy/launcher");
  await launch(import.meta.url, {
    name: "mcp-oidc-proxy",
    bundle: "dist/mcp-oidc-proxy.mjs",
    build: "scripts/build-bundle.ts",
    inputs: ["package.json"],
  });
} else if (Number(process.versions.node.split(".")[0]) < 24) {
  process.stderr.write(`mcp-oidc-proxy: needs Node.js 24 or later (this is ${process.version})\n`);
  process.exit(1);
} else {
  const { main } = await import("../dist/mcp-oidc-proxy.mjs");
  await main(process.argv);
}
