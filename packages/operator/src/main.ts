// The mcp-oidc-operator command, assembled from named parts: options → logger → kubeconfig
// → health and metrics servers → leader election → controller. SIGTERM stops the watches,
// finishes the current reconcile and gives the Lease up so a successor takes over at once.
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import winston from "winston";
import { leaseTermsProblem, type Options, parseOptions, VERSION } from "./cli/options.ts";
import { type RunningController, startController } from "./controller/controller.ts";
import { createOperatorMetrics } from "./observability/metrics.ts";
import { startOperationsServers } from "./observability/operations-server.ts";
import { KubeConfigError, loadKubeConfig } from "./runtime/kube-config.ts";
import { LeaderElector } from "./runtime/leader-election.ts";

function createLogger(level: string): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    defaultMeta: { service: "mcp-oidc-operator" },
    transports: [new winston.transports.Console()],
  });
}

/** What the parts share while the process runs: the controller once started, the elector. */
interface Running {
  controller?: RunningController;
  elector?: LeaderElector;
}

function electLeader(options: Options, kubeConfig: KubeConfig, logger: winston.Logger, run: () => void) {
  return new LeaderElector({
    kubeConfig,
    namespace: options.leaseNamespace,
    name: options.leaseName,
    identity: `${hostname()}_${process.pid}`,
    leaseDurationMs: options.leaderElectLeaseDuration * 1000,
    renewDeadlineMs: options.leaderElectRenewDeadline * 1000,
    retryPeriodMs: options.leaderElectRetryPeriod * 1000,
    logger,
    onStartedLeading: run,
    // Another replica may lead now: exit at once, as controller-runtime does, without waiting
    // for a reconcile in flight (against a stalled API server it could still write after
    // the successor started). The Deployment restarts this one as a candidate.
    onStoppedLeading: () => {
      logger.error("lost leadership; exiting");
      process.exit(1);
    },
  });
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const options = parseOptions(argv);
  const leaseProblem = leaseTermsProblem(options);
  if (leaseProblem) {
    process.stderr.write(`error: ${leaseProblem}\n`);
    process.exitCode = 1;
    return;
  }
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(options.kubeconfig);
  } catch (error) {
    if (!(error instanceof KubeConfigError)) throw error;
    // A setup problem, like a malformed flag: one line, exit code 2, no stack trace.
    process.stderr.write(`error: ${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  const logger = createLogger(options.logLevel);
  const running: Running = {};
  const metrics = createOperatorMetrics(
    () => running.controller?.queue,
    () => (running.elector ? running.elector.leading : running.controller !== undefined),
  );
  let servers: Awaited<ReturnType<typeof startOperationsServers>>;
  try {
    servers = await startOperationsServers({
      ...options,
      registry: metrics.registry,
      // Ready once this replica is either waiting to lead (with a Lease it may use) or
      // leading with every watch synced.
      ready: () =>
        running.elector && !running.elector.leading ? running.elector.usable : (running.controller?.synced() ?? false),
    });
  } catch (error) {
    // A busy port is a setup problem: one clear line, not a stack trace.
    logger.error((error as Error).message);
    process.exitCode = 1;
    return;
  }

  const run = async () => {
    running.controller = await startController({
      kubeConfig,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      logger,
      observer: metrics.observer,
      secretRecheckMs: options.secretRecheckInterval * 1000,
    });
    logger.info("controller started", { namespace: options.namespace ?? "(all)" });
  };
  const stop = async (code: number) => {
    await running.controller?.stop();
    await running.elector?.stop();
    servers.close();
    process.exit(code);
  };
  process.once("SIGTERM", () => void stop(0));
  process.once("SIGINT", () => void stop(0));

  logger.info("mcp-oidc-operator starting", { version: VERSION, leader_election: options.leaderElect });
  if (!options.leaderElect) return await run();
  running.elector = electLeader(options, kubeConfig, logger, () => void run());
  running.elector.start();
}

if (import.meta.main) await main();
