#!/usr/bin/env node
// Launcher that runs on any Node: the sources are TypeScript run directly by Node 24's type
// stripping. On an older Node it re-executes itself with the project-local Node 24 that
// `make setup` installs as a child, passes it SIGTERM, SIGINT and SIGHUP, and exits with
// its status; or says how to get one.
import { spawn } from "node:child_process";
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
