#!/usr/bin/env node
// Launcher that runs on any Node: the sources are TypeScript run directly by Node 24's type
// stripping. On an older Node it re-executes itself with the project-local Node 24 that
// `make setup` installs, or says how to get one.
import { spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(realpathSync(fileURLToPath(import.meta.url)));
const major = Number(process.versions.node.split(".")[0]);

if (major >= 24) {
  const { main } = await import(pathToFileURL(join(here, "..", "src", "main.ts")).href);
  await main(process.argv);
} else {
  const local = join(
    here,
    "..",
    "..",
    "..",
    ".tools",
    "node24",
    "node_modules",
    `node-${process.platform}-${process.arch}`,
    "bin",
    "node",
  );
  if (!existsSync(local)) {
    process.stderr.write(
      `mcp-oidc-operator needs Node.js 24 or newer (this is ${process.version}); run \`make setup\`.\n`,
    );
    process.exit(1);
  }
  const result = spawnSync(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(result.status ?? 1);
}
