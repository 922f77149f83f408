// A short-lived in-process cache of sessions read from the store, so an active session
// costs neither a Redis round trip nor a cookie signature check on every request. Keyed by
// the signed cookie value; bounded in size and age: a session ended on another replica is
// honoured here within `ttlMs` (on this replica at once).
import type { SessionData } from "express-session";

interface Entry {
  id: string;
  data: SessionData;
  storedAt: number;
}

export class SessionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { ttlMs: number; maxEntries?: number; now?: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** The session id and data cached under a signed cookie value. */
  get(cookieValue: string): { id: string; data: SessionData } | undefined {
    const entry = this.#entries.get(cookieValue);
    if (!entry) return undefined;
    if (this.#now() - entry.storedAt >= this.#ttlMs) {
      this.#entries.delete(cookieValue);
      return undefined;
    }
    return entry;
  }

  set(cookieValue: string, id: string, data: SessionData): void {
    if (this.#ttlMs <= 0) return;
    this.#entries.delete(cookieValue);
    if (this.#entries.size >= this.#maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest entry.
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(cookieValue, { id, data, storedAt: this.#now() });
  }

  /** Forgets every entry of a session (sign-out, refused refresh): rare, so a scan is fine. */
  delete(id: string): void {
    for (const [key, entry] of this.#entries) if (entry.id === id) this.#entries.delete(key);
  }
}
