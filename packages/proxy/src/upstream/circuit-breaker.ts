// A circuit breaker for the one upstream: after N consecutive connection failures it opens
// and requests fail fast with 503 for reset_timeout; then one trial request is let through
// (half-open) and its outcome closes or re-opens the circuit. Time is injected for tests.

export type CircuitState = "closed" | "open" | "half-open";

export class CircuitBreaker {
  #state: CircuitState = "closed";
  #failures = 0;
  #openedAt = 0;
  #trialInFlight = false;
  readonly #threshold: number;
  readonly #resetMs: number;
  readonly #now: () => number;
  readonly #onChange: (state: CircuitState) => void;

  constructor(options: {
    failureThreshold: number;
    resetTimeoutMs: number;
    now?: () => number;
    onChange?: (state: CircuitState) => void;
  }) {
    this.#threshold = options.failureThreshold;
    this.#resetMs = options.resetTimeoutMs;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange ?? (() => {});
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** Whether a request may go upstream now. In half-open state only one trial at a time. */
  allowRequest(): boolean {
    if (this.#state === "closed") return true;
    if (this.#state === "open" && this.#now() - this.#openedAt >= this.#resetMs) this.#set("half-open");
    if (this.#state === "half-open" && !this.#trialInFlight) {
      this.#trialInFlight = true;
      return true;
    }
    return false;
  }

  recordSuccess(): void {
    this.#failures = 0;
    this.#trialInFlight = false;
    if (this.#state !== "closed") this.#set("closed");
  }

  recordFailure(): void {
    this.#trialInFlight = false;
    this.#failures += 1;
    if (this.#state === "half-open" || this.#failures >= this.#threshold) {
      this.#openedAt = this.#now();
      if (this.#state !== "open") this.#set("open");
    }
  }

  #set(state: CircuitState): void {
    this.#state = state;
    this.#onChange(state);
  }
}
