// The proxy's memory, as the container runs it: the production bundle through the image's
// entrypoint (heap sized for BENCH_MEMORY_LIMIT MiB, default 256) in the bench's configuration
// (Redis sessions, provider tokens). Prints startup to ready, RSS idle (with its split:
// anonymous, file-backed, and the node binary's own pages) and RSS after 8 s of
// 50-connection load with a session cookie and 8 s with a bearer JWT. Quicker than make bench
// (no oauth2-proxy, no streams): the figure to watch while changing start-up or module loading.
// BENCH_MEMORY_RUNS=N starts the proxy N times (RSS differs by ~10 MiB between runs);
// BENCH_MEMORY_IDLE_ONLY=1 skips the load; BENCH_NODE_OPTIONS are the proxy's NODE_OPTIONS
// (V8 flags given there replace the entrypoint's); BENCH_MEMORY_BINARY=1 prints which parts of
// the node binary the idle proxy has paged in beyond a bare node:http server (binary-pages.ts);
// BENCH_MEMORY_FLOOR=1 first prints the idle RSS of the proxy's libraries alone (library-floor.ts).
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import autocannon from "autocannon";
import { buildBundle } from "../scripts/build-bundle.ts";
import { TestBrowser } from "../test/support/browser.ts";
import { freePort, startRedis } from "../test/support/redis-server.ts";
import { binaryPages, binaryPagesReport } from "./binary-pages.ts";
import { printLibraryFloor } from "./library-floor.ts";
import { formatMemory, processMemory } from "./process-memory.ts";
import { MCP_HEADERS, startBenchProvider, startBenchProxy, TOOLS_LIST } from "./proxy-env.ts";

const here = import.meta.dirname;
const MEMORY_LIMIT_MIB = Number(process.env.BENCH_MEMORY_LIMIT ?? 256);
const RUNS = Number(process.env.BENCH_MEMORY_RUNS ?? 1);
const children: ChildProcess[] = [];

function start(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return child;
}

function stop(child: ChildProcess): Promise<unknown> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  return exited;
}

/** RSS and its split (MiB) from /proc: anonymous, file-backed, and the node binary's own pages. */
function memory(pid: number | undefined): string {
  return formatMemory(processMemory(pid));
}

/** The node binary's pages a bare node:http server has paged in, 1 s after it listens. */
async function bareServerPages(): Promise<Map<string, number>> {
  const server = `require("node:http").createServer((q, s) => s.end()).listen(0, () => console.log("up"))`;
  const bare = start(process.execPath, ["-e", server]);
  await new Promise((resolve) => bare.stdout?.once("data", resolve));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const pages = binaryPages(bare.pid as number);
  await stop(bare);
  return pages;
}

async function load(url: string, headers: Record<string, string>): Promise<number> {
  const result = await autocannon({
    url,
    method: "POST",
    connections: 50,
    duration: 8,
    headers: { ...MCP_HEADERS, ...headers },
    body: TOOLS_LIST,
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

try {
  const bundle = await buildBundle();
  const upstreamPort = await freePort();
  start(process.execPath, [path.join(here, "upstream.ts"), String(upstreamPort)]);
  const redis = await startRedis();
  if (process.env.BENCH_MEMORY_FLOOR) await printLibraryFloor(redis.url, MEMORY_LIMIT_MIB);
  // One port for every run, each proxy stopped before the next starts.
  const port = await freePort();
  const barePages = process.env.BENCH_MEMORY_BINARY ? await bareServerPages() : undefined;
  const { idp, tokenFor } = await startBenchProvider([`http://127.0.0.1:${port}/callback`]);
  for (let run = 0; run < RUNS; run++) {
    const url = `http://127.0.0.1:${port}`;
    const started = performance.now();
    const proxy = await startBenchProxy(
      start,
      { port, upstreamPort, issuer: idp.issuer, redisUrl: redis.url, memoryLimitMiB: MEMORY_LIMIT_MIB },
      { entry: bundle, env: { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? "", NODE_ENV: "production" } },
    );
    const startupMs = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = memory(proxy.pid);
    if (barePages) {
      const report = binaryPagesReport(binaryPages(proxy.pid as number), barePages);
      process.stdout.write(`the node binary's pages, idle proxy vs a bare node:http server:\n${report}\n`);
    }
    if (process.env.BENCH_MEMORY_IDLE_ONLY) {
      process.stdout.write(`startup ${startupMs.toFixed(0)} ms; idle ${idle}\n`);
      await stop(proxy);
      continue;
    }
    const browser = new TestBrowser();
    await browser.signIn(`${url}/`, "alice");
    const cookie = await browser.jar.getCookieString(url);
    const token = await tokenFor(url);
    const sessionRps = await load(`${url}/mcp`, { cookie });
    const bearerRps = await load(`${url}/mcp`, { authorization: `Bearer ${token}` });
    const after = memory(proxy.pid);
    process.stdout.write(
      `startup ${startupMs.toFixed(0)} ms; idle ${idle}; after load ${after} (${sessionRps.toFixed(0)} + ${bearerRps.toFixed(0)} req/s)\n`,
    );
    await stop(proxy);
  }
  await idp.close();
  await redis.close();
} finally {
  for (const child of children) child.kill("SIGKILL");
}
