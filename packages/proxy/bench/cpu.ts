// CPU time per request, robust to a shared machine: a fixed number of requests (not a fixed
// duration) through the bare baseline and through the production bundle (run by the image's
// entrypoint, as make bench runs it), in make bench's rows: Redis session, bearer JWT, an
// allowed tools/call without and with an MCP policy. Each row's CPU seconds (/proc/<pid>/stat,
// user + system) are divided by the requests it served; each row runs BENCH_CPU_ROUNDS times
// (default 3) and the lowest is printed (contention only ever adds). BENCH_CPU_REQUESTS sets
// the requests per round (default 20,000); BENCH_PROFILE=DIR writes a CPU profile of each
// proxy process (session + bearer + tools/call in one, the policy proxy in another);
// BENCH_PERF=DIR records each row's last measured round with perf (on-CPU samples, kernel
// included, JavaScript frames named: `perf report -i DIR/<row>.data`).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { buildBundle } from "../scripts/build-bundle.ts";
import { TestBrowser } from "../test/support/browser.ts";
import { freePort, startRedis } from "../test/support/redis-server.ts";
import { MCP_HEADERS, startBenchProvider, startBenchProxy, TOOLS_CALL, TOOLS_LIST } from "./proxy-env.ts";

const REQUESTS = Number(process.env.BENCH_CPU_REQUESTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_CPU_ROUNDS ?? 3);
const CONNECTIONS = 50;
const here = import.meta.dirname;
const children: ChildProcess[] = [];
/** BENCH_ALLOCATIONS=1: each process is started with an inspector here, by pid, and its allocations sampled. */
const inspectPorts = new Map<number | undefined, number>();
const inspectArgs = async () => (process.env.BENCH_ALLOCATIONS ? [`--inspect=127.0.0.1:${await freePort()}`] : []);
function remember(child: ChildProcess, args: string[]): ChildProcess {
  const port = /--inspect=127\.0\.0\.1:(\d+)/.exec(args.join(" "))?.[1];
  if (port) inspectPorts.set(child.pid, Number(port));
  return child;
}

function start(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return child;
}

function untilOutput(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => chunk.includes(text) && resolve());
    child.once("exit", (code) => reject(new Error(`exited with ${code} before "${text}"`)));
  });
}

/** SIGTERM, resolved once the process exited (a CPU profile is written then). */
function stop(child: ChildProcess): Promise<unknown> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  return exited;
}

/** CPU seconds a process has used so far: user, system. */
function cpuSeconds(pid: number | undefined): [number, number] {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return [Number(fields[11]) / 100, Number(fields[12]) / 100]; // clock ticks (USER_HZ = 100)
}

