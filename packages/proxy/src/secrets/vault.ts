// Reads KV secrets from HashiCorp Vault (or OpenBao, which speaks the same API): a token, or
// a Kubernetes service account login (auth/<mount>/login with the pod's token). Two HTTP
// calls, made with fetch (Node has no official Vault client); the token is never logged.
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { Agent, fetch as undiciFetch } from "undici";
import type { Config } from "../config/schema.ts";
import { SecretSourceError } from "./errors.ts";

type VaultSettings = Config["vault"];

export class VaultClient {
  readonly #settings: VaultSettings;
  readonly #dispatcher: Agent | undefined;
  #token: string | undefined;

  constructor(settings: VaultSettings) {
    this.#settings = settings;
    this.#dispatcher = settings.ca_file
      ? new Agent({ connect: { ca: [...rootCertificates, readFileSync(settings.ca_file, "utf8")] } })
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
      this.#token = (settings.token ?? readFileSync(settings.token_file as string, "utf8")).trim();
      return this.#token;
    }
    const jwt = readFileSync(settings.service_account_token_file, "utf8").trim();
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
