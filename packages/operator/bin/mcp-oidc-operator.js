#!/usr/bin/env -S node --max-semi-space-size=1 --no-opt --no-maglev --no-sparkplug --optimize-for-size
// The mcp-oidc-operator command, on any Node (@mcp-oidc-proxy/launcher): Node 24 runs the
// operator's bundled build (scripts/build.ts; decision 019), with a small young generation and
// without V8's optimizing tiers, as its image does (memory, not speed, is what an operator
// spends; decisions 019 and 023); an older Node re-executes it with the project-local Node 24
// and these V8 flags.
import { launch } from "@mcp-oidc-proxy/launcher";

await launch(import.meta.url, {
  name: "mcp-oidc-operator",
  bundle: "dist/mcp-oidc-operator.mjs",
  build: "scripts/build.ts",
});
