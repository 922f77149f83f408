// Who signed in for MCP clients, and what they approved. An account record holds the user
// (as the browser sign-in saw them) and the provider's tokens, which stay server-side; a
// consent record remembers that a user approved a client for some scopes.
import type { KeyValueStore } from "../../session/key-value.ts";
import type { SessionUser, UpstreamTokens } from "../session-user.ts";

export interface AccountRecord {
  user: SessionUser;
  /** The provider's tokens from the sign-in, refreshed when MCP clients refresh theirs. */
  upstream?: UpstreamTokens;
}

interface ConsentRecord {
  scopes: string[];
  approvedAt: number;
}

export class AccountDirectory {
  readonly #store: KeyValueStore;
  readonly #ttlSeconds: number;

  /** ttlSeconds: how long an account outlives its last sign-in or refresh (the refresh token's life). */
  constructor(store: KeyValueStore, ttlSeconds: number) {
    this.#store = store;
    this.#ttlSeconds = ttlSeconds;
  }

  async save(account: AccountRecord): Promise<void> {
    await this.#store.set(`account:${account.user.id}`, JSON.stringify(account), this.#ttlSeconds);
  }

  async find(accountId: string): Promise<AccountRecord | undefined> {
    const raw = await this.#store.get(`account:${accountId}`);
    return raw === undefined ? undefined : (JSON.parse(raw) as AccountRecord);
  }

  async forget(accountId: string): Promise<void> {
    await this.#store.delete(`account:${accountId}`);
  }

  async rememberConsent(accountId: string, clientId: string, scopes: string[]): Promise<void> {
    const known = await this.#consent(accountId, clientId);
    const record: ConsentRecord = {
      scopes: [...new Set([...(known?.scopes ?? []), ...scopes])],
      approvedAt: Date.now(),
    };
    await this.#store.set(`consent:${accountId}:${clientId}`, JSON.stringify(record), this.#ttlSeconds);
  }

  /** True when the user approved this client before for at least these scopes. */
  async hasConsented(accountId: string, clientId: string, scopes: string[]): Promise<boolean> {
    const known = await this.#consent(accountId, clientId);
    return known !== undefined && scopes.every((scope) => known.scopes.includes(scope));
  }

  async #consent(accountId: string, clientId: string): Promise<ConsentRecord | undefined> {
    const raw = await this.#store.get(`consent:${accountId}:${clientId}`);
    return raw === undefined ? undefined : (JSON.parse(raw) as ConsentRecord);
  }
}
