// make bench-operator: N McpOidcProxy resources (BENCH_RESOURCES, default 1000) created at
// once against a real kube-apiserver; prints the time until the operator has reconciled
// every one (status.observedGeneration written) and the operator's RSS. Not part of make test.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { installCrd } from "../test/support/crd.ts";
import { freePort } from "../test/support/eventually.ts";
import { startTestApiServer } from "../test/support/kube-api-server.ts";

const COUNT = Number(process.env.BENCH_RESOURCES ?? 1000);
const NS = "bench";
const BIN = path.resolve(import.meta.dirname, "../../../node_modules/.bin/mcp-oidc-operator");

const rssMiB = (pid: number | undefined) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

const server = await startTestApiServer();
try {
  const kc = server.kubeConfig();
  await installCrd(server);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
  const custom = kc.makeApiClient(CustomObjectsApi);
  const target = { group: "mcp-oidc-proxy.dev", version: "v1alpha1", namespace: NS, plural: "mcpoidcproxies" };
  const operator = spawn(
    BIN,
    [
      "--kubeconfig",
      server.kubeConfigFile,
      "--no-leader-elect",
      "--log-level",
      process.env.BENCH_LOG_LEVEL ?? "error",
      "--health-port",
      String(await freePort()),
      "--metrics-port",
      String(await freePort()),
      "--bind-address",
      "127.0.0.1",
    ],
    { stdio: ["ignore", process.env.BENCH_LOG_LEVEL ? "inherit" : "ignore", "inherit"] },
  );
  const idleRss = await new Promise<number>((resolve) => setTimeout(() => resolve(rssMiB(operator.pid)), 2000));

  const started = performance.now();
  // Created at once (in parallel batches, as a GitOps sync would), not one after the other.
  for (let i = 0; i < COUNT; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, COUNT - i) }, (_, j) =>
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
  const created = performance.now();
  let peakRss = 0;
  for (;;) {
    peakRss = Math.max(peakRss, rssMiB(operator.pid));
    const list = (await custom.listNamespacedCustomObject(target)) as {
      items: { metadata: { generation: number }; status?: { observedGeneration?: number } }[];
    };
    const done = list.items.filter((item) => item.status?.observedGeneration === item.metadata.generation).length;
    if (done === COUNT) break;
    if (performance.now() - started > 15 * 60_000)
      throw new Error(`only ${done} of ${COUNT} reconciled after 15 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const finished = performance.now();
  process.stdout.write(
    [
      "",
      `mcp-oidc-operator benchmark — ${COUNT} resources against a real kube-apiserver, ${new Date().toISOString()}`,
      `created in ${((created - started) / 1000).toFixed(1)} s; all reconciled (children applied, status written) ${((finished - started) / 1000).toFixed(1)} s after the first`,
      `operator RSS: idle ${idleRss.toFixed(0)} MiB, peak ${peakRss.toFixed(0)} MiB`,
      "",
    ].join("\n"),
  );
  operator.kill("SIGTERM");
} finally {
  await server.close();
}
