// A real redis-server (Debian's) on a free loopback port, with append-only persistence in a
// temporary directory so a restart keeps the data, as a production Redis would.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { freePort } from "./ports.ts";

// Tests written before support/ports.ts import freePort from here.
export { freePort };

/** Where a test redis-server listens (loopback only) and keeps its files. */
const listenArgs = (port: number, dir: string) => ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir];

/** Starts redis-server with `args` and resolves once its output contains `readyText`. */
async function spawnRedis(args: string[], readyText = "Ready to accept connections"): Promise<ChildProcess> {
  const proc = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let output = "";
    proc.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(readyText)) resolve();
    });
    proc.once("exit", (code) => reject(new Error(`redis-server ${args[0]} exited (${code}): ${output.slice(-500)}`)));
    proc.once("error", reject);
  });
  return proc;
}

async function stopProcess(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill("SIGTERM");
  await exited;
}

export interface TestRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Stops and starts again on the same port with the same data directory. */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing (a hung Redis). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** `at`: the port to listen on (default: a free one), e.g. where a test's stand-in for Redis was. */
export async function startRedis(at?: number): Promise<TestRedis> {
  const port = at ?? (await freePort());
  const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-redis-"));
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    child = await spawnRedis([...listenArgs(port, dir), "--appendonly", "yes", "--save", "", "--daemonize", "no"]);
  }

  async function stop(): Promise<void> {
    await stopProcess(child);
    child = undefined;
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async restart() {
      await stop();
      await start();
    },
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
    async close() {
      child?.kill("SIGCONT");
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestSentinel {
  port: number;
  close(): Promise<void>;
}

/** A real Redis Sentinel (redis-server --sentinel) watching `master` as "mymaster", on port `at` (default: a free one). */
export async function startSentinel(master: TestRedis, at?: number): Promise<TestSentinel> {
  const port = at ?? (await freePort());
  const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-sentinel-"));
  const conf = path.join(dir, "sentinel.conf");
  writeFileSync(
    conf,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `sentinel monitor mymaster 127.0.0.1 ${master.port} 1`,
      "sentinel down-after-milliseconds mymaster 5000",
      "",
    ].join("\n"),
  );
  const proc = await spawnRedis([conf, "--sentinel"], "+monitor master mymaster");
  return {
    port,
    async close() {
      await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestCluster {
  nodes: string[];
  close(): Promise<void>;
}

/** Three real cluster-mode Redis nodes joined with redis-cli --cluster create (no replicas); the first on port `at` (default: a free one). */
export async function startCluster(at?: number): Promise<TestCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-cluster-"));
  const procs: ChildProcess[] = [];
  const nodes: string[] = [];
  for (let i = 0; i < 3; i++) {
    const port = i === 0 && at ? at : await freePort();
    procs.push(
      await spawnRedis([
        ...listenArgs(port, dir),
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        `nodes-${port}.conf`,
        "--appendonly",
        "no",
        "--save",
        "",
      ]),
    );
    nodes.push(`127.0.0.1:${port}`);
  }
  const create = spawn("redis-cli", ["--cluster", "create", ...nodes, "--cluster-replicas", "0", "--cluster-yes"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  create.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => create.once("exit", resolve));
  if (code !== 0 || !output.includes("All 16384 slots covered")) throw new Error(`cluster create failed: ${output}`);
  // Slots are assigned; every node must also agree the cluster is up (bounded wait).
  for (const node of nodes) {
    const port = node.split(":")[1] as string;
    for (let attempt = 0; ; attempt++) {
      const info = execFileSync("redis-cli", ["-p", port, "cluster", "info"], { encoding: "utf8" });
      if (info.includes("cluster_state:ok")) break;
      if (attempt === 200) throw new Error(`cluster node ${node} never reported cluster_state:ok`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    nodes,
    async close() {
      for (const proc of procs) await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
