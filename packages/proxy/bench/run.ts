// make bench: the same MCP request (POST tools/list) against the upstream directly, a bare
// Node proxy, and mcp-oidc-proxy with a signed-in session in Redis, with a bearer JWT
// issued for it by the provider, and with a token of its own authorization server (looked
// up in Redis); an allowed tools/call with a bearer JWT without and with an MCP policy;
// 50 connections each, in one run, on this machine. The same session row with three upstream
// endpoints (target.urls, least loaded choice) and its ratio to one. Prints req/s, p50, p99
// and each ratio to the bare baseline, and the proxy's RSS and startup time. Latency at half of
// the proxy's saturation (its closed-loop session row) is measured with an open-model load
// (bench/open-load.ts: a constant arrival rate, not autocannon's bursty -R) through the
// upstream directly, the bare proxy, mcp-oidc-proxy and oauth2-proxy at the same rate: p50, p99,
// p99.9 and the p99 each proxy adds over the bare one. The proxy runs as its production bundle
// (scripts/build-bundle.ts) through the image's entrypoint (heap sized for BENCH_MEMORY_LIMIT
// MiB, default 256), as the container runs it; its idle RSS run from the TypeScript sources
// is printed beside. oauth2-proxy (Go, bench/oauth2-proxy.ts) runs beside it in front
// of the same upstream, with Redis sessions from the same provider: the same figures for both.
// Then BENCH_STREAMS (10,000) event streams held open through each proxy at once (one event a
// second each: events relayed per second against what was sent), with the POST run repeated
// meanwhile through mcp-oidc-proxy: open streams must not slow requests down or stop them; and
// through the bare proxy with the same heap sizes, the floor a Node proxy holds in that memory.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { buildBundle } from "../scripts/build-bundle.ts";
import { TestBrowser } from "../test/support/browser.ts";
import { HandClient } from "../test/support/oauth-hand-client.ts";
import { freePort, startRedis } from "../test/support/redis-server.ts";
import { OAUTH2_PROXY_CLIENT, oauth2ProxyArgs, oauth2ProxyBinary } from "./oauth2-proxy.ts";
import { type OpenLoadFigures, openLoad, vegetaBinary } from "./open-load.ts";
import {
  MCP_HEADERS,
  NODE_MEMORY,
  startBenchProvider,
  startBenchProxy,
  TOOLS_CALL,
  TOOLS_LIST,
  untilReady,
} from "./proxy-env.ts";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 50;
const STREAMS = Number(process.env.BENCH_STREAMS ?? 10_000);
/** Seconds over which the events relayed on the open streams are counted. */
const STREAM_WINDOW = 5;
const here = import.meta.dirname;
const children: ChildProcess[] = [];
/** The container's memory limit the proxy runs with (BENCH_MEMORY_LIMIT MiB, default the seed's 256). */
const MEMORY_LIMIT_MIB = Number(process.env.BENCH_MEMORY_LIMIT ?? 256);
/** The image's entrypoint, which sizes V8's heap from that limit. */
const o2pBinary = oauth2ProxyBinary();
const vegeta = vegetaBinary();

// Each stream takes two descriptors in the proxy (client and upstream side): its processes may
// open more files than a shell's usual limit where the machine allows (exec keeps the pid).
const RAISE_FILE_LIMIT = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"';

function startProcess(
  args: string[],
  env: Record<string, string> = {},
  readyText?: string,
  command: string = process.execPath,
  // oauth2-proxy logs every stream the bench closes as an error: its log is not shown.
  stderr: "inherit" | "ignore" = command === o2pBinary ? "ignore" : "inherit",
): Promise<ChildProcess> {
  const child = spawn("sh", ["-c", RAISE_FILE_LIMIT, command, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", stderr],
  });
  children.push(child);
  if (readyText === undefined) return Promise.resolve(child);
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes(readyText)) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
  });
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ = 100)
}

