// A pure function's results remembered for the inputs clients send again and again (a
// browser's Cookie header, an HTTP+SSE request target), so the parse runs once per input,
// not per request. Bounded without bookkeeping per hit: inputs longer than `maxKeyLength`
// are computed each time, and once `maxEntries` are held the memory starts over. A result is
// never wrong, only recomputed. (What expires belongs to ttl-cache.ts.)

export interface BoundedMemoOptions {
  maxEntries: number;
  maxKeyLength: number;
}

export class BoundedMemo<V> {
  readonly #compute: (key: string) => V;
  readonly #options: BoundedMemoOptions;
  readonly #results = new Map<string, V>();

  constructor(compute: (key: string) => V, options: BoundedMemoOptions) {
    this.#compute = compute;
    this.#options = options;
  }

  get(key: string): V {
    if (this.#results.has(key)) return this.#results.get(key) as V;
    const result = this.#compute(key);
    if (key.length > this.#options.maxKeyLength) return result;
    if (this.#results.size >= this.#options.maxEntries) this.#results.clear();
    this.#results.set(key, result);
    return result;
  }
}
