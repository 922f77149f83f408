// make bench-operator: McpOidcProxy resources created in steps (0, 100, 1,000, or up to
// BENCH_RESOURCES) against a real kube-apiserver. The operator runs as its image runs it:
// the bundled build through deployments/docker/node-memory.sh, with the image's V8 flags, its
// 1 MiB young generation and the old generation sized for a BENCH_MEMORY_LIMIT MiB container (default
// 256, the manifests' limit; decision 023). Each step prints how long until the operator had reconciled every
// resource (status.observedGeneration written) and how many reconciles that took, and its
// RSS and V8 heap once settled (no reconcile for BENCH_SETTLE_SECONDS, default 3) and at
// its peak. Not part of make test.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { buildOperator } from "../scripts/build.ts";
import { installCrd } from "../test/support/crd.ts";
import { eventually, freePort } from "../test/support/eventually.ts";
import { startTestApiServer } from "../test/support/kube-api-server.ts";

const COUNT = Number(process.env.BENCH_RESOURCES ?? 1000);
const STEPS = [...new Set([0, ...[100, 1000].filter((n) => n < COUNT), COUNT])];
const NS = "bench";
const DOCKER = path.resolve(import.meta.dirname, "../../../deployments/docker");
const ENTRYPOINT = path.join(DOCKER, "node-memory.sh");
/**
 * The V8 flags the image gives node on its command line (operator.Dockerfile's ENTRYPOINT,
 * between "node" and the bundle), or BENCH_NODE_ARGS to compare others ("" for none).
 */
const NODE_ARGS =
  process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ??
  (
    JSON.parse(
      /^ENTRYPOINT (.*)$/m.exec(readFileSync(path.join(DOCKER, "operator.Dockerfile"), "utf8"))?.[1] ?? "[]",
    ) as string[]
  ).filter((arg) => arg.startsWith("--"));
/** The container's memory limit (MiB) the operator's heap is sized for. */
const MEMORY_LIMIT_MIB = Number(process.env.BENCH_MEMORY_LIMIT ?? 256);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_SECONDS ?? 3) * 1000;

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const rssBytes = (pid: number | undefined) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;

/** RSS split into anonymous memory (heaps, malloc) and file pages (the Node binary), when BENCH_DETAIL is set. */
const rssDetail = (pid: number | undefined) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  // utime and stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 a second).
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const cpu = (Number(fields[11]) + Number(fields[12])) / 100;
  return `anon ${mib(kib("RssAnon"))}, file ${mib(kib("RssFile"))}, CPU ${cpu.toFixed(1)} s`;
};

/** Sums of the operator's own metrics (prom-client's defaults and controller-runtime's names). */
async function scrape(metricsPort: number): Promise<{ reconciles: number; heapUsed: number; detail: string }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const sum = (name: string) =>
    text
      .split("\n")
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
  return {
    reconciles: sum("controller_runtime_reconcile_total"),
    heapUsed: sum("nodejs_heap_size_used_bytes"),
    detail: `heap total ${mib(sum("nodejs_heap_size_total_bytes"))}, external ${mib(sum("nodejs_external_memory_bytes"))}`,
  };
}

const server = await startTestApiServer();
try {
  const kc = server.kubeConfig();
  await installCrd(server);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
  const custom = kc.makeApiClient(CustomObjectsApi);
  const target = { group: "mcp-oidc-proxy.dev", version: "v1alpha1", namespace: NS, plural: "mcpoidcproxies" };
  const [healthPort, metricsPort] = [await freePort(), await freePort()];
  const bundle = await buildOperator();
  const operator = spawn(
    ENTRYPOINT,
    [
      process.execPath,
      ...NODE_ARGS,
      bundle,
      ...["--kubeconfig", server.kubeConfigFile, "--no-leader-elect", "--bind-address", "127.0.0.1"],
      ...["--log-level", process.env.BENCH_LOG_LEVEL ?? "error"],
      ...["--health-port", String(healthPort), "--metrics-port", String(metricsPort)],
    ],
    {
      stdio: ["ignore", process.env.BENCH_LOG_LEVEL ? "inherit" : "ignore", "inherit"],
      // The image's NODE_OPTIONS (operator.Dockerfile) and the limit the downward API gives.
      env: {
        ...process.env,
        NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? "--max-semi-space-size=1",
        MCP_MEMORY_LIMIT: String(MEMORY_LIMIT_MIB * 2 ** 20),
      },
    },
  );
  const operatorPid = operator.pid;
  await eventually(async () => ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok ? true : undefined), "ready");

  /** Waits until no reconcile ran for SETTLE_MS; returns the peak RSS seen meanwhile. */
  const settle = async (peak: number) => {
    let last = (await scrape(metricsPort)).reconciles;
    let quietSince = performance.now();
    while (performance.now() - quietSince < SETTLE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      peak = Math.max(peak, rssBytes(operatorPid));
      const now = (await scrape(metricsPort)).reconciles;
      if (now !== last) [last, quietSince] = [now, performance.now()];
    }
    return peak;
  };
  const create = async (from: number, to: number) => {
    // In parallel batches, as a GitOps sync would, not one after the other.
    for (let i = from; i < to; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, to - i) }, (_, j) =>
          custom.createNamespacedCustomObject({
            ...target,
            body: {
              apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
              kind: "McpOidcProxy",
              metadata: { name: `proxy-${i + j}` },
              spec: { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" },
            },
          }),
        ),
      );
    }
  };
  const reconciled = async (count: number, started: number, peak: { rss: number }) => {
    for (;;) {
      peak.rss = Math.max(peak.rss, rssBytes(operatorPid));
      const list = (await custom.listNamespacedCustomObject(target)) as {
        items: { metadata: { generation: number }; status?: { observedGeneration?: number } }[];
      };
      const done = list.items.filter((item) => item.status?.observedGeneration === item.metadata.generation).length;
      if (done === count) return;
      if (performance.now() - started > 15 * 60_000)
        throw new Error(`only ${done} of ${count} reconciled after 15 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };

  const lines = [
    "",
    `mcp-oidc-operator benchmark — up to ${COUNT} resources against a real kube-apiserver, ${new Date().toISOString()}`,
    `the bundle as its image runs it (node ${NODE_ARGS.join(" ")}), heap sized for a ${MEMORY_LIMIT_MIB} MiB container (deployments/docker/node-memory.sh)`,
  ];
  let existing = 0;
  for (const step of STEPS) {
    const reconcilesBefore = (await scrape(metricsPort)).reconciles;
    const started = performance.now();
    const peak = { rss: rssBytes(operatorPid) };
    await create(existing, step);
    const created = performance.now();
    await reconciled(step, started, peak);
    const finished = performance.now();
    peak.rss = await settle(peak.rss);
    const { heapUsed, reconciles, detail } = await scrape(metricsPort);
    const timing =
      step === existing
        ? "nothing created"
        : `${step - existing} created in ${((created - started) / 1000).toFixed(1)} s, all reconciled ${((finished - started) / 1000).toFixed(1)} s after the first (${reconciles - reconcilesBefore} reconciles)`;
    lines.push(
      `${String(step).padStart(5)} resources: settled RSS ${mib(rssBytes(operatorPid))} (heap used ${mib(heapUsed)}), peak RSS ${mib(peak.rss)}; ${timing}`,
    );
    if (process.env.BENCH_DETAIL) lines.push(`        ${rssDetail(operatorPid)}, ${detail}`);
    process.stderr.write(`${lines.at(-1)}\n`);
    existing = step;
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  operator.kill("SIGTERM");
} finally {
  await server.close();
}