/** Resident memory of a process; NaN once it has exited (e.g. killed for lack of memory). */
function rssMiB(pid: number | undefined): number {
  if (!existsSync(`/proc/${pid}/status`)) return Number.NaN;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

interface HeldStreams {
  open: http.ClientRequest[];
  failed: number;
  /** Events received so far on every open stream. */
  events: () => number;
}

/** Opens `count` event streams (each its own connection), in batches; resolves when each has its first event. */
async function holdStreams(url: string, cookie: string, count: number): Promise<HeldStreams> {
  const open: http.ClientRequest[] = [];
  let failed = 0;
  let events = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get(url, { agent: false, headers: { cookie, accept: "text/event-stream" } });
      req.once("error", () => {
        failed++;
        resolve();
      });
      req.once("response", (res) => {
        if (res.statusCode !== 200) failed++;
        else open.push(req);
        res.on("data", (chunk: Buffer) => {
          events += chunk.toString().split("\n\n").length - 1;
        });
        res.once("data", () => resolve());
        res.once("end", () => resolve());
      });
    });
  for (let started = 0; started < count; started += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - started) }, one));
  }
  return { open, failed, events: () => events };
}

interface StreamFigures {
  name: string;
  open: number;
  failed: number;
  openSeconds: number;
  eventsPerSecond: number;
  rss: number;
}

/** Holds `STREAMS` ticking streams through a proxy, counts the events relayed over a window, then closes them. */
async function streamsRow(name: string, url: string, cookie: string, pid: number | undefined): Promise<StreamFigures> {
  const started = performance.now();
  const streams = await holdStreams(url, cookie, STREAMS);
  const openSeconds = (performance.now() - started) / 1000;
  const before = streams.events();
  await new Promise((resolve) => setTimeout(resolve, STREAM_WINDOW * 1000));
  const eventsPerSecond = (streams.events() - before) / STREAM_WINDOW;
  const rss = rssMiB(pid);
  for (const req of streams.open) req.destroy();
  return { name, open: streams.open.length, failed: streams.failed, openSeconds, eventsPerSecond, rss };
}

interface Figures {
  name: string;
  rps: number;
  p50: number;
  p99: number;
}

