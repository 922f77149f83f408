// Secrets from outside stores, fetched once at startup (vault.secrets, aws_secrets_manager.secrets)
// and handed to the configuration as the environment variables they stand for, so a value
// from Vault or AWS Secrets Manager is used exactly as if it had been set in the environment.
// They win over the process environment for the variables they name.
import { type LoadedConfig, type LoadOptions, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { SecretSourceError } from "./errors.ts";

export { SecretSourceError };

/** The environment variables the configured secret sources provide. */
export async function fetchSecrets(config: Config): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  const { vault, aws_secrets_manager: aws } = config;
  if ((vault.enabled ?? vault.secrets.length > 0) && vault.secrets.length > 0) {
    // Loaded only when used: a proxy without secret sources does not carry their clients.
    const { VaultClient } = await import("./vault.ts");
    const client = new VaultClient(vault);
    try {
      const paths = new Map<string, Promise<Record<string, unknown>>>();
      for (const { path, key, env } of vault.secrets) {
        if (!paths.has(path)) paths.set(path, client.read(path));
        const value = (await paths.get(path))?.[key];
        if (typeof value !== "string") throw new SecretSourceError(`Vault: ${path} has no key ${key}`);
        values[env] = value;
      }
    } finally {
      await client.close();
    }
  }
  if ((aws.enabled ?? aws.secrets.length > 0) && aws.secrets.length > 0) {
    const { AwsSecretsManager } = await import("./aws-secrets-manager.ts");
    const client = new AwsSecretsManager(aws);
    try {
      for (const { secret_id, key, env } of aws.secrets) values[env] = await client.read(secret_id, key);
    } finally {
      client.close();
    }
  }
  return values;
}

/**
 * Loads the configuration, then, when secret sources are configured, fetches their secrets
 * and loads it again with them in the environment. Returns the final configuration and the
 * load options to reload it with (SIGHUP) without fetching again.
 */
export async function loadConfigWithSecrets(
  options: LoadOptions,
): Promise<{ loaded: LoadedConfig; options: LoadOptions }> {
  const first = loadConfig({ ...options, fieldsOnly: true });
  const secrets = await fetchSecrets(first.config);
  if (Object.keys(secrets).length === 0) return { loaded: loadConfig(options), options };
  const withSecrets: LoadOptions = { ...options, env: { ...(options.env ?? process.env), ...secrets } };
  return { loaded: loadConfig(withSecrets), options: withSecrets };
}
