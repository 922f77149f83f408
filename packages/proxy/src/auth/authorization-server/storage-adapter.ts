// oidc-provider's storage adapter over the proxy's key-value store (memory or Redis):
// registered clients, interactions, sessions, grants, codes and tokens. A grant keeps an
// index of what was issued under it, so revoking the grant (a reused refresh token, a
// revoked one) removes every token of it at once.
import type { Adapter, AdapterPayload } from "oidc-provider";
import type { KeyValueStore } from "../../session/key-value.ts";
import { isDocumentClientId } from "./client-metadata-documents.ts";

/** Models whose records belong to a grant and die with it. */
const GRANTABLE = new Set([
  "AccessToken",
  "AuthorizationCode",
  "RefreshToken",
  "DeviceCode",
  "BackchannelAuthenticationRequest",
]);

interface StoredRecord {
  payload: AdapterPayload;
  /** Epoch seconds, or undefined for records kept until deleted. */
  expiresAt?: number;
}

export interface StorageAdapterOptions {
  store: KeyValueStore;
  /** Registered clients are forgotten after this many seconds; undefined keeps them. */
  clientTtlSeconds?: number;
  /** Clients whose client_id is the URL of their metadata document (when enabled). */
  clientDocuments?: { find(clientId: string): Promise<AdapterPayload | undefined> };
}

export function storageAdapterFactory(options: StorageAdapterOptions): (name: string) => Adapter {
  return (name) => new StorageAdapter(name, options);
}

class StorageAdapter implements Adapter {
  readonly #name: string;
  readonly #store: KeyValueStore;
  readonly #clientTtl: number | undefined;
  readonly #documents: StorageAdapterOptions["clientDocuments"];

  constructor(name: string, options: StorageAdapterOptions) {
    this.#name = name;
    this.#store = options.store;
    this.#clientTtl = options.clientTtlSeconds;
    this.#documents = name === "Client" ? options.clientDocuments : undefined;
  }

  #key(id: string): string {
    return `${this.#name}:${id}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const ttl = expiresIn ?? (this.#name === "Client" ? this.#clientTtl : undefined);
    const record: StoredRecord = {
      payload,
      ...(ttl ? { expiresAt: Math.floor(Date.now() / 1000) + ttl } : {}),
    };
    const key = this.#key(id);
    await this.#store.set(key, JSON.stringify(record), ttl);
    if (GRANTABLE.has(this.#name) && payload.grantId) {
      await this.#store.addToSet(`grant:${payload.grantId}`, key, ttl);
    }
    if (payload.userCode) await this.#store.set(`userCode:${payload.userCode}`, id, ttl);
    if (payload.uid) await this.#store.set(`uid:${this.#name}:${payload.uid}`, id, ttl);
  }

  async #read(id: string): Promise<StoredRecord | undefined> {
    const raw = await this.#store.get(this.#key(id));
    return raw === undefined ? undefined : (JSON.parse(raw) as StoredRecord);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (this.#documents && isDocumentClientId(id)) return this.#documents.find(id);
    return (await this.#read(id))?.payload;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = await this.#store.get(`uid:${this.#name}:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const id = await this.#store.get(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  /** Marks a code or refresh token used; a second use is how oidc-provider detects replay. */
  async consume(id: string): Promise<void> {
    const record = await this.#read(id);
    if (!record) return;
    record.payload.consumed = Math.floor(Date.now() / 1000);
    const remaining = record.expiresAt ? record.expiresAt - Math.floor(Date.now() / 1000) : undefined;
    if (remaining !== undefined && remaining <= 0) return;
    await this.#store.set(this.#key(id), JSON.stringify(record), remaining);
  }

  async destroy(id: string): Promise<void> {
    await this.#store.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const index = `grant:${grantId}`;
    for (const key of await this.#store.members(index)) await this.#store.delete(key);
    await this.#store.delete(index);
  }
}