async function requests(url: string, headers: Record<string, string>, body: string, amount: number) {
  const result = await autocannon({
    url,
    method: "POST",
    connections: CONNECTIONS,
    amount,
    headers: { ...MCP_HEADERS, ...headers },
    body,
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

/** A DevTools protocol session with a process started with --inspect (BENCH_ALLOCATIONS). */
async function inspector(port: number) {
  const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(target?.webSocketDebuggerUrl ?? "");
  await new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));
  let next = 0;
  const pending = new Map<number, (result: unknown) => void>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  return {
    send: (method: string, params: object = {}) =>
      new Promise<unknown>((resolve) => {
        const id = ++next;
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** Bytes allocated per request by function (sampled, collected objects included), top 40. */
async function allocations(name: string, port: number, run: () => Promise<unknown>) {
  const session = await inspector(port);
  await session.send("HeapProfiler.startSampling", {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await run();
  const { profile } = (await session.send("HeapProfiler.stopSampling")) as { profile: { head: AllocationNode } };
  session.close();
  const bySite = new Map<string, number>();
  let total = 0;
  const walk = (node: AllocationNode, stack: string) => {
    const frame = `${node.callFrame.functionName || "(anon)"} ${node.callFrame.url.split("/").pop()}:${node.callFrame.lineNumber}:${node.callFrame.columnNumber}`;
    const key = `${frame} < ${stack}`;
    if (node.selfSize > 0) bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child, frame);
  };
  walk(profile.head, "");
  process.stdout.write(`${name}: ${(total / REQUESTS).toFixed(0)} bytes allocated per request (sampled)\n`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    process.stdout.write(`  ${(bytes / REQUESTS).toFixed(0).padStart(6)} B  ${site.slice(0, 160)}\n`);
  }
}

interface AllocationNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: AllocationNode[];
}

/** The lowest CPU µs per request over ROUNDS rounds, and the req/s of that round. */
async function cpuRow(
  name: string,
  pid: number | undefined,
  url: string,
  headers: Record<string, string>,
  body = TOOLS_LIST,
) {
  await requests(url, headers, body, 2_000);
  let best = { us: Number.POSITIVE_INFINITY, user: 0, rps: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const [user, system] = cpuSeconds(pid);
    const trace = process.env.BENCH_STRACE
      ? spawn("strace", [
          "-c",
          "-f",
          "-p",
          String(pid),
          "-o",
          `${process.env.BENCH_STRACE}/${name.replace(/\W+/g, "_")}.${round}`,
        ])
      : undefined;
    // BENCH_PERF=DIR: on-CPU samples of the measured round (perf's cpu-clock counts only time
    // on a core; --cpu-prof samples wall time, which a shared machine's preemption inflates).
    const perf =
      process.env.BENCH_PERF && round === ROUNDS - 1
        ? spawn("perf", [
            "record",
            "-e",
            "cpu-clock",
            "-F",
            "2999",
            "-g",
            "-p",
            String(pid),
            "-o",
            `${process.env.BENCH_PERF}/${name.replace(/\W+/g, "_")}.data`,
          ])
        : undefined;
    if (trace || perf) await new Promise((r) => setTimeout(r, 500));
    const rps = await requests(url, headers, body, REQUESTS);
    for (const tracer of [trace, perf]) {
      if (!tracer) continue;
      const done = new Promise((r) => tracer.once("exit", r));
      tracer.kill("SIGINT");
      await done;
    }
    const [userAfter, systemAfter] = cpuSeconds(pid);
    const us = ((userAfter - user + systemAfter - system) / REQUESTS) * 1e6;
    if (us < best.us) best = { us, user: ((userAfter - user) / REQUESTS) * 1e6, rps };
  }
  const inspectPort = inspectPorts.get(pid);
  if (inspectPort) await allocations(name, inspectPort, () => requests(url, headers, body, REQUESTS));
  process.stdout.write(
    `${name.padEnd(36)} ${best.us.toFixed(1).padStart(6)} µs/request (user ${best.user.toFixed(1)})  (${best.rps.toFixed(0)} req/s)\n`,
  );
  return best.us;
}

try {
  const bundle = await buildBundle();
  const upstreamPort = await freePort();
  const upstream = start(process.execPath, [path.join(here, "upstream.ts"), String(upstreamPort)]);
  await untilOutput(upstream, "ready");
  const barePort = await freePort();
  const profile = [
    ...(process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
    // perf names JavaScript frames from the map V8 writes with this (/tmp/perf-<pid>.map).
    ...(process.env.BENCH_PERF ? ["--perf-basic-prof"] : []),
  ];
  const bareArgs = [path.join(here, "bare-proxy.ts"), String(upstreamPort), String(barePort)];
  // A profile is written at exit, which SIGTERM's default action skips.
  const exitOnTerm = process.env.BENCH_PROFILE
    ? ["--import", 'data:text/javascript,process.on("SIGTERM",()=>process.exit())']
    : [];
  const bareFlags = [...profile, ...exitOnTerm, ...(await inspectArgs())];
  const bare = remember(start(process.execPath, [...bareFlags, ...bareArgs]), bareFlags);
  await untilOutput(bare, "ready");
  const redis = await startRedis();
  const proxyPort = await freePort();
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  const policyPort = await freePort();
  const policyUrl = `http://127.0.0.1:${policyPort}`;
  const { idp, tokenFor } = await startBenchProvider([`${proxyUrl}/callback`, `${policyUrl}/callback`]);
  const startProxy = async (port: number, entry: string, proxyArgs: string[] = []) => {
    const nodeArgs = [...profile, ...(await inspectArgs())];
    return startBenchProxy(
      (command, args, env) => remember(start(command, args, env), nodeArgs),
      { port, upstreamPort, issuer: idp.issuer, redisUrl: redis.url, memoryLimitMiB: 256 },
      {
        entry,
        nodeArgs,
        proxyArgs,
        env: process.env.BENCH_PROXY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_PROXY_NODE_OPTIONS } : {},
      },
    );
  };

  const bareRow = () => cpuRow("bare Node proxy (baseline)", bare.pid, `http://127.0.0.1:${barePort}/mcp`, {});
  await bareRow();
  // BENCH_CPU_BARE_EACH=1: the baseline is measured again before each row, so every figure has
  // one taken beside it (the machine's load moves both; their ratio moves less).
  const bareEach = Boolean(process.env.BENCH_CPU_BARE_EACH);
  if (!bareEach) await stop(bare);
  // One proxy process per row, so each profile holds one row (the session cookie holds: same
  // Redis, same secret). BENCH_COMPARE=BUNDLE runs each row through that bundle too, in turn.
  const bundles: [string, string][] = [["", bundle]];
  if (process.env.BENCH_COMPARE) bundles.unshift([" (compared)", process.env.BENCH_COMPARE]);
  const signIn = await startProxy(proxyPort, bundle);
  const browser = new TestBrowser();
  await browser.signIn(`${proxyUrl}/`, "alice");
  const cookie = await browser.jar.getCookieString(proxyUrl);
  await stop(signIn);
  const bearer = { authorization: `Bearer ${await tokenFor(proxyUrl)}` };
  const policyDir = mkdtempSync(path.join(tmpdir(), "bench-policy-"));
  const policyFile = path.join(policyDir, "config.yaml");
  writeFileSync(
    policyFile,
    "mcp_policy:\n  rules:\n    - { name: bench, tools: [echo], users: [alice] }\n    - { name: admins, tools: ['admin_*'], groups: [admins] }\n",
  );
  const policyBearer = { authorization: `Bearer ${await tokenFor(policyUrl)}` };
  const rows: [string, number, Record<string, string>, string, string[]][] = [
    ["mcp-oidc-proxy, Redis session", proxyPort, { cookie }, TOOLS_LIST, []],
    ["mcp-oidc-proxy, bearer JWT", proxyPort, bearer, TOOLS_LIST, []],
    ["mcp-oidc-proxy, tools/call", proxyPort, bearer, TOOLS_CALL, []],
    ["mcp-oidc-proxy, tools/call + policy", policyPort, policyBearer, TOOLS_CALL, ["--config", policyFile]],
  ];
  // BENCH_CPU_ROWS=text: only the rows whose name contains it; each bundle in turn, BENCH_CPU_REPEAT times.
  const only = process.env.BENCH_CPU_ROWS ?? "";
  for (const [name, port, headers, body, args] of rows.filter(([name]) => name.includes(only))) {
    for (const [label, entry] of Array.from(
      { length: Number(process.env.BENCH_CPU_REPEAT ?? 1) },
      () => bundles,
    ).flat()) {
      if (bareEach) await bareRow();
      const proxy = await startProxy(port, entry, args);
      await cpuRow(`${name}${label}`, proxy.pid, `http://127.0.0.1:${port}/mcp`, headers, body);
      await stop(proxy);
    }
  }
  if (bareEach) await stop(bare);
  rmSync(policyDir, { recursive: true, force: true });
  await idp.close();
  await redis.close();
} finally {
  for (const child of children) child.kill("SIGKILL");
}
