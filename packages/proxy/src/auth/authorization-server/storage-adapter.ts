// oidc-provider's storage adapter over the proxy's key-value store (memory or Redis):
// registered clients, interactions, sessions, grants, codes and tokens. A grant keeps an
// index of what was issued under it, so revoking the grant (a reused refresh token, a
// revoked one) removes every token of it at once.
//
// A code or refresh token is used once: its use is claimed with one atomic store command, so
// of several requests racing with the same one, exactly one gets tokens; the others are
// refused and, as a sequential reuse is, end the grant (RFC 9700 4.14.2, RFC 6749 4.1.2).
//
// Anyone may register a client, so a registered client lives client_ttl past its last use
// (renewed as it is used), not for ever; the pre-approved ones the configuration names stay.
//
// The id of most records is a bearer credential (an access or refresh token, a code, a
// session cookie, an interaction uid), so a record is stored sealed: its key names the
// SHA-256 of the id and its value is encrypted with a key derived from the id. A Redis dump
// or KEYS shows no usable token, and only a caller holding the id can read its record (the
// index of a grant's records is named by the grant id's hash too).
// Registered clients (public ids) stay readable, but for their client_secret, which is
// encrypted with a key from the session secret. See docs/decisions/012.
import { createHash } from "node:crypto";
import { CompactEncrypt, compactDecrypt } from "jose";
import { type Adapter, type AdapterPayload, errors as oidcErrors } from "oidc-provider";
import type { KeyValueStore } from "../../session/key-value.ts";
import { SecretBox } from "../../session/secret-box.ts";
import { isDocumentClientId } from "./client-metadata-documents.ts";

/** Models whose records belong to a grant and die with it. */
const GRANTABLE = new Set([
  "AccessToken",
  "AuthorizationCode",
  "RefreshToken",
  "DeviceCode",
  "BackchannelAuthenticationRequest",
]);

/**
 * Models whose records oidc-provider uses once (it checks `consumed`, then calls consume):
 * the error the loser of a race gets, as oidc-provider words a sequential reuse.
 */
const SINGLE_USE: Record<string, () => Error> = {
  AuthorizationCode: () => new oidcErrors.InvalidGrant("authorization code already consumed"),
  RefreshToken: () => new oidcErrors.InvalidGrant("refresh token already used"),
  DeviceCode: () => new oidcErrors.InvalidGrant("device code already consumed"),
  BackchannelAuthenticationRequest: () => new oidcErrors.InvalidGrant("backchannel request already consumed"),
  PushedAuthorizationRequest: () =>
    new oidcErrors.InvalidRequestUri("request_uri is invalid, expired, or was already used"),
};

/** Where a registered client's encrypted client_secret is kept in its stored record. */
const SEALED_SECRET = "client_secret_sealed";

/** Models stored as they are: their ids are public (a client_id), not credentials. */
const OPEN_MODELS = new Set(["Client"]);

const digest = (label: string, id: string) => createHash("sha256").update(label).update("\0").update(id).digest();

/** The name a sealed record is stored under: no one learns the id from it. */
export function sealedName(id: string): string {
  return digest("mcp-oidc-proxy record name", id).toString("base64url");
}

/** Where a model's record is stored. */
function recordKey(model: string, id: string): string {
  return `${model}:${OPEN_MODELS.has(model) ? id : sealedName(id)}`;
}

/** Encrypts `value` so that only a caller that knows `id` can read it. */
async function seal(id: string, value: string): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(value))
    .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
    .encrypt(digest("mcp-oidc-proxy record key", id));
}

async function unseal(id: string, sealed: string): Promise<string | undefined> {
  try {
    const { plaintext } = await compactDecrypt(sealed, digest("mcp-oidc-proxy record key", id));
    return new TextDecoder().decode(plaintext);
  } catch {
    return undefined;
  }
}

interface StoredRecord {
  payload: AdapterPayload;
  /** Epoch seconds, or undefined for records kept until deleted. */
  expiresAt?: number;
}

export interface StorageAdapterOptions {
  store: KeyValueStore;
  /** The session secrets (current first): registered clients' secrets are encrypted with them. */
  secrets: string[];
  /** Registered clients are forgotten this many seconds after their last use; undefined keeps them. */
  clientTtlSeconds?: number;
  /** Client ids kept however long unused (the pre-approved ones the configuration names). */
  keptClients?: ReadonlySet<string>;
  /** The clock, epoch milliseconds (tests move it). */
  now?: () => number;
  /** Clients whose client_id is the URL of their metadata document (when enabled). */
  clientDocuments?: { find(clientId: string): Promise<AdapterPayload | undefined> };
  /** Told after a code or refresh token used twice at once ended its grant (the tokens are gone). */
  onReuse?: (grantId: string, model: string) => void;
}

