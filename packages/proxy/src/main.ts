// The mcp-oidc-proxy command: parse flags → load and validate config → start → reload on
// SIGHUP → drain on SIGTERM/SIGINT. Exit code 2 for invalid configuration.
import { Command, Option } from "commander";
import { ConfigError, type LoadedConfig, type LoadOptions, loadConfig } from "./config/load.ts";
import { createLogger } from "./observability/logger.ts";
import { tracingSettings } from "./observability/tracing.ts";
import { type RunningProxy, startProxy } from "./proxy-server.ts";
import { loadConfigWithSecrets, SecretSourceError } from "./secrets/resolve.ts";
import { VERSION } from "./version.ts";

interface CliOptions {
  config?: string;
  configDir?: string;
  env?: string;
  configTest?: boolean;
  [flag: string]: unknown;
}

function buildCommand(): Command {
  return new Command("mcp-oidc-proxy")
    .description("OpenID Connect / OAuth 2.1 authentication in front of an MCP server")
    .version(VERSION, "-v, --version")
    .option("-c, --config <file>", "YAML config file")
    .option("--config-dir <dir>", "directory with base.yaml and <environment>.yaml layers")
    .addOption(
      new Option("--env <name>", "environment layer to load (env MCP_ENV)").choices([
        "development",
        "staging",
        "production",
      ]),
    )
    .option("--host <address>", "listen address (env MCP_HOST)")
    .option("--port <port>", "listen port (env MCP_PORT)")
    .option("--public-url <url>", "URL clients use to reach the proxy (env MCP_PUBLIC_URL)")
    .option("--target-host <host>", "MCP server host (env MCP_TARGET_HOST)")
    .option("--target-port <port>", "MCP server port (env MCP_TARGET_PORT)")
    .option("--target-url <url>", "MCP server URL, instead of host and port (env MCP_TARGET_URL)")
    .addOption(new Option("--auth-mode <mode>", "authentication mode (env AUTH_MODE)").choices(["oidc", "bypass"]))
    .addOption(new Option("--session-store <store>", "session store (env SESSION_STORE)").choices(["memory", "redis"]))
    .option("--redis-url <url>", "Redis URL (env REDIS_URL)")
    .addOption(
      new Option("--log-level <level>", "log level (env LOG_LEVEL)").choices(["error", "warn", "info", "debug"]),
    )
    .option("--config-test", "validate the configuration, print the result and exit");
}

function loadOptions(cli: CliOptions): LoadOptions {
  const { config, configDir, env, configTest: _, ...flags } = cli;
  return { file: config, directory: configDir, environment: env, flags };
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const cli = buildCommand().parse(argv).opts<CliOptions>();
  let options = loadOptions(cli);
  let loaded: LoadedConfig;
  try {
    // Secrets from Vault or AWS Secrets Manager are fetched here, once, if configured.
    ({ loaded, options } = await loadConfigWithSecrets(options));
    // The OTEL_* variables tracing reads are checked with the rest (and by --config-test).
    tracingSettings(loaded.config.tracing);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`mcp-oidc-proxy: ${error.message}\n`);
      process.exit(2);
    }
    if (error instanceof SecretSourceError) {
      process.stderr.write(`mcp-oidc-proxy: cannot fetch secrets: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  if (cli.configTest) {
    process.stdout.write(`configuration OK (${loaded.files.length > 0 ? loaded.files.join(", ") : "no files"})\n`);
    return;
  }
  const logger = createLogger(loaded.config.logging.level, loaded.config.logging.format);
  // Handlers first: a signal sent as soon as "listening" is logged must not meet Node's
  // default action (SIGHUP would kill the process instead of reloading it).
  let proxy: RunningProxy | undefined;
  process.on("SIGHUP", () => {
    if (!proxy) return; // still starting: the configuration being started is the current one
    try {
      const { applied, needRestart } = proxy.reload(loadConfig(options).config);
      logger.info("configuration reloaded", { applied, ignored_until_restart: needRestart });
    } catch (error) {
      logger.error("configuration reload refused; keeping the running configuration", {
        error: error instanceof ConfigError ? error.problems : (error as Error).message,
      });
    }
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn("second signal: exiting now", { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info("signal received", { signal });
    if (!proxy) process.exit(0); // nothing is served yet, so nothing to drain
    void proxy.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error("shutdown failed", { error: (error as Error).message });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  proxy = await startProxy(loaded.config, { logger });
}

// `node src/main.ts` runs the proxy too (the bin launcher and the single binary call main).
if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`mcp-oidc-proxy: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
