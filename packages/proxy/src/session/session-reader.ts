// Reads the signed-in session of a request straight from the store, for the proxied hot
// path: the same cookie, signature and store as express-session (which still writes
// sessions at sign-in), without express-session's per-request bookkeeping.
import type { IncomingMessage } from "node:http";
import { parse as parseCookies } from "cookie";
import { unsign } from "cookie-signature";
import type { SessionData, Store } from "express-session";
import { BoundedMemo } from "../bounded-memo.ts";
import type { SessionCache } from "./session-cache.ts";

/** Cookie headers remembered with their session cookie's value, up to this length each. */
const HEADERS = { maxEntries: 1_000, maxKeyLength: 1_024 };

export interface StoredSession {
  id: string;
  data: SessionData;
  /** The signed cookie value it was read with (the cache key). */
  cookieValue?: string;
}

export class SessionReader {
  readonly #cookieName: string;
  readonly #secrets: readonly string[];
  readonly #store: Store;
  readonly #cache: SessionCache | undefined;
  /** The session cookie's value in each Cookie header seen lately (what the cache is keyed by, found again). */
  readonly #valuesByHeader = new BoundedMemo((header) => this.#signedValue(header), HEADERS);

  constructor(options: { cookieName: string; secrets: readonly string[]; store: Store; cache?: SessionCache }) {
    this.#cookieName = options.cookieName;
    this.#secrets = options.secrets;
    this.#store = options.store;
    this.#cache = options.cache;
  }

  #cookieValue(req: IncomingMessage): string | undefined {
    const header = req.headers.cookie;
    if (!header?.includes(this.#cookieName)) return undefined;
    // A browser sends the same header with each request: parsed once, remembered (bounded).
    return this.#valuesByHeader.get(header);
  }

  /** The session cookie's value in a Cookie header, when it has the signed form. */
  #signedValue(header: string): string | undefined {
    const parsed = parseCookies(header)[this.#cookieName];
    return parsed?.startsWith("s:") ? parsed : undefined;
  }

  /** The session id of a validly signed cookie (express-session's "s:<id>.<hmac>"), else undefined. */
  #verify(cookieValue: string): string | undefined {
    for (const secret of this.#secrets) {
      const id = unsign(cookieValue.slice(2), secret);
      if (id !== false) return id;
    }
    return undefined;
  }

  hasCookie(req: IncomingMessage): boolean {
    return req.headers.cookie?.includes(`${this.#cookieName}=`) ?? false;
  }

  /** The session when the cache holds it (no promise: the hot path), else undefined: read() it. */
  cached(req: IncomingMessage): StoredSession | undefined {
    const cookieValue = this.#cookieValue(req);
    if (cookieValue === undefined) return undefined;
    const cached = this.#cache?.get(cookieValue);
    return cached ? { id: cached.id, data: cached.data, cookieValue } : undefined;
  }

  /** Rejects when the store cannot answer: callers fail closed. */
  read(req: IncomingMessage): Promise<StoredSession | undefined> {
    const cookieValue = this.#cookieValue(req);
    if (cookieValue === undefined) return Promise.resolve(undefined);
    const fromStore = () => this.#fromStore(cookieValue);
    const found = this.#cache ? this.#cache.load(cookieValue, fromStore) : fromStore();
    return found.then((session) => (session ? { ...session, cookieValue } : undefined));
  }

  /** The session a cookie value names, from the store; undefined when unsigned or gone. */
  #fromStore(cookieValue: string): Promise<{ id: string; data: SessionData } | undefined> {
    const id = this.#verify(cookieValue);
    if (id === undefined) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.#store.get(id, (err, data) => (err ? reject(err) : resolve(data ? { id, data } : undefined)));
    });
  }

  save(session: StoredSession): Promise<void> {
    if (session.cookieValue) this.#cache?.set(session.cookieValue, session.id, session.data);
    return new Promise((resolve, reject) =>
      this.#store.set(session.id, session.data, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Ends a session everywhere; also called by sign-out so this replica forgets it at once. */
  destroy(id: string): Promise<void> {
    this.#cache?.delete(id);
    return new Promise((resolve, reject) => this.#store.destroy(id, (err) => (err ? reject(err) : resolve())));
  }

  /** Forgets a cached session without touching the store (express-session destroyed it). */
  forget(id: string): void {
    this.#cache?.delete(id);
  }
}
