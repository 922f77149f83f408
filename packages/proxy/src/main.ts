// The mcp-oidc-proxy command: parse flags → load and validate config → start → reload on
// SIGHUP → drain on SIGTERM/SIGINT. Exit code 2 for invalid configuration, 1 (one line) for
// what stops a valid one from starting: a secret that cannot be fetched, a port it cannot listen on.
import { Command, CommanderError, Option } from "commander";
import { install as installUndici } from "undici";
import { z } from "zod";
import { ConfigError, type LoadedConfig, type LoadOptions, loadConfig } from "./config/load.ts";
import { configSchema, environments } from "./config/schema.ts";
import { flagBindings } from "./config/sources.ts";
import { ListenError } from "./lifecycle.ts";
import { createLogger } from "./observability/logger.ts";
import { tracingSettings } from "./observability/tracing.ts";
import { type RunningProxy, startProxy } from "./proxy-server.ts";
import { loadConfigWithSecrets, SecretSourceError } from "./secrets/resolve.ts";
import { collectStartupGarbage } from "./startup-garbage.ts";
import { VERSION } from "./version.ts";

interface CliOptions {
  config?: string;
  configDir?: string;
  env?: string;
  configTest?: boolean;
  [flag: string]: unknown;
}

/** The choices of an enum field of the schema (so --auth-mode lists what the schema accepts). */
function choicesAt(fieldPath: string): string[] | undefined {
  let node: z.ZodType | undefined = configSchema;
  for (const key of fieldPath.split(".")) {
    node = node && unwrap(node);
    node = node instanceof z.ZodObject ? (node.shape as Record<string, z.ZodType>)[key] : undefined;
  }
  const field = node && unwrap(node);
  return field instanceof z.ZodEnum ? (field.options as string[]) : undefined;
}

function unwrap(node: z.ZodType): z.ZodType {
  let current = node;
  while (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function buildCommand(): Command {
  const command = new Command("mcp-oidc-proxy")
    .description("OpenID Connect / OAuth 2.1 authentication in front of an MCP server")
    .version(VERSION, "-v, --version")
    .option("-c, --config <file>", "YAML config file")
    .option("--config-dir <dir>", "directory with base.yaml and <environment>.yaml layers")
    .addOption(new Option("--env <name>", "environment layer to load (env MCP_ENV)").choices(environments));
  // The settings' flags, from the one table of outside names (config/sources.ts).
  for (const { env, flag, path } of Object.values(flagBindings)) {
    const option = new Option(flag.usage, `${flag.description} (env ${env})`);
    const choices = choicesAt(path);
    command.addOption(choices ? option.choices(choices) : option);
  }
  return command.option("--config-test", "validate the configuration, print the result and exit");
}

function loadOptions(cli: CliOptions): LoadOptions {
  const { config, configDir, env, configTest: _, ...flags } = cli;
  return { file: config, directory: configDir, environment: env, flags };
}

/** A bad flag or flag value is invalid configuration too: exit 2 (commander's own is 1). */
function parseCommandLine(argv: string[]): CliOptions {
  try {
    return buildCommand().exitOverride().parse(argv).opts<CliOptions>();
  } catch (error) {
    // Commander has printed the message, or the help or version that was asked for.
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
    throw error;
  }
}

export async function main(argv: string[] = process.argv): Promise<void> {
  // Node's own fetch, Headers and Response are a second copy of undici (~1.5 MiB resident):
  // discovery (openid-client), JWKS (jose) and the health probe get the undici package's
  // instead, which the proxy loads anyway (decision 026).
  installUndici();
  const cli = parseCommandLine(argv);
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
    for (const notice of loaded.notices) process.stdout.write(`note: ${notice}\n`);
    process.stdout.write(`configuration OK (${loaded.files.length > 0 ? loaded.files.join(", ") : "no files"})\n`);
    return;
  }
  const logger = createLogger(loaded.config.logging.level, loaded.config.logging.format);
  for (const notice of loaded.notices) logger.warn("configuration", { notice });
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
  try {
    proxy = await startProxy(loaded.config, { logger });
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    process.stderr.write(`mcp-oidc-proxy: ${error.message}\n`);
    process.exit(1);
  }
  // Ready: what start-up left behind goes now, not whenever the heap next grows.
  collectStartupGarbage();
}

// `node src/main.ts` runs the proxy too (the bin launcher and the single binary call main).
if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`mcp-oidc-proxy: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
