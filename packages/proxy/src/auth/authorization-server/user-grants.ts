// Which MCP clients a person connected: every grant made at the consent step is noted under
// the person's id, so the connected-clients page can list them and a revoke, or a sign-out,
// can end them. oidc-provider stores grants by their id alone and has no lookup by account.
//
// The note is a set member (one atomic command, so two approvals at once both count), sealed
// with a key from the session secret: the set's name shows the person's id and how many
// notes it holds, its members no grant, client or redirect URI. A grant that ended (revoked,
// expired) is skipped when listed; past a few members, an approval prunes the notes of
// ended grants, and a person holds at most MAX_GRANTS live grants (the oldest end).
// When a client last got tokens (code or refresh) is kept per grant, under its id's hash.
import type { KeyValueStore } from "../../session/key-value.ts";
import { SecretBox } from "../../session/secret-box.ts";
import { sealedName } from "./storage-adapter.ts";

/** One approval: the grant the consent step made, and what the person saw on the page. */
export interface GrantNote {
  grantId: string;
  clientId: string;
  clientName: string | undefined;
  redirectUri: string;
  /** Epoch milliseconds. */
  approvedAt: number;
}

/** A connected client as the page shows it: its live grants of this person, together. */
export interface ConnectedClient {
  clientId: string;
  clientName: string | undefined;
  redirectUris: string[];
  /** The latest approval, epoch milliseconds. */
  approvedAt: number;
  /** When it last got tokens, epoch milliseconds, if known. */
  lastUsedAt: number | undefined;
  /** Its live grants; none for a client approved but not connected now (after a sign-out). */
  grantIds: string[];
  /** Named in mcp_auth.server.preapproved_clients: it connects without asking. */
  preapproved?: boolean;
}

export interface UserGrantsOptions {
  store: KeyValueStore;
  /** The session secrets, the current one first. */
  secrets: string[];
  /** How long a note is kept past the person's latest approval (the grant's life). */
  ttlSeconds: number;
  /** Whether the grant is live and belongs to this person (the provider's record). */
  isLiveGrantOf: (grantId: string, accountId: string) => Promise<boolean>;
  /** Ends a grant and every token issued under it. */
  endGrant: (grantId: string) => Promise<void>;
  now?: () => number;
}

export class UserGrants {
  readonly #options: UserGrantsOptions;
  readonly #box: SecretBox;
  readonly #now: () => number;

  constructor(options: UserGrantsOptions) {
    this.#options = options;
    this.#box = new SecretBox(options.secrets, "user-grants");
    this.#now = options.now ?? Date.now;
  }

  /**
   * Notes a grant the consent step made for `accountId`. Every authorization makes one (an
   * approved client re-authorizing too), so past PRUNE_ABOVE members the set is pruned.
   */
  async add(accountId: string, note: Omit<GrantNote, "approvedAt">): Promise<void> {
    const sealed = await this.#box.seal(JSON.stringify({ ...note, approvedAt: this.#now() }));
    await this.#options.store.addToSet(indexKey(accountId), sealed, this.#options.ttlSeconds);
    const members = await this.#options.store.members(indexKey(accountId));
    if (members.length > PRUNE_ABOVE) await this.#prune(accountId, members);
  }

  /**
   * Takes the notes of ended grants off the set, then ends the oldest grants beyond
   * MAX_GRANTS. SREM is one command: a note added meanwhile is another member, and stays.
   */
  async #prune(accountId: string, members: string[]): Promise<void> {
    const { store } = this.#options;
    const live: { member: string; note: GrantNote }[] = [];
    for (const member of members) {
      const note = await this.#open(member);
      if (note && (await this.#options.isLiveGrantOf(note.grantId, accountId))) live.push({ member, note });
      else await store.removeFromSet(indexKey(accountId), member);
    }
    live.sort((a, b) => a.note.approvedAt - b.note.approvedAt);
    for (const { member, note } of live.slice(0, Math.max(0, live.length - MAX_GRANTS))) {
      await this.#options.endGrant(note.grantId);
      await store.delete(usedKey(note.grantId));
      await store.removeFromSet(indexKey(accountId), member);
    }
  }

  async #open(member: string): Promise<GrantNote | undefined> {
    const text = await this.#box.open(member);
    return text === undefined ? undefined : (JSON.parse(text) as GrantNote);
  }

  /** A client got tokens under the grant (a code redeemed, a refresh). */
  async used(grantId: string): Promise<void> {
    await this.#options.store.set(usedKey(grantId), String(this.#now()), this.#options.ttlSeconds);
  }

  /** The person's live grants, one entry per client, the latest approval first. */
  async clients(accountId: string): Promise<ConnectedClient[]> {
    const byClient = new Map<string, ConnectedClient>();
    for (const note of await this.#liveNotes(accountId)) {
      const used = await this.#options.store.get(usedKey(note.grantId));
      const lastUsed = used === undefined ? undefined : Number(used);
      const known = byClient.get(note.clientId);
      if (!known) {
        byClient.set(note.clientId, {
          clientId: note.clientId,
          clientName: note.clientName,
          redirectUris: [note.redirectUri],
          approvedAt: note.approvedAt,
          lastUsedAt: lastUsed,
          grantIds: [note.grantId],
        });
        continue;
      }
      known.grantIds.push(note.grantId);
      if (!known.redirectUris.includes(note.redirectUri)) known.redirectUris.push(note.redirectUri);
      if (note.approvedAt > known.approvedAt) {
        known.approvedAt = note.approvedAt;
        known.clientName = note.clientName ?? known.clientName;
      }
      if (lastUsed !== undefined && lastUsed > (known.lastUsedAt ?? 0)) known.lastUsedAt = lastUsed;
    }
    return [...byClient.values()].sort((a, b) => b.approvedAt - a.approvedAt);
  }

  /**
   * Ends the person's grants of `clientId`, or of every client when it is undefined, and
   * returns what ended (nothing: the person has no such client; nothing changed).
   */
  async end(accountId: string, clientId?: string): Promise<GrantNote[]> {
    const notes = await this.#liveNotes(accountId);
    const ended = notes.filter((note) => clientId === undefined || note.clientId === clientId);
    for (const note of ended) {
      await this.#options.endGrant(note.grantId);
      await this.#options.store.delete(usedKey(note.grantId));
    }
    return ended;
  }

  /** The notes of grants still live and still this person's (never another's, whatever the set holds). */
  async #liveNotes(accountId: string): Promise<GrantNote[]> {
    const notes: GrantNote[] = [];
    for (const member of await this.#options.store.members(indexKey(accountId))) {
      const note = await this.#open(member);
      if (note && (await this.#options.isLiveGrantOf(note.grantId, accountId))) notes.push(note);
    }
    return notes;
  }
}

/** Past this many notes, adding one prunes the set (ended grants' notes go). */
const PRUNE_ABOVE = 20;
/**
 * Most live grants one person holds: beyond, a new authorization ends the oldest. A person
 * has a few clients, each re-authorizing now and then; this bounds a loop of them.
 */
export const MAX_GRANTS = 100;

const indexKey = (accountId: string) => `grants-of:${accountId}`;
const usedKey = (grantId: string) => `grant-used:${sealedName(grantId)}`;