/**
 * A client's registered `scope` would cap what it may ever ask for, so the step-up a 403
 * `insufficient_scope` asks for (SEP-835) would end in invalid_scope: SDK clients register the
 * scope of their first challenge. The person approves every scope on the consent page, which
 * is bound to the scopes shown, so the registration need not limit them as well.
 */
function withoutScopeLimit(payload: AdapterPayload): AdapterPayload {
  if (payload.scope === undefined) return payload;
  const { scope: _, ...rest } = payload;
  return rest;
}

/**
 * Ends a grant: the grant itself, which the access token check requires, and every record
 * issued under it (the index holds them all, whatever their model), so tokens saved after
 * this die too. What a reused code or refresh token, a sign-out and a revoked client do.
 */
export async function endGrant(store: KeyValueStore, grantId: string): Promise<void> {
  await store.delete(recordKey("Grant", grantId));
  await deleteIssued(store, grantId);
}

/**
 * The index of what was issued under a grant, named by the grant id's hash: the grant record
 * is sealed with its id, so a copy of the store must not name the id.
 */
const issuedIndex = (grantId: string) => `grant:${sealedName(grantId)}`;

/** Every record issued under the grant, whatever its model (one index holds them all). */
async function deleteIssued(store: KeyValueStore, grantId: string): Promise<void> {
  // `grant:<grant id>` is the index's name before it was hashed: grants of then end whole too.
  for (const index of [issuedIndex(grantId), `grant:${grantId}`]) {
    for (const key of await store.members(index)) await store.delete(key);
    await store.delete(index);
  }
}

export function storageAdapterFactory(options: StorageAdapterOptions): (name: string) => Adapter {
  return (name) => new StorageAdapter(name, options);
}

class StorageAdapter implements Adapter {
  readonly #name: string;
  readonly #store: KeyValueStore;
  readonly #clientTtl: number | undefined;
  readonly #keptClients: ReadonlySet<string>;
  readonly #now: () => number;
  readonly #documents: StorageAdapterOptions["clientDocuments"];
  readonly #sealed: boolean;
  readonly #clientSecrets: SecretBox | undefined;
  readonly #onReuse: StorageAdapterOptions["onReuse"];

  constructor(name: string, options: StorageAdapterOptions) {
    this.#name = name;
    this.#store = options.store;
    this.#clientTtl = options.clientTtlSeconds;
    this.#keptClients = options.keptClients ?? new Set();
    this.#now = options.now ?? Date.now;
    this.#documents = name === "Client" ? options.clientDocuments : undefined;
    this.#sealed = !OPEN_MODELS.has(name);
    this.#clientSecrets = name === "Client" ? new SecretBox(options.secrets, "client-secret") : undefined;
    this.#onReuse = options.onReuse;
  }

