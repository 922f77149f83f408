// Who signed in for MCP clients, and what they approved. An account record holds the user
// (as the browser sign-in saw them) and the provider's tokens, which stay server-side; it is
// stored encrypted (A256GCM, a key derived from the session secret; older secrets still
// open it after a rotation), since the provider's refresh token acts for the user at the
// provider. A consent record remembers that a user approved a client for one exact redirect
// URI and the scopes shown: a client with several redirect URIs (one of them an attacker's)
// approved for one gets no code sent to another without the page being shown again.
import { createHash } from "node:crypto";
import type { KeyValueStore } from "../../session/key-value.ts";
import { SecretBox } from "../../session/secret-box.ts";
import type { SessionUser, UpstreamTokens } from "../session-user.ts";

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

  /**
   * ttlSeconds: how long an account outlives its last sign-in or refresh (the refresh token's
   * life); secrets: the session secrets, the current one first.
   */
  constructor(store: KeyValueStore, ttlSeconds: number, secrets: string[]) {
    this.#store = store;
    this.#ttlSeconds = ttlSeconds;
    this.#box = new SecretBox(secrets, "account");
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

  /** Replaces the approval of this redirect URI: what was shown last is what counts. */
  async rememberConsent(accountId: string, clientId: string, redirectUri: string, scopes: string[]): Promise<void> {
    const record: ConsentRecord = { redirectUri, scopes: [...new Set(scopes)], approvedAt: Date.now() };
    await this.#store.set(consentKey(accountId, clientId, redirectUri), JSON.stringify(record), this.#ttlSeconds);
  }

  /** Forgets an approval: the next authorization of this client there shows the page again. */
  async forgetConsent(accountId: string, clientId: string, redirectUri: string): Promise<void> {
    await this.#store.delete(consentKey(accountId, clientId, redirectUri));
  }

  /** True when the user approved this client for this exact redirect URI and at least these scopes. */
  async hasConsented(accountId: string, clientId: string, redirectUri: string, scopes: string[]): Promise<boolean> {
    const raw = await this.#store.get(consentKey(accountId, clientId, redirectUri));
    if (raw === undefined) return false;
    const known = JSON.parse(raw) as ConsentRecord;
    return known.redirectUri === redirectUri && scopes.every((scope) => known.scopes.includes(scope));
  }
}

/** One record per redirect URI; hashed so any URI makes a short, safe key. */
function consentKey(accountId: string, clientId: string, redirectUri: string): string {
  const uri = createHash("sha256").update(redirectUri).digest("base64url");
  return `consent:${accountId}:${clientId}:${uri}`;
}
