// The least memory the proxy's libraries hold, whatever code uses them: library-floor-probe.ts
// loads each of them (alone, then together) into a node:http server and uses it as little as
// the proxy must, bundled the way the proxy is and run through the image's entrypoint at the
// same limit, and this prints each probe's idle RSS beside a bare node:http server's. Issue
// 14's idle target is read against it: a proxy cannot idle below the floor of the libraries
// the project builds on. `BENCH_MEMORY_FLOOR=1 make bench-memory` prints it.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildBundle } from "../scripts/build-bundle.ts";
import { formatMemory, processMemory } from "./process-memory.ts";
import { NODE_MEMORY } from "./proxy-env.ts";

const EACH = ["undici", "redis", "express", "zod", "winston", "prom-client", "yaml", "commander", "jose"];
const ROWS: [label: string, parts: string[]][] = [
  ["a bare node:http server", []],
  ...EACH.map((part): [string, string[]] => [`+ ${part} alone`, [part]]),
  ["+ undici and redis (what any proxy with Redis sessions loads)", ["undici", "redis"]],
  ["+ all of them, openid-client and express-session", [...EACH, "openid-client", "express-session"]],
];

async function idleMemory(probe: string, parts: string[], env: Record<string, string>): Promise<string> {
  const child = spawn("sh", [NODE_MEMORY, process.execPath, probe], {
    env: { ...process.env, ...env, FLOOR_PARTS: parts.join(",") },
    stdio: ["ignore", "pipe", "ignore"],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (data: Buffer) => data.includes("ready") && resolve());
      child.once("exit", (code) => reject(new Error(`the probe of ${parts.join(", ")} exited (${code})`)));
    });
    // As memory.ts reads the proxy: 1 s after it is ready.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return formatMemory(processMemory(child.pid));
  } finally {
    child.kill("SIGKILL");
  }
}

/** Prints the floor rows; `redisUrl` is a running redis-server's, `memoryLimitMiB` the container's limit. */
export async function printLibraryFloor(redisUrl: string, memoryLimitMiB: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "library-floor-"));
  try {
    const probe = await buildBundle(dir, path.join(import.meta.dirname, "library-floor-probe.ts"), "library-floor");
    const env = {
      FLOOR_REDIS_URL: redisUrl,
      MCP_MEMORY_LIMIT: String(memoryLimitMiB * 2 ** 20),
      NODE_ENV: "production",
    };
    process.stdout.write(
      `the libraries' floor: each probe idle, bundled and run as the proxy is (${memoryLimitMiB} MiB limit)\n`,
    );
    for (const [label, parts] of ROWS) {
      process.stdout.write(`${label.padEnd(64)} ${await idleMemory(probe, parts, env)}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
