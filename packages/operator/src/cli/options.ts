// The operator's command line: every flag with its default and environment binding, and the
// checks a flag's value must pass before anything starts (a NaN interval would requeue in a
// hot loop; lease terms in the wrong order would let a standby lead beside the leader).
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";

export const VERSION = "0.1.0";

export interface Options {
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

/** Where a pod's ServiceAccount namespace is mounted (client-go reads it the same way). */
export const SERVICE_ACCOUNT_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/**
 * The Lease's namespace when no flag names one: POD_NAMESPACE, else the pod's own namespace
 * (in a cluster), else mcp-system, where rbac.yaml grants the Lease. It was "default"
 * outside a cluster, where rbac.yaml grants nothing: forbidden forever with least
 * privilege, and with admin credentials a Lease beside the in-cluster operator's, so both led.
 */
export function defaultLeaseNamespace(env: NodeJS.ProcessEnv, file = SERVICE_ACCOUNT_NAMESPACE_FILE): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync(file, "utf8").trim() || "mcp-system";
  } catch {
    return "mcp-system";
  }
}

/** client-go's rule: renews fit in the deadline, and the deadline ends before a standby may take over. */
export function leaseTermsProblem(options: Options): string | undefined {
  const { leaderElectLeaseDuration: lease, leaderElectRenewDeadline: renew, leaderElectRetryPeriod: retry } = options;
  if (renew >= lease) return "--leader-elect-renew-deadline must be less than --leader-elect-lease-duration";
  if (retry >= renew) return "--leader-elect-retry-period must be less than --leader-elect-renew-deadline";
  return undefined;
}

/** The flags of argv (commander prints --help and --version, and exits on a malformed flag). */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): Options {
  return new Command("mcp-oidc-operator")
    .description("Reconciles McpOidcProxy resources into running mcp-oidc-proxy deployments")
    .version(VERSION, "-v, --version")
    .option("--kubeconfig <file>", "kubeconfig file (default: in-cluster, then KUBECONFIG / ~/.kube/config)")
    .option("--namespace <name>", "watch only this namespace (env WATCH_NAMESPACE; default: all)", env.WATCH_NAMESPACE)
    .option("--no-leader-elect", "run without leader election (a single replica only)")
    .option(
      "--lease-namespace <name>",
      "namespace of the leader election Lease (env POD_NAMESPACE; default: the pod's namespace, outside a cluster mcp-system)",
      defaultLeaseNamespace(env),
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
}
