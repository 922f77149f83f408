// The one in-process cache of the proxy (sessions read from the store, verified bearer tokens,
// MCP session owners): entries live at most `ttlMs` (or until their own earlier expiry), the
// cache holds at most `maxEntries` and drops the oldest entry first when full. A ttlMs of 0
// caches nothing. A value being loaded is loaded once: callers asking for it meanwhile share
// that load (streams sharing one token, rechecked together, cost one store lookup). The clock
// is injectable, so tests need no waiting.

export interface TtlCacheOptions {
  ttlMs: number;
  maxEntries?: number;
  now?: () => number;
}

export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; until: number }>();
  /** Loads under way (getOrLoad), by key; a delete drops them, so what they find is not kept. */
  readonly #loading = new Map<string, Promise<V>>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: TtlCacheOptions) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Keeps `value` for the TTL, or until `expiresAt` (epoch ms) when that comes first. */
  set(key: string, value: V, expiresAt = Number.POSITIVE_INFINITY): void {
    if (this.#ttlMs <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest entry.
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { value, until: Math.min(this.#now() + this.#ttlMs, expiresAt) });
  }

  /**
   * The cached value, else the load of it under way, else a new load whose value is kept
   * until its `expiresAt` (epoch ms) at most. A load that rejects keeps nothing; its callers
   * all get its error.
   */
  getOrLoad(key: string, load: () => Promise<{ value: V; expiresAt?: number }>): Promise<V> {
    const cached = this.get(key);
    if (cached !== undefined) return Promise.resolve(cached);
    const underWay = this.#loading.get(key);
    if (underWay) return underWay;
    const loading: Promise<V> = load()
      .then(({ value, expiresAt }) => {
        // Not when deleted meanwhile (a revoke): the load may have read what came before it.
        if (this.#loading.get(key) === loading) this.set(key, value, expiresAt);
        return value;
      })
      .finally(() => {
        if (this.#loading.get(key) === loading) this.#loading.delete(key);
      });
    this.#loading.set(key, loading);
    return loading;
  }

  delete(key: string): void {
    this.#entries.delete(key);
    this.#loading.delete(key);
  }

  /** Forgets every entry whose value matches (a session or grant that ended): rare, so a scan is fine. */
  deleteWhere(matches: (value: V) => boolean): void {
    for (const [key, entry] of this.#entries) if (matches(entry.value)) this.#entries.delete(key);
    // A load under way has no value to match yet: none of them is kept.
    this.#loading.clear();
  }
}
