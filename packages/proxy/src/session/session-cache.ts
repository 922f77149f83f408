// A short-lived in-process cache of sessions read from the store, so an active session
// costs neither a Redis round trip nor a cookie signature check on every request. Keyed by
// the signed cookie value; bounded in size and age (ttl-cache.ts): a session ended on another
// replica is honoured here within `ttlMs` (on this replica at once).
import type { SessionData } from "express-session";
import { TtlCache, type TtlCacheOptions } from "../ttl-cache.ts";

export class SessionCache {
  readonly #entries: TtlCache<{ id: string; data: SessionData }>;

  constructor(options: TtlCacheOptions) {
    this.#entries = new TtlCache(options);
  }

  /** The session id and data cached under a signed cookie value. */
  get(cookieValue: string): { id: string; data: SessionData } | undefined {
    return this.#entries.get(cookieValue);
  }

  set(cookieValue: string, id: string, data: SessionData): void {
    this.#entries.set(cookieValue, { id, data });
  }

  /** Forgets every entry of a session (sign-out, refused refresh). */
  delete(id: string): void {
    this.#entries.deleteWhere((entry) => entry.id === id);
  }
}
