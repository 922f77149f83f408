#!/usr/bin/env -S node --max-semi-space-size=1 --no-opt --no-maglev --no-sparkplug --optimize-for-size
// Launcher that runs on any Node: Node 24 runs the operator's bundled build with a small
// young generation and without V8's optimizing tiers, as its image does (memory, not speed,
// is what an operator spends; decisions 019 and 023). On an older Node it re-executes itself with the project-local Node 24 that
// `make setup` installs as a child, passes it SIGTERM, SIGINT and SIGHUP, and exits with
// its status; or says how to get one.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(realpathSync(fileURLToPath(import.meta.url)));
const major = Number(process.versions.node.split(".")[0]);

/**
 * The bundled build (scripts/build.ts; decision 019), rebuilt first when a source, the build
 * script or the lock file is newer; the sources themselves only where it cannot be built.
 */
function entryPoint() {
  const bundle = join(here, "..", "dist", "mcp-oidc-operator.mjs");
  const sources = join(here, "..", "src");
  const build = join(here, "..", "scripts", "build.ts");
  const inputs = [build, join(here, "..", "..", "..", "package-lock.json")].filter(existsSync);
  for (const entry of readdirSync(sources, { recursive: true })) inputs.push(join(sources, String(entry)));
  const built = existsSync(bundle) ? statSync(bundle).mtimeMs : 0;
  if (!existsSync(sources)) return bundle;
  if (inputs.every((file) => statSync(file).mtimeMs <= built)) return bundle;
  // In a child, so the build's own memory is not this process's.
  const result = spawnSync(process.execPath, [build], { stdio: ["ignore", "ignore", "inherit"] });
  return result.status === 0 ? bundle : join(sources, "main.ts");
}

if (major >= 24) {
  const { main } = await import(pathToFileURL(entryPoint()).href);
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
  // The child runs in its own process group, so a terminal's Ctrl-C reaches it once (through
  // here) rather than twice; every signal that stops or reloads the program is passed on.
  // It gets this process's V8 flags (the first line's), which a direct run would not read.
  const child = spawn(local, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    detached: true,
  });
  const forwarded = ["SIGTERM", "SIGINT", "SIGHUP"];
  const relay = (signal) => child.kill(signal);
  for (const signal of forwarded) process.on(signal, relay);
  child.once("error", (error) => {
    process.stderr.write(`mcp-oidc-operator: cannot start ${local}: ${error.message}\n`);
    process.exit(1);
  });
  child.once("exit", (code, signal) => {
    if (code !== null) process.exit(code);
    // Killed by a signal: end the same way, so whoever started the launcher sees it.
    for (const name of forwarded) process.off(name, relay);
    process.kill(process.pid, signal ?? "SIGTERM");
  });
}
