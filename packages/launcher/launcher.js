// The launcher both installed commands (mcp-oidc-proxy, mcp-oidc-operator) run, in plain
// JavaScript so that it runs on any Node. Node 24 runs the command's bundled build, rebuilt
// first when a source is newer (decisions 019 and 020). On an older Node it re-executes the
// command with the project-local Node 24 that `make setup` installs, as a child, passes it
// SIGTERM, SIGINT and SIGHUP, and exits with its status (the child stops when this process
// ends, even by SIGKILL); or says how to get one.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * Runs the command whose bin file is at `binUrl` (its import.meta.url). The other paths are
 * the package's own: its bundle, the build script that writes it, and files besides src/, the
 * build script and the lock file whose change makes the bundle stale.
 * @param {string} binUrl
 * @param {{ name: string, bundle: string, build: string, inputs?: string[] }} command
 */
export async function launch(binUrl, { name, bundle, build, inputs = [] }) {
  const bin = fileURLToPath(binUrl);
  const packageDir = join(dirname(realpathSync(bin)), "..");
  if (Number(process.versions.node.split(".")[0]) >= 24) {
    stopWithLauncher();
    const entry = entryPoint(packageDir, join(packageDir, bundle), join(packageDir, build), inputs);
    const { main } = await import(pathToFileURL(entry).href);
    await main(process.argv);
  } else {
    relaunch(name, bin, packageDir);
  }
}

/**
 * Started by relaunch() on an older Node: stop with that launcher. One killed with SIGKILL
 * cannot pass a signal on, but its end closes the IPC channel; the program then gets the
 * SIGTERM the launcher would have passed, so it stops as it always does (its own code knows
 * nothing of being launched). Unreferenced: the channel does not keep a finished program up.
 */
function stopWithLauncher() {
  if (!process.channel) return;
  process.channel.unref();
  process.once("disconnect", () => process.kill(process.pid, "SIGTERM"));
}

/**
 * The bundle, rebuilt (in a child: its memory is not this process's) when a source, the build
 * script, an input or the lock file is newer; the sources themselves only where it cannot be built.
 */
function entryPoint(packageDir, bundle, build, inputs) {
  const sources = join(packageDir, "src");
  if (!existsSync(sources)) return bundle;
  const files = [
    build,
    ...inputs.map((file) => join(packageDir, file)),
    join(packageDir, "..", "..", "package-lock.json"),
  ];
  for (const entry of readdirSync(sources, { recursive: true })) files.push(join(sources, String(entry)));
  const built = existsSync(bundle) ? statSync(bundle).mtimeMs : 0;
  if (files.filter(existsSync).every((file) => statSync(file).mtimeMs <= built)) return bundle;
  const result = spawnSync(process.execPath, [build], { stdio: ["ignore", "ignore", "inherit"] });
  return result.status === 0 ? bundle : join(sources, "main.ts");
}

/** Runs the bin again with the project-local Node 24, as a child that this process stands for. */
function relaunch(name, bin, packageDir) {
  const nodeDir = `node-${process.platform}-${process.arch}`;
  const local = join(packageDir, "..", "..", ".tools", "node24", "node_modules", nodeDir, "bin", "node");
  if (!existsSync(local)) {
    process.stderr.write(`${name} needs Node.js 24 or newer (this is ${process.version}); run \`make setup\`.\n`);
    process.exit(1);
  }
  // The child runs in its own process group, so a terminal's Ctrl-C reaches it once (through
  // here) rather than twice; every signal that stops or reloads the program is passed on.
  // It gets this process's V8 flags (a bin's first line's), which a direct run would not read.
  const child = spawn(local, [...process.execArgv, bin, ...process.argv.slice(2)], {
    // The IPC channel (fd 3) only tells the child when this process is gone (stopWithLauncher).
    stdio: ["inherit", "inherit", "inherit", "ipc"],
    detached: true,
  });
  const forwarded = ["SIGTERM", "SIGINT", "SIGHUP"];
  const relay = (signal) => child.kill(signal);
  for (const signal of forwarded) process.on(signal, relay);
  child.once("error", (error) => {
    process.stderr.write(`${name}: cannot start ${local}: ${error.message}\n`);
    process.exit(1);
  });
  child.once("exit", (code, signal) => {
    if (code !== null) process.exit(code);
    // Killed by a signal: end the same way, so whoever started the launcher sees it.
    for (const each of forwarded) process.off(each, relay);
    process.kill(process.pid, signal ?? "SIGTERM");
  });
}
