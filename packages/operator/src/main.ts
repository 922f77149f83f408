// The mcp-oidc-operator command: kubeconfig → health and metrics server → leader election
// → controller; SIGTERM stops the watches, finishes the current reconcile and gives the
// Lease up so a successor takes over at once.
import http from "node:http";
import { hostname } from "node:os";
import { Command, InvalidArgumentError, Option } from "commander";
import winston from "winston";
import { type RunningController, startController } from "./controller/controller.ts";
import { createOperatorMetrics } from "./observability/metrics.ts";
import { loadKubeConfig } from "./runtime/kube-config.ts";
import { LeaderElector } from "./runtime/leader-election.ts";

const VERSION = "0.1.0";

// Numeric flags are checked, not trusted: a NaN interval would requeue in a hot loop.
function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new InvalidArgumentError("expected a port, 1-65535");
  return port;
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || seconds < 1)
    throw new InvalidArgumentError("expected a whole number of seconds, at least 1");
  return seconds;
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

/** client-go's rule: renews fit in the deadline, and the deadline ends before a standby may take over. */
function leaseTermsProblem(options: Options): string | undefined {
  const { leaderElectLeaseDuration: lease, leaderElectRenewDeadline: renew, leaderElectRetryPeriod: retry } = options;
  if (renew >= lease) return "--leader-elect-renew-deadline must be less than --leader-elect-lease-duration";
  if (retry >= renew) return "--leader-elect-retry-period must be less than --leader-elect-renew-deadline";
  return undefined;
}

interface Options {
  kubeconfig?: string;
  namespace?: string;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaderElectLeaseDuration: number;
  leaderElectRenewDeadline: number;
  leaderElectRetryPeriod: number;
  healthPort: number;
  metricsPort: number;
  bindAddress: string;
  secretRecheckInterval: number;
  logLevel: string;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const options = new Command("mcp-oidc-operator")
    .description("Reconciles McpOidcProxy resources into running mcp-oidc-proxy deployments")
    .version(VERSION, "-v, --version")
    .option("--kubeconfig <file>", "kubeconfig file (default: in-cluster, then KUBECONFIG / ~/.kube/config)")
    .option(
      "--namespace <name>",
      "watch only this namespace (env WATCH_NAMESPACE; default: all)",
      process.env.WATCH_NAMESPACE,
    )
    .option("--no-leader-elect", "run without leader election (a single replica only)")
    .option(
      "--lease-namespace <name>",
      "namespace of the leader election Lease (env POD_NAMESPACE)",
      process.env.POD_NAMESPACE ?? "default",
    )
    .option("--lease-name <name>", "name of the leader election Lease", "mcp-oidc-operator")
    .option(
      "--leader-elect-lease-duration <seconds>",
      "how long a standby waits after the last renew it saw before taking over",
      parseSeconds,
      15,
    )
    .option(
      "--leader-elect-renew-deadline <seconds>",
      "how long the leader keeps leading without a successful renew (less than the lease duration)",
      parseSeconds,
      10,
    )
    .option("--leader-elect-retry-period <seconds>", "how often the Lease is renewed or tried", parseSeconds, 2)
    .option("--health-port <port>", "port of /healthz and /readyz", parsePort, 8081)
    .option("--metrics-port <port>", "port of /metrics", parsePort, 8080)
    .option("--bind-address <address>", "address of the health and metrics servers", "0.0.0.0")
    .option(
      "--secret-recheck-interval <seconds>",
      "how often resources that reference Secrets are re-read (rotation)",
      parseSeconds,
      300,
    )
    .addOption(
      new Option("--log-level <level>", "log level").choices(["error", "warn", "info", "debug"]).default("info"),
    )
    .parse(argv)
    .opts<Options>();
  const leaseProblem = leaseTermsProblem(options);
  if (leaseProblem) {
    process.stderr.write(`error: ${leaseProblem}\n`);
    process.exitCode = 1;
    return;
  }

  const logger = winston.createLogger({
    level: options.logLevel,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    defaultMeta: { service: "mcp-oidc-operator" },
    transports: [new winston.transports.Console()],
  });
  const kubeConfig = loadKubeConfig(options.kubeconfig);

  let controller: RunningController | undefined;
  let elector: LeaderElector | undefined;
  const metrics = createOperatorMetrics(
    () => controller?.queue,
    () => (elector ? elector.leading : controller !== undefined),
  );
  const health = http.createServer((req, res) => {
    // Live while the process runs; ready once this replica is either waiting to lead or
    // leading with every watch synced.
    const ready = elector && !elector.leading ? true : (controller?.synced() ?? false);
    const status = req.url === "/healthz" ? 200 : req.url === "/readyz" ? (ready ? 200 : 503) : 404;
    res
      .writeHead(status, { "content-type": "application/json" })
      .end(JSON.stringify({ status: status === 200 ? "ok" : "not ready" }));
  });
  const metricsServer = http.createServer(async (req, res) => {
    if (req.url !== "/metrics") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": metrics.registry.contentType }).end(await metrics.registry.metrics());
  });
  try {
    await Promise.all([
      listen(health, "/healthz and /readyz", options.bindAddress, options.healthPort),
      listen(metricsServer, "/metrics", options.bindAddress, options.metricsPort),
    ]);
  } catch (error) {
    // A busy port is a setup problem: one clear line, not a stack trace.
    logger.error((error as Error).message);
    health.close();
    metricsServer.close();
    process.exitCode = 1;
    return;
  }

  const run = async () => {
    controller = await startController({
      kubeConfig,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      logger,
      observer: metrics.observer,
      secretRecheckMs: options.secretRecheckInterval * 1000,
    });
    logger.info("controller started", { namespace: options.namespace ?? "(all)" });
  };
  const stop = async (code: number) => {
    await controller?.stop();
    await elector?.stop();
    health.close();
    metricsServer.close();
    process.exit(code);
  };
  process.once("SIGTERM", () => void stop(0));
  process.once("SIGINT", () => void stop(0));

  logger.info("mcp-oidc-operator starting", { version: VERSION, leader_election: options.leaderElect });
  if (!options.leaderElect) {
    await run();
    return;
  }
  elector = new LeaderElector({
    kubeConfig,
    namespace: options.leaseNamespace,
    name: options.leaseName,
    identity: `${hostname()}_${process.pid}`,
    leaseDurationMs: options.leaderElectLeaseDuration * 1000,
    renewDeadlineMs: options.leaderElectRenewDeadline * 1000,
    retryPeriodMs: options.leaderElectRetryPeriod * 1000,
    logger,
    onStartedLeading: () => void run(),
    // Another replica may lead now: exit at once, as controller-runtime does, without waiting
    // for a reconcile in flight (against a stalled API server it could still write after
    // the successor started). The Deployment restarts this one as a candidate.
    onStoppedLeading: () => {
      logger.error("lost leadership; exiting");
      process.exit(1);
    },
  });
  elector.start();
}

if (import.meta.main) await main();
