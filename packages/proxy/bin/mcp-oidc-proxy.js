#!/usr/bin/env node
// Launcher that runs on any Node: Node 24 runs the proxy's bundled build (dist/, made by
// scripts/build-bundle.ts; decision 020), rebuilt first when a source is newer; the
// TypeScript sources themselves only where it cannot be built. On an older Node it re-executes itself with the project-local Node 24 that
// `make setup` installs as a child, passes it SIGTERM, SIGINT and SIGHUP, and exits with
// its status; or says how to get one.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(realpathSync(fileURLToPath(import.meta.url)));
const major = Number(process.versions.node.split(".")[0]);

/** The bundle, rebuilt (in a child: its memory is not this process's) when a source, the build script or the lock file is newer. */
function entryPoint() {
  const bundle = join(here, "..", "dist", "mcp-oidc-proxy.mjs");
  const sources = join(here, "..", "src");
  if (!existsSync(sources)) return bundle;
  const build = join(here, "..", "scripts", "build-bundle.ts");
  const inputs = [build, join(here, "..", "package.json"), join(here, "..", "..", "..", "package-lock.json")];
  for (const entry of readdirSync(sources, { recursive: true })) inputs.push(join(sources, String(entry)));
  const built = existsSync(bundle) ? statSync(bundle).mtimeMs : 0;
  if (inputs.filter(existsSync).every((file) => statSync(file).mtimeMs <= built)) return bundle;
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
      `mcp-oidc-proxy needs Node.js 24 or newer (this is ${process.version}); run \`make setup\`.\n`,
    );
    process.exit(1);
  }
  // The child runs in its own process group, so a terminal's Ctrl-C reaches it once (through
  // here) rather than twice; every signal that stops or reloads the program is passed on.
  const child = spawn(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    detached: true,
  });
  const forwarded = ["SIGTERM", "SIGINT", "SIGHUP"];
  const relay = (signal) => child.kill(signal);
  for (const signal of forwarded) process.on(signal, relay);
  child.once("error", (error) => {
    process.stderr.write(`mcp-oidc-proxy: cannot start ${local}: ${error.message}\n`);
    process.exit(1);
  });
  child.once("exit", (code, signal) => {
    if (code !== null) process.exit(code);
    // Killed by a signal: end the same way, so whoever started the launcher sees it.
    for (const name of forwarded) process.off(name, relay);
    process.kill(process.pid, signal ?? "SIGTERM");
  });
}
