// Event streams each user holds open, so that one user cannot take an instance's streams
// (and with them its upstream connections) from everybody else: past target.max_streams_per_user
// a request that could open one more is refused with 429. Requests without a user (public paths) count per client
// address. One count per key; a key leaves the map when its last stream closes.

export class StreamLimit {
  readonly #max: number;
  readonly #open = new Map<string, number>();

  /** `max` 0: no limit. */
  constructor(max: number) {
    this.#max = max;
  }

  /** Whether `key` holds fewer streams than the maximum. */
  hasRoom(key: string): boolean {
    return this.#max === 0 || (this.#open.get(key) ?? 0) < this.#max;
  }

  /** Takes a slot for `key`; false when the key already holds the maximum. */
  acquire(key: string): boolean {
    if (!this.hasRoom(key)) return false;
    this.add(key);
    return true;
  }

  /** Counts a stream that is open already (a POST answered with one), even past the maximum. */
  add(key: string): void {
    this.#open.set(key, (this.#open.get(key) ?? 0) + 1);
  }

  release(key: string): void {
    const open = this.#open.get(key) ?? 0;
    if (open <= 1) this.#open.delete(key);
    else this.#open.set(key, open - 1);
  }
}