  #seconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** How long a registered client lives past its last use: undefined, for ever. */
  #clientLife(id: string): number | undefined {
    return this.#keptClients.has(id) ? undefined : this.#clientTtl;
  }

  /**
   * A registered client lives client_ttl past its last use, not its registration: its record
   * is written again with a fresh expiry when used, at most once a day (a tenth of the TTL
   * when shorter), so a client in use never vanishes and an abandoned one goes.
   */
  async #renewClient(id: string, record: StoredRecord): Promise<void> {
    const life = this.#clientLife(id);
    const now = this.#seconds();
    if (life === undefined) {
      if (record.expiresAt === undefined) return;
      const { expiresAt: _, ...kept } = record;
      return this.#write(this.#key(id), id, JSON.stringify(kept), undefined);
    }
    const step = Math.min(86_400, Math.ceil(life / 10));
    if (record.expiresAt !== undefined && record.expiresAt - now > life - step) return;
    await this.#write(this.#key(id), id, JSON.stringify({ ...record, expiresAt: now + life }), life);
  }

  #key(id: string): string {
    return recordKey(this.#name, id);
  }

  /** Writes `value` under `key`, sealed with `id` when this model's ids are credentials. */
  async #write(key: string, id: string, value: string, ttl: number | undefined): Promise<void> {
    await this.#store.set(key, this.#sealed ? await seal(id, value) : value, ttl);
  }

  async #readValue(key: string, id: string): Promise<string | undefined> {
    const raw = await this.#store.get(key);
    if (raw === undefined || !this.#sealed) return raw;
    return unseal(id, raw);
  }

  /** An index from a second credential (a session uid, a device user code) to the record's id. */
  #indexKey(kind: string, value: string): string {
    return `${kind}:${this.#name}:${this.#sealed ? sealedName(value) : value}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const ttl = expiresIn ?? (this.#name === "Client" ? this.#clientLife(id) : undefined);
    const record: StoredRecord = {
      payload: await this.#sealClientSecret(payload),
      ...(ttl ? { expiresAt: this.#seconds() + ttl } : {}),
    };
    const key = this.#key(id);
    await this.#write(key, id, JSON.stringify(record), ttl);
    if (GRANTABLE.has(this.#name) && payload.grantId) {
      await this.#store.addToSet(issuedIndex(payload.grantId), key, ttl);
    }
    if (payload.userCode) await this.#write(this.#indexKey("userCode", payload.userCode), payload.userCode, id, ttl);
    if (payload.uid) await this.#write(this.#indexKey("uid", payload.uid), payload.uid, id, ttl);
  }

  async #read(id: string): Promise<StoredRecord | undefined> {
    const raw = await this.#readValue(this.#key(id), id);
    return raw === undefined ? undefined : (JSON.parse(raw) as StoredRecord);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (this.#name in SINGLE_USE) return this.#findSingleUse(id);
    if (this.#name !== "Client") return (await this.#read(id))?.payload;
    if (this.#documents && isDocumentClientId(id)) return this.#openClient(await this.#documents.find(id));
    const record = await this.#read(id);
    if (record) await this.#renewClient(id, record);
    return this.#openClient(record?.payload);
  }

  async #openClient(payload: AdapterPayload | undefined): Promise<AdapterPayload | undefined> {
    return payload === undefined ? undefined : this.#openClientSecret(withoutScopeLimit(payload));
  }

  /** The claim consume() took, if any: its value is when (epoch seconds). */
  #consumedKey(id: string): string {
    return `consumed:${this.#key(id)}`;
  }

  /** A single-use record, `consumed` when its use was claimed (the claim is the only truth). */
  async #findSingleUse(id: string): Promise<AdapterPayload | undefined> {
    const [record, consumed] = await Promise.all([this.#read(id), this.#store.get(this.#consumedKey(id))]);
    if (!record) return undefined;
    return consumed === undefined ? record.payload : { ...record.payload, consumed: Number(consumed) };
  }

  async #sealClientSecret(payload: AdapterPayload): Promise<AdapterPayload> {
    if (!this.#clientSecrets || typeof payload.client_secret !== "string") return payload;
    const { client_secret: secret, ...rest } = payload;
    return { ...rest, [SEALED_SECRET]: await this.#clientSecrets.seal(secret) };
  }

  /** A client whose secret no configured session secret opens is not found (fail closed). */
  async #openClientSecret(payload: AdapterPayload): Promise<AdapterPayload | undefined> {
    const sealed = payload[SEALED_SECRET];
    if (!this.#clientSecrets || typeof sealed !== "string") return payload;
    const secret = await this.#clientSecrets.open(sealed);
    if (secret === undefined) return undefined;
    const { [SEALED_SECRET]: _, ...rest } = payload;
    return { ...rest, client_secret: secret };
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = await this.#readValue(this.#indexKey("uid", uid), uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const id = await this.#readValue(this.#indexKey("userCode", userCode), userCode);
    return id === undefined ? undefined : this.find(id);
  }

  /**
   * Claims the one use of a code or refresh token. oidc-provider refuses one found consumed;
   * a request that found it unused but lost the claim to another is refused here, and ends
   * the grant as the sequential reuse does: both copies are in someone's hands.
   */
  async consume(id: string): Promise<void> {
    const record = await this.#read(id);
    const now = this.#seconds();
    // The claim lives as long as the record (at least a second: SET EX 0 is refused).
    const ttl = record?.expiresAt === undefined ? undefined : Math.max(1, record.expiresAt - now);
    // A record gone since oidc-provider found it was revoked meanwhile (by a reuse): refused.
    if (record && (await this.#store.claim(this.#consumedKey(id), String(now), ttl))) return;
    const grantId = record?.payload.grantId;
    if (grantId) {
      await endGrant(this.#store, grantId);
      this.#onReuse?.(grantId, this.#name);
    }
    const refusal = SINGLE_USE[this.#name];
    throw refusal ? refusal() : new oidcErrors.InvalidGrant("already used");
  }

  async destroy(id: string): Promise<void> {
    await this.#store.delete(this.#key(id));
  }

  revokeByGrantId(grantId: string): Promise<void> {
    return deleteIssued(this.#store, grantId);
  }
}
