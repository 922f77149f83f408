// Reads secrets from AWS Secrets Manager with the official SDK (credentials, region and
// retries as the SDK resolves them: environment, instance or task role, Lambda's role).
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Config } from "../config/schema.ts";
import { SecretSourceError } from "./errors.ts";

export class AwsSecretsManager {
  readonly #client: SecretsManagerClient;

  constructor(settings: Config["aws_secrets_manager"]) {
    this.#client = new SecretsManagerClient({
      ...(settings.region ? { region: settings.region } : {}),
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    });
  }

  /** The secret's string, or one key of it when the secret is a JSON object. */
  async read(secretId: string, key: string | undefined): Promise<string> {
    let secret: string | undefined;
    try {
      const answer = await this.#client.send(new GetSecretValueCommand({ SecretId: secretId }));
      secret =
        answer.SecretString ?? (answer.SecretBinary ? Buffer.from(answer.SecretBinary).toString("utf8") : undefined);
    } catch (error) {
      throw new SecretSourceError(
        `AWS Secrets Manager: ${secretId}: ${(error as Error).name}: ${(error as Error).message}`,
      );
    }
    if (secret === undefined) throw new SecretSourceError(`AWS Secrets Manager: ${secretId} has no value`);
    if (key === undefined) return secret;
    let values: unknown;
    try {
      values = JSON.parse(secret);
    } catch {
      throw new SecretSourceError(`AWS Secrets Manager: ${secretId} is not JSON, so it has no key ${key}`);
    }
    const value = (values as Record<string, unknown> | null)?.[key];
    if (typeof value !== "string") throw new SecretSourceError(`AWS Secrets Manager: ${secretId} has no key ${key}`);
    return value;
  }

  close(): void {
    this.#client.destroy();
  }
}
