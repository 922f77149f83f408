// A work queue of reconcile keys ("namespace/name"), as controller-runtime's: a key queued
// several times is processed once; a key is never processed by two workers at once (a key
// added while it is processed is processed again afterwards); failures are retried after
// the larger of a per-key exponential backoff and an overall rate limit (so a storm of
// failures cannot hammer the API server), while fresh work is never delayed. Time is
// injected so tests need not sleep.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

export interface WorkQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Overall pace of retries: at most this many per second (token bucket, `burst` deep). */
  ratePerSecond?: number;
  burst?: number;
  clock?: Clock;
}

export class WorkQueue {
  readonly #ready: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #delayed = new Map<string, { cancel(): void; at: number }>();
  readonly #waiters: (() => void)[] = [];
  readonly #baseDelay: number;
  readonly #maxDelay: number;
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #lastRefill: number;
  #shutDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelay = options.baseDelayMs ?? 100;
    this.#maxDelay = options.maxDelayMs ?? 5 * 60_000;
    this.#rate = options.ratePerSecond ?? 10;
    this.#burst = options.burst ?? 100;
    this.#clock = options.clock ?? systemClock;
    this.#tokens = this.#burst;
    this.#lastRefill = this.#clock.now();
  }

  get depth(): number {
    return this.#ready.length;
  }

  add(key: string): void {
    if (this.#shutDown) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#ready.push(key);
    this.#waiters.shift()?.();
  }

  /** Adds the key after `ms`; an earlier pending delay for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shutDown) return;
    const at = this.#clock.now() + ms;
    const pending = this.#delayed.get(key);
    if (pending && pending.at <= at) return;
    pending?.cancel();
    const timer = this.#clock.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { cancel: timer.cancel, at });
  }

  /**
   * Retries the key after its backoff (100 ms, 200 ms, 400 ms … up to the maximum, or the
   * lower `maxDelayMs` given for this kind of failure) or the rate limit.
   */
  retry(key: string, maxDelayMs = this.#maxDelay): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    const cap = Math.min(maxDelayMs, this.#maxDelay);
    const delay = Math.max(Math.min(this.#baseDelay * 2 ** (failures - 1), cap), this.#rateDelay());
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded (or failed for good): its backoff starts over. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** The next key to process, or undefined once shut down. Call done(key) afterwards. */
  async next(): Promise<string | undefined> {
    for (;;) {
      if (this.#shutDown) return undefined;
      const key = this.#ready.shift();
      if (key !== undefined) {
        this.#queued.delete(key);
        this.#processing.add(key);
        return key;
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.#shutDown = true;
    for (const pending of this.#delayed.values()) pending.cancel();
    this.#delayed.clear();
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** How long until the overall bucket has a token for one more retry (0 when it has one now). */
  #rateDelay(): number {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#lastRefill) / 1000) * this.#rate);
    this.#lastRefill = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#rate) * 1000);
  }
}