async function load(
  name: string,
  url: string,
  headers: Record<string, string> = {},
  options: { body?: string } = {},
): Promise<Figures> {
  const { body = TOOLS_LIST } = options;
  const result = await autocannon({
    url,
    method: "POST",
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { ...MCP_HEADERS, ...headers },
    body,
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { name, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

/** The open-model block: each row at the same rate and the share of its own saturation that is; the p99 each proxy adds over the bare one. */
function openModelLines(
  open: Record<"direct" | "bare" | "session" | "o2p", OpenLoadFigures>,
  saturation: Record<"direct" | "bare" | "session" | "o2p", Figures>,
  rate: number,
  machineLoad: number[],
): string[] {
  const ms = (value: number) => value.toFixed(2).padStart(6);
  const line = (key: keyof typeof open) => {
    const f = open[key];
    return `${f.name.padEnd(34)} p50 ${ms(f.p50)} ms  p99 ${ms(f.p99)} ms  p99.9 ${ms(f.p999)} ms  ${((rate / saturation[key].rps) * 100).toFixed(0).padStart(3)} % of its saturation; vegeta ${(f.generatorCores * 100).toFixed(0)} % of a core, ${f.sent} of ${f.scheduled} sent, p99 ${f.lateP99.toFixed(2)} ms late`;
  };
  return [
    `open model (vegeta ${vegeta.match(/vegeta-(v[\d.]+)/)?.[1] ?? ""}): a constant ${rate} req/s, half of mcp-oidc-proxy's saturation, for ${DURATION} s each in 1 s slices taken in turn; latency from each request's scheduled send time; load average ${machineLoad.map((n) => n.toFixed(1)).join(" → ")}`,
    ...(["direct", "bare", "session", "o2p"] as const).map(line),
    `added p99 latency at half saturation (${rate} req/s, over the bare proxy at the same rate): mcp-oidc-proxy ${(open.session.p99 - open.bare.p99).toFixed(2)} ms, oauth2-proxy ${(open.o2p.p99 - open.bare.p99).toFixed(2)} ms (target < 2 ms)`,
  ];
}

try {
  const bundle = await buildBundle();
  const upstreamPort = await freePort();
  await startProcess([path.join(here, "upstream.ts"), String(upstreamPort)], {}, "ready");
  const barePort = await freePort();
  const bareProcess = await startProcess(
    [path.join(here, "bare-proxy.ts"), String(upstreamPort), String(barePort)],
    {},
    "ready",
  );

  const redis = await startRedis();
  const proxyPort = await freePort();
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  const asProxyPort = await freePort();
  const asProxyUrl = `http://127.0.0.1:${asProxyPort}`;
  const o2pPort = await freePort();
  const o2pUrl = `http://127.0.0.1:${o2pPort}`;
  const { idp, tokenFor } = await startBenchProvider(
    [`${proxyUrl}/callback`, `${asProxyUrl}/callback`],
    [{ ...OAUTH2_PROXY_CLIENT, redirect_uris: [`${o2pUrl}/oauth2/callback`], grant_types: ["authorization_code"] }],
  );
  // BENCH_PROFILE=DIR writes a CPU profile of the proxy into DIR.
  const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  /** The proxy as its own process (the bundle unless told), with Redis sessions, in one MCP authorization mode; resolves once ready. */
  const startMcpOidcProxy = (
    port: number,
    mcpAuthMode: "provider" | "proxy",
    args: string[] = [],
    proxyArgs: string[] = [],
    env: Record<string, string> = {},
    entry: string = bundle,
  ) =>
    startBenchProxy(
      (command, argv, environment) => startProcess(argv, environment, undefined, command),
      { port, upstreamPort, issuer: idp.issuer, redisUrl: redis.url, memoryLimitMiB: MEMORY_LIMIT_MIB, mcpAuthMode },
      // One signed-in user holds all the streams of the streams row.
      { entry, nodeArgs: args, proxyArgs, env: { MCP_MAX_STREAMS_PER_USER: "0", ...env } },
    );
  // The same configuration run from the TypeScript sources (type stripping): idle RSS only.
  const sourcePort = await freePort();
  const sourceProxy = await startMcpOidcProxy(sourcePort, "provider", [], [], {}, path.join(here, "../src/main.ts"));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const sourceIdleRss = rssMiB(sourceProxy.pid);
  sourceProxy.kill("SIGTERM");
  const started = performance.now();
  const proxy = await startMcpOidcProxy(proxyPort, "provider", profile);
  const startupMs = performance.now() - started;
  // Idle = ready and settled for a second, before any request.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const idleRss = rssMiB(proxy.pid);

  const browser = new TestBrowser();
  await browser.signIn(`${proxyUrl}/`, "alice");
  const cookie = await browser.jar.getCookieString(proxyUrl);

  // Warm-up, then the measured runs.
  await autocannon({
    url: `${proxyUrl}/mcp`,
    connections: 10,
    duration: 2,
    headers: { cookie },
    method: "POST",
    body: "{}",
  });
  const direct = await load("upstream direct", `http://127.0.0.1:${upstreamPort}/mcp`);
  let cpuBefore = cpuSeconds(bareProcess.pid);
  const bare = await load("bare Node proxy (baseline)", `http://127.0.0.1:${barePort}/mcp`);
  const bareCpuPerRequest = ((cpuSeconds(bareProcess.pid) - cpuBefore) / (bare.rps * DURATION)) * 1e6;
  cpuBefore = cpuSeconds(proxy.pid);
  const session = await load("mcp-oidc-proxy, Redis session", `${proxyUrl}/mcp`, { cookie });
  const proxyCpuPerRequest = ((cpuSeconds(proxy.pid) - cpuBefore) / (session.rps * DURATION)) * 1e6;
  const token = await tokenFor(proxyUrl);
  const probe = await fetch(`${proxyUrl}/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: "{}",
  });
  if (probe.status !== 200) throw new Error(`bearer token refused: ${probe.status} ${await probe.text()}`);
  const bearer = await load("mcp-oidc-proxy, bearer JWT", `${proxyUrl}/mcp`, { authorization: `Bearer ${token}` });
  const loadedRss = rssMiB(proxy.pid);

  // oauth2-proxy: same upstream, same Redis, same provider; signed in once, then loaded with the cookie.
  const o2pStarted = performance.now();
  const o2p = await startProcess(
    oauth2ProxyArgs({ port: o2pPort, upstreamPort, issuer: idp.issuer, redisUrl: redis.url }),
    {},
    undefined,
    o2pBinary,
  );
  await untilReady(`${o2pUrl}/ping`);
  const o2pStartupMs = performance.now() - o2pStarted;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const o2pIdleRss = rssMiB(o2p.pid);
  const o2pBrowser = new TestBrowser();
  await o2pBrowser.signIn(`${o2pUrl}/oauth2/start?rd=%2F`, "alice");
  const o2pCookie = await o2pBrowser.jar.getCookieString(o2pUrl);
  const o2pProbe = await fetch(`${o2pUrl}/mcp`, { method: "POST", headers: { cookie: o2pCookie }, body: "{}" });
  if (o2pProbe.status !== 200) throw new Error(`oauth2-proxy refused its own session: ${o2pProbe.status}`);
  await autocannon({
    url: `${o2pUrl}/mcp`,
    connections: 10,
    duration: 2,
    headers: { cookie: o2pCookie },
    method: "POST",
    body: "{}",
  });
  cpuBefore = cpuSeconds(o2p.pid);
  const o2pSession = await load("oauth2-proxy, Redis session", `${o2pUrl}/mcp`, { cookie: o2pCookie });
  const o2pCpuPerRequest = ((cpuSeconds(o2p.pid) - cpuBefore) / (o2pSession.rps * DURATION)) * 1e6;
  const o2pLoadedRss = rssMiB(o2p.pid);

  // The same proxy as the MCP clients' authorization server (mcp_auth.mode proxy).
  const asProxy = await startMcpOidcProxy(asProxyPort, "proxy");
  const mcpClient = new HandClient(asProxyUrl);
  await mcpClient.register();
  const { code, verifier } = await mcpClient.authorize("alice");
  if (!code) throw new Error("the proxy's authorization server issued no code");
  const issued = (await (await mcpClient.exchange(code, verifier)).json()) as { access_token: string };
  const ownToken = await load("mcp-oidc-proxy, own token (Redis)", `${asProxyUrl}/mcp`, {
    authorization: `Bearer ${issued.access_token}`,
  });
  asProxy.kill("SIGTERM");
  // Reaped before the open-model rows, which count the CPU of exited children as the generator's.
  await once(asProxy, "exit");

  // The open-model rows: requests at a constant rate, half of mcp-oidc-proxy's saturation (its
  // closed-loop session row), through each with the same request as its closed-loop row.
  const halfRate = Math.round(session.rps / 2);
  // Their baseline: the bare proxy run as mcp-oidc-proxy is (the image's entrypoint, the heap
  // sized for the same limit), so that the two differ in their code, not in V8's heap sizes.
  const bareSizedPort = await freePort();
  const bareSized = await startProcess(
    [process.execPath, path.join(here, "bare-proxy.ts"), String(upstreamPort), String(bareSizedPort)],
    { MCP_MEMORY_LIMIT: String(MEMORY_LIMIT_MIB * 2 ** 20) },
    "ready",
    NODE_MEMORY,
    "ignore", // its only words would be V8's out-of-memory trace in the streams row
  );
  // Warmed up as the others were, by a closed-loop run of the same length; its figures are
  // printed beside the baseline's: the same code in the container's heap sizes (4 MiB
  // semi-spaces where Node's default grows them to 16), so the two ratios tell code from heap.
  const bareSizedLoad = await load("bare Node proxy, same heap sizes", `http://127.0.0.1:${bareSizedPort}/mcp`);
  const loadBefore = loadavg()[0] ?? 0;
  const open = await openLoad(
    {
      direct: {
        name: "upstream direct (the floor)",
        url: `http://127.0.0.1:${upstreamPort}/mcp`,
        headers: MCP_HEADERS,
      },
      bare: {
        name: "bare Node proxy, same heap sizes",
        url: `http://127.0.0.1:${bareSizedPort}/mcp`,
        headers: MCP_HEADERS,
      },
      session: { name: "mcp-oidc-proxy, Redis session", url: `${proxyUrl}/mcp`, headers: { ...MCP_HEADERS, cookie } },
      o2p: {
        name: "oauth2-proxy, Redis session",
        url: `${o2pUrl}/mcp`,
        headers: { ...MCP_HEADERS, cookie: o2pCookie },
        // Past its saturation at this rate: ten times the closed-loop rows' 50 connections.
        maxConnections: 512,
      },
    },
    { rate: halfRate, seconds: DURATION, body: TOOLS_LIST },
  );
  // The machine's load beside the rows: latency tails move with it, on a shared machine.
  const machineLoad = [loadBefore, loadavg()[0] ?? 0];

  // An allowed tools/call with and without an MCP policy (every POST body read and judged).
  const policyOff = await load(
    "mcp-oidc-proxy, tools/call",
    `${proxyUrl}/mcp`,
    { authorization: `Bearer ${token}` },
    { body: TOOLS_CALL },
  );
  const policyDir = mkdtempSync(path.join(tmpdir(), "bench-policy-"));
  const policyFile = path.join(policyDir, "config.yaml");
  writeFileSync(
    policyFile,
    "mcp_policy:\n  rules:\n    - { name: bench, tools: [echo], users: [alice] }\n    - { name: admins, tools: ['admin_*'], groups: [admins] }\n",
  );
  const policyPort = await freePort();
  const policyUrl = `http://127.0.0.1:${policyPort}`;
  const policyProxy = await startMcpOidcProxy(policyPort, "provider", [], ["--config", policyFile]);
  const policyToken = await tokenFor(policyUrl);
  // Warmed up like the first proxy, so both rows compare warm processes.
  await autocannon({
    url: `${policyUrl}/mcp`,
    connections: 10,
    duration: 2,
    headers: { authorization: `Bearer ${policyToken}`, "content-type": "application/json" },
    method: "POST",
    body: TOOLS_CALL,
  });
  const policyOn = await load(
    "mcp-oidc-proxy, tools/call + policy",
    `${policyUrl}/mcp`,
    { authorization: `Bearer ${policyToken}` },
    { body: TOOLS_CALL },
  );
  policyProxy.kill("SIGTERM");
  rmSync(policyDir, { recursive: true, force: true });

  // Three endpoints: two more upstreams; the session cookie holds (same host, same Redis, same secret).
  const upstreamPorts = [upstreamPort, await freePort(), await freePort()];
  for (const port of upstreamPorts.slice(1)) {
    await startProcess([path.join(here, "upstream.ts"), String(port)], {}, "ready");
  }
  const threePort = await freePort();
  const threeProxy = await startMcpOidcProxy(threePort, "provider", [], [], {
    MCP_TARGET_URLS: upstreamPorts.map((port) => `http://127.0.0.1:${port}`).join(","),
  });
  await autocannon({
    url: `http://127.0.0.1:${threePort}/mcp`,
    connections: 10,
    duration: 2,
    headers: { cookie },
    method: "POST",
    body: "{}",
  });
  const threeEndpoints = await load("mcp-oidc-proxy, 3 endpoints", `http://127.0.0.1:${threePort}/mcp`, { cookie });
  threeProxy.kill("SIGTERM");

  const o2pStreams = await streamsRow("oauth2-proxy", `${o2pUrl}/sse?tick`, o2pCookie, o2p.pid);
  o2p.kill("SIGTERM");
  const proxyStreams = await streamsRow("mcp-oidc-proxy", `${proxyUrl}/sse?tick`, cookie, proxy.pid);
  // The POST run again with the streams held (quiet ones: the load, not the ticks, is measured),
  // unless the proxy did not survive them (its heap limit is the container's: it is printed).
  let duringStreams: Figures | undefined;
  if (proxy.exitCode === null && proxy.signalCode === null) {
    const streams = await holdStreams(`${proxyUrl}/sse?quiet`, cookie, STREAMS);
    duringStreams = await load(`mcp-oidc-proxy, ${streams.open.length} streams open`, `${proxyUrl}/mcp`, {
      cookie,
    }).catch((error: Error) => ({
      name: `mcp-oidc-proxy with streams open: ${error.message}`,
      rps: 0,
      p50: 0,
      p99: 0,
    }));
    for (const req of streams.open) req.destroy();
  }

  // The floor of a Node proxy: the bare one, heap sized as mcp-oidc-proxy's, holds the same
  // streams (it has no guard: past its heap it dies, which the row says).
  const bareStreams = await streamsRow(
    "bare Node proxy",
    `http://127.0.0.1:${bareSizedPort}/sse?tick`,
    "",
    bareSized.pid,
  );

  // The floor under any Node HTTP/1.1 proxy: a node:http server that answers the same streams
  // itself (no upstream connection, no proxy code), run as mcp-oidc-proxy is. What a proxy holds
  // per stream is at least this plus an upstream connection (docs/performance.md, "Streams").
  const floorPort = await freePort();
  const floor = await startProcess(
    [process.execPath, path.join(here, "upstream.ts"), String(floorPort)],
    { MCP_MEMORY_LIMIT: String(MEMORY_LIMIT_MIB * 2 ** 20) },
    "ready",
    NODE_MEMORY,
  );
  const floorStreams = await streamsRow("node:http alone", `http://127.0.0.1:${floorPort}/sse?tick`, "", floor.pid);
  floor.kill("SIGTERM");

  const streamLine = (f: StreamFigures) =>
    `streams, ${f.name.padEnd(16)} ${f.open} of ${STREAMS} open at once (${f.failed} failed) in ${f.openSeconds.toFixed(1)} s; ${f.eventsPerSecond.toFixed(0)} events/s relayed of ${f.open} sent; ${Number.isNaN(f.rss) ? "the process EXITED (out of memory?)" : `RSS with them ${f.rss.toFixed(0)} MiB`}`;
  const row = (f: Figures) =>
    `${f.name.padEnd(34)} ${f.rps.toFixed(0).padStart(8)} req/s  p50 ${f.p50.toFixed(2).padStart(6)} ms  p99 ${f.p99
      .toFixed(2)
      .padStart(6)} ms  ${((f.rps / bare.rps) * 100).toFixed(0).padStart(4)} % of baseline`;
  process.stdout.write(
    [
      "",
      `mcp-oidc-proxy benchmark — POST /mcp tools/list, ${CONNECTIONS} connections, ${DURATION} s per run, ${new Date().toISOString()}`,
      `mcp-oidc-proxy: the production bundle, heap sized for a ${MEMORY_LIMIT_MIB} MiB container (deployments/docker/node-memory.sh); oauth2-proxy ${o2pBinary.match(/oauth2-proxy-(v[\d.]+)/)?.[1] ?? ""}`,
      row(direct),
      row(bare),
      row(session),
      `${row(threeEndpoints)}  (${((threeEndpoints.rps / session.rps) * 100).toFixed(0)} % of one endpoint)`,
      row(bearer),
      row(ownToken),
      row(o2pSession),
      row(policyOff),
      `${row(policyOn)}  (${((policyOn.rps / policyOff.rps) * 100).toFixed(0)} % of the same call without a policy)`,
      ...(duringStreams ? [row(duringStreams)] : []),
      `mcp-oidc-proxy with Redis sessions makes ${(session.rps / o2pSession.rps).toFixed(2)}× oauth2-proxy's throughput`,
      `the bare proxy with mcp-oidc-proxy's heap sizes: ${bareSizedLoad.rps.toFixed(0)} req/s; mcp-oidc-proxy, Redis session, is ${((session.rps / bareSizedLoad.rps) * 100).toFixed(0)} % of it (bearer JWT ${((bearer.rps / bareSizedLoad.rps) * 100).toFixed(0)} %)`,
      ...[proxyStreams, bareStreams, o2pStreams, floorStreams].map(streamLine),
      `CPU per request: bare proxy ${bareCpuPerRequest.toFixed(0)} µs, mcp-oidc-proxy ${proxyCpuPerRequest.toFixed(0)} µs (${((proxyCpuPerRequest / bareCpuPerRequest) * 100).toFixed(0)} %), oauth2-proxy ${o2pCpuPerRequest.toFixed(0)} µs (${((o2pCpuPerRequest / bareCpuPerRequest) * 100).toFixed(0)} %)`,
      ...openModelLines(open, { direct, bare, session, o2p: o2pSession }, halfRate, machineLoad),
      `mcp-oidc-proxy RSS: idle ${idleRss.toFixed(0)} MiB (${sourceIdleRss.toFixed(0)} MiB run from the sources), after load ${loadedRss.toFixed(0)} MiB; startup to ready ${startupMs.toFixed(0)} ms`,
      `oauth2-proxy RSS:   idle ${o2pIdleRss.toFixed(0)} MiB, after load ${o2pLoadedRss.toFixed(0)} MiB; startup to ready ${o2pStartupMs.toFixed(0)} ms`,
      "",
    ].join("\n"),
  );
  await idp.close();
  for (const child of children) child.kill("SIGTERM");
  if (proxy.exitCode === null && proxy.signalCode === null) await new Promise((resolve) => proxy.once("exit", resolve));
  await redis.close();
} finally {
  for (const child of children) child.kill("SIGKILL");
}
