// A short-lived in-process cache of sessions read from the store, so an active session
// costs neither a Redis round trip nor a cookie signature check on every request. Keyed by
// the signed cookie value; bounded in size and age (ttl-cache.ts): a session ended on another
// replica is honoured here within `ttlMs` (on this replica at once). A session being read is
// read once: requests (and the stream re-check's sweep over streams of one browser) asking
// for it meanwhile share that read.
import type { SessionData } from "express-session";
import { TtlCache, type TtlCacheOptions } from "../ttl-cache.ts";

type Cached = { id: string; data: SessionData };

export class SessionCache {
  readonly #entries: TtlCache<Cached>;
  /** Reads under way, by cookie value; forgetting a session drops them, so what they find is not kept. */
  readonly #reading = new Map<string, Promise<Cached | undefined>>();

  constructor(options: TtlCacheOptions) {
    this.#entries = new TtlCache(options);
  }

  /** The session id and data cached under a signed cookie value. */
  get(cookieValue: string): Cached | undefined {
    return this.#entries.get(cookieValue);
  }

  set(cookieValue: string, id: string, data: SessionData): void {
    this.#entries.set(cookieValue, { id, data });
  }

  /**
   * The session under a cookie value: cached, else the read of it under way, else `read()`,
   * whose session (when it finds one) is kept. A read that rejects keeps nothing; its callers
   * all get its error.
   */
  load(cookieValue: string, read: () => Promise<Cached | undefined>): Promise<Cached | undefined> {
    const cached = this.get(cookieValue);
    if (cached) return Promise.resolve(cached);
    const underWay = this.#reading.get(cookieValue);
    if (underWay) return underWay;
    const reading = read()
      .then((found) => {
        // Not when forgotten meanwhile (a sign-out): the read may have found what came before.
        if (found && this.#reading.get(cookieValue) === reading) this.set(cookieValue, found.id, found.data);
        return found;
      })
      .finally(() => {
        if (this.#reading.get(cookieValue) === reading) this.#reading.delete(cookieValue);
      });
    this.#reading.set(cookieValue, reading);
    return reading;
  }

  /** Forgets every entry of a session (sign-out, refused refresh), and every read under way. */
  delete(id: string): void {
    this.#entries.deleteWhere((entry) => entry.id === id);
    this.#reading.clear();
  }
}
