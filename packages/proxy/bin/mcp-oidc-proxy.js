#!/usr/bin/env node
// The mcp-oidc-proxy command, on any Node (@mcp-oidc-proxy/launcher): Node 24 runs the
// proxy's bundled build (dist/, made by scripts/build-bundle.ts; decision 020), rebuilt first
// when a source or package.json (the version it prints) is newer; an older Node re-executes
// it with the project-local Node 24.
import { launch } from "@mcp-oidc-proxy/launcher";

await launch(import.meta.url, {
  name: "mcp-oidc-proxy",
  bundle: "dist/mcp-oidc-proxy.mjs",
  build: "scripts/build-bundle.ts",
  inputs: ["package.json"],
});
