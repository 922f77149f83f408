// Who signed in for MCP clients, and what they approved. An account record holds the user
// (as the browser sign-in saw them) and the provider's tokens, which stay server-side; it is
// stored encrypted (A256GCM, a key derived from the session secret; older secrets still
// open it after a rotation), since the provider's refresh token acts for the user at the
// provider. A consent record remembers that a user approved a client for one exact redirect
// URI and the scopes shown: a client with several redirect URIs (one of them an attacker's)
// approved for one gets no code sent to another without the page being shown again. The
// approvals of a client are noted together, and the clients a person approved too, so a
// revoke forgets them all (every redirect URI) and the connected-clients page lists an
// approved client when no grant of it is live (after a sign-out).
import type { KeyValueStore } from "../../session/key-value.ts";
import { SecretBox } from "../../session/secret-box.ts";
import type { SessionUser, UpstreamTokens } from "../session-user.ts";
import { sealedName } from "./storage-adapter.ts";

export interface AccountRecord {
  user: SessionUser;
  /** The provider's tokens from the sign-in, refreshed when MCP clients refresh theirs. */
  upstream?: UpstreamTokens;
}

interface ConsentRecord {
  redirectUri: string;
  scopes: string[];
  approvedAt: number;
}

export class AccountDirectory {
  readonly #store: KeyValueStore;
  readonly #ttlSeconds: number;
  readonly #box: SecretBox;
  /** Seals approvals: which clients a person approved, and where, is theirs to know. */
  readonly #consents: SecretBox;

  /**
   * ttlSeconds: how long an account outlives its last sign-in or refresh (the refresh token's
   * life); secrets: the session secrets, the current one first.
   */
  constructor(store: KeyValueStore, ttlSeconds: number, secrets: string[]) {
    this.#store = store;
    this.#ttlSeconds = ttlSeconds;
    this.#box = new SecretBox(secrets, "account");
    this.#consents = new SecretBox(secrets, "consent");
  }

  async save(account: AccountRecord): Promise<void> {
    const sealed = await this.#box.seal(JSON.stringify(account));
    await this.#store.set(`account:${account.user.id}`, sealed, this.#ttlSeconds);
  }

  /** The account, or undefined when there is none or no session secret opens it. */
  async find(accountId: string): Promise<AccountRecord | undefined> {
    const sealed = await this.#store.get(`account:${accountId}`);
    const text = sealed === undefined ? undefined : await this.#box.open(sealed);
    return text === undefined ? undefined : (JSON.parse(text) as AccountRecord);
  }

  async forget(accountId: string): Promise<void> {
    await this.#store.delete(`account:${accountId}`);
  }

  /**
   * Replaces the approval of this redirect URI: what was shown last is what counts. It is
   * noted among the person's approvals of the client, and the client among the person's
   * approved ones, so a revoke forgets every redirect URI and the page lists the client.
   */
  async rememberConsent(accountId: string, clientId: string, redirectUri: string, scopes: string[]): Promise<void> {
    const record: ConsentRecord = { redirectUri, scopes: [...new Set(scopes)], approvedAt: Date.now() };
    const key = consentKey(accountId, clientId, redirectUri);
    await this.#store.set(key, await this.#consents.seal(JSON.stringify(record)), this.#ttlSeconds);
    await this.#store.addToSet(consentsOfClientKey(accountId, clientId), key, this.#ttlSeconds);
    await this.#store.addToSet(approvedClientsKey(accountId), await this.#consents.seal(clientId), this.#ttlSeconds);
  }

  /** True when the user approved this client for this exact redirect URI and at least these scopes. */
  async hasConsented(accountId: string, clientId: string, redirectUri: string, scopes: string[]): Promise<boolean> {
    const known = await this.#consent(consentKey(accountId, clientId, redirectUri));
    return known?.redirectUri === redirectUri && scopes.every((scope) => known.scopes.includes(scope));
  }

  async #consent(key: string): Promise<ConsentRecord | undefined> {
    const sealed = await this.#store.get(key);
    const text = sealed === undefined ? undefined : await this.#consents.open(sealed);
    return text === undefined ? undefined : (JSON.parse(text) as ConsentRecord);
  }

  /**
   * The clients the person approved and the approvals still kept, the latest first. A client
   * whose approvals all expired or were forgotten is taken off the person's set.
   */
  async approvals(accountId: string): Promise<Approval[]> {
    const found: Approval[] = [];
    for (const member of await this.#store.members(approvedClientsKey(accountId))) {
      const clientId = await this.#consents.open(member);
      // Each approval adds a member: a second one of the same client is redundant.
      const duplicate = found.some((known) => known.clientId === clientId);
      const approval = clientId === undefined || duplicate ? undefined : await this.#approvalOf(accountId, clientId);
      // One command: a member another approval adds meanwhile is another string, and stays.
      if (!approval) await this.#store.removeFromSet(approvedClientsKey(accountId), member);
      else found.push(approval);
    }
    return found.sort((a, b) => b.approvedAt - a.approvedAt);
  }

  async #approvalOf(accountId: string, clientId: string): Promise<Approval | undefined> {
    const records: ConsentRecord[] = [];
    for (const key of await this.#store.members(consentsOfClientKey(accountId, clientId))) {
      const record = await this.#consent(key);
      if (record) records.push(record);
    }
    if (records.length === 0) return undefined;
    return {
      clientId,
      redirectUris: records.map((record) => record.redirectUri),
      approvedAt: Math.max(...records.map((record) => record.approvedAt)),
    };
  }

  /** Forgets every approval of the client (every redirect URI): true when there was one. */
  async forgetConsents(accountId: string, clientId: string): Promise<boolean> {
    const index = consentsOfClientKey(accountId, clientId);
    let forgot = false;
    for (const key of await this.#store.members(index)) {
      forgot ||= (await this.#store.get(key)) !== undefined;
      await this.#store.delete(key);
    }
    await this.#store.delete(index);
    for (const member of await this.#store.members(approvedClientsKey(accountId))) {
      if ((await this.#consents.open(member)) === clientId) {
        await this.#store.removeFromSet(approvedClientsKey(accountId), member);
      }
    }
    return forgot;
  }
}

/** A client the person approved, at these redirect URIs. */
export interface Approval {
  clientId: string;
  redirectUris: string[];
  /** The latest approval, epoch milliseconds. */
  approvedAt: number;
}

const hashed = (...parts: string[]) => sealedName(parts.join("\0"));

/**
 * One record per redirect URI. Key names are hashes, values sealed: a copy of the store
 * names no client, person or redirect URI (one who knows both ids can still test for them).
 */
function consentKey(accountId: string, clientId: string, redirectUri: string): string {
  return `consent:${hashed(accountId, clientId, redirectUri)}`;
}

/** The person's approvals of one client: the names of their records. */
const consentsOfClientKey = (accountId: string, clientId: string) => `consents-of:${hashed(accountId, clientId)}`;
/** The clients the person approved: their ids, sealed. */
const approvedClientsKey = (accountId: string) => `approved-clients:${hashed(accountId)}`;
