// How readiness probes and scrapes ask the session store something: one question at a time,
// waited for briefly. A Redis that stops answering (paused, overloaded) would otherwise hold
// every probe and every scrape until session.store_timeout, or longer (kubelet gives a probe
// 1 s by default and then counts it failed anyway), and queue one more command behind the
// others with each. So a probe answers from what the proxy has: the store's answer if it
// comes soon, else "not answering" (503) or the last session count (the scrape).

/** A probe waits for the store at most this long (less when session.store_timeout is shorter): half the kubelet's shortest probe timeout. */
export const PROBE_WAIT_MS = 500;

export class StoreQuestion<T> {
  readonly #ask: () => Promise<T>;
  readonly #waitMs: number;
  /** The question asked and not yet answered (shared by every probe meanwhile); settles with undefined on failure. */
  #pending: Promise<T | undefined> | undefined;
  #askedAt = 0;
  /** The latest answer the store gave, however late it came. */
  last: T | undefined;

  /** `ask` must settle (a deadline of its own): until it does, it is not asked again. */
  constructor(ask: () => Promise<T>, waitMs: number) {
    this.#ask = ask;
    this.#waitMs = waitMs;
  }

  /** The store's answer, when it comes within the wait of the question being asked; undefined when late or failed. */
  answer(): Promise<T | undefined> {
    if (!this.#pending) {
      this.#askedAt = Date.now();
      this.#pending = this.#ask()
        .then(
          (value) => {
            this.last = value;
            return value;
          },
          () => undefined,
        )
        .finally(() => {
          this.#pending = undefined;
        });
    }
    // A question still pending from an earlier probe has used up (part of) the wait already.
    const left = this.#askedAt + this.#waitMs - Date.now();
    if (left <= 0) return Promise.resolve(undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, left, undefined);
    });
    return Promise.race([this.#pending, late]).finally(() => clearTimeout(timer));
  }
}
