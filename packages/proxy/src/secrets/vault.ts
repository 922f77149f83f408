// Reads KV secrets from HashiCorp Vault (or OpenBao, which speaks the same API): a token, or
// a Kubernetes service account login (auth/<mount>/login with the pod's token). Two HTTP
// calls, made with fetch (Node has no official Vault client); the token is never logged.
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { Agent, fetch as undiciFetch } from "undici";
import type { Config } from "../config/schema.ts";
import { SecretSourceError } from "./errors.ts";

type VaultSettings = Config["vault"];

/**
 * A file a Vault setting names (a token, the pod's service account token, a CA): one that
 * cannot be read stops the start with the setting and the file, as every other secret
 * source problem does, not with Node's stack trace.
 */
function readSettingFile(setting: string, file: string, hint = ""): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new SecretSourceError(`Vault: cannot read ${setting} ${file} (${reason})${hint}`);
  }
}

/** Where the pod's token comes from, for the message when it is missing. */
const SERVICE_ACCOUNT_TOKEN_HINT =
  ": auth_method kubernetes logs in with the pod's service account token; mount it (automountServiceAccountToken, or the Helm chart's serviceAccount.automountToken: true) or set vault.service_account_token_file";

export class VaultClient {
  readonly #settings: VaultSettings;
  readonly #dispatcher: Agent | undefined;
  #token: string | undefined;

  constructor(settings: VaultSettings) {
    this.#settings = settings;
    this.#dispatcher = settings.ca_file
      ? new Agent({ connect: { ca: [...rootCertificates, readSettingFile("vault.ca_file", settings.ca_file)] } })
      : undefined;
  }

  async #call(method: "GET" | "POST", path: string, body?: unknown, token?: string): Promise<Record<string, unknown>> {
    const url = new URL(`/v1/${path.replace(/^\/+/, "")}`, this.#settings.address);
    const headers: Record<string, string> = { accept: "application/json" };
    if (token) headers["x-vault-token"] = token;
    if (this.#settings.namespace) headers["x-vault-namespace"] = this.#settings.namespace;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      response = await undiciFetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.#settings.timeout),
        ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
      });
    } catch (error) {
      throw new SecretSourceError(`Vault at ${url.origin} did not answer: ${(error as Error).message}`);
    }
    const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      const reasons = Array.isArray(json.errors) ? json.errors.join("; ") : "";
      throw new SecretSourceError(`Vault answered ${response.status} for ${path}${reasons ? `: ${reasons}` : ""}`);
    }
    return json;
  }

  async #login(): Promise<string> {
    if (this.#token) return this.#token;
    const settings = this.#settings;
    if (settings.auth_method === "token") {
      this.#token = (settings.token ?? readSettingFile("vault.token_file", settings.token_file as string)).trim();
      return this.#token;
    }
    const jwt = readSettingFile(
      "vault.service_account_token_file",
      settings.service_account_token_file,
      SERVICE_ACCOUNT_TOKEN_HINT,
    ).trim();
    const answer = await this.#call("POST", `auth/${settings.kubernetes_mount}/login`, { role: settings.role, jwt });
    const token = (answer.auth as { client_token?: unknown } | undefined)?.client_token;
    if (typeof token !== "string") throw new SecretSourceError("Vault's Kubernetes login returned no token");
    this.#token = token;
    return token;
  }

  /** The key/value pairs at a KV path (v2: secret/data/<name>; v1: secret/<name>). */
  async read(path: string): Promise<Record<string, unknown>> {
    const answer = await this.#call("GET", path, undefined, await this.#login());
    const data = answer.data as Record<string, unknown> | undefined;
    // KV v2 nests the values one level deeper, next to their metadata.
    const values = data && typeof data.data === "object" && data.metadata !== undefined ? data.data : data;
    return (values ?? {}) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    await this.#dispatcher?.close();
  }
}
