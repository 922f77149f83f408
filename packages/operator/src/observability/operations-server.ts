// The operator's two small HTTP servers: /healthz and /readyz for the kubelet's probes, and
// /metrics for Prometheus, each on its own port as controller-runtime serves them.
import http from "node:http";
import type { Registry } from "prom-client";

export interface OperationsServers {
  close(): void;
}

/** Resolves once listening; rejects with one sentence naming the address (EADDRINUSE …). */
function listen(server: http.Server, what: string, address: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "the port is already in use" : error.message;
      reject(new Error(`cannot serve ${what} on ${address}:${port}: ${why}`));
    });
    server.listen(port, address, resolve);
  });
}

/** Both servers listening, or neither (the error names the port that failed). */
export async function startOperationsServers(options: {
  bindAddress: string;
  healthPort: number;
  metricsPort: number;
  /** Live while the process runs; ready as this function says. */
  ready: () => boolean;
  registry: Registry;
}): Promise<OperationsServers> {
  const health = http.createServer((req, res) => {
    const status = req.url === "/healthz" ? 200 : req.url === "/readyz" ? (options.ready() ? 200 : 503) : 404;
    res
      .writeHead(status, { "content-type": "application/json" })
      .end(JSON.stringify({ status: status === 200 ? "ok" : "not ready" }));
  });
  const metrics = http.createServer(async (req, res) => {
    if (req.url !== "/metrics") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": options.registry.contentType }).end(await options.registry.metrics());
  });
  const close = () => {
    health.close();
    metrics.close();
  };
  try {
    await Promise.all([
      listen(health, "/healthz and /readyz", options.bindAddress, options.healthPort),
      listen(metrics, "/metrics", options.bindAddress, options.metricsPort),
    ]);
  } catch (error) {
    close();
    throw error;
  }
  return { close };
}
