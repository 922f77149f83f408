// Periodic probe of the MCP server behind mcp_proxy_backend_up and /health. Any HTTP answer,
// whatever its status, means the server is reachable: an MCP server without a /health
// route is not down. Only a failed connection or a timeout is.

export type BackendStatus = "reachable" | "unreachable" | "unknown";

export class HealthProbe {
  #status: BackendStatus = "unknown";
  #timer: NodeJS.Timeout | undefined;
  readonly #url: URL | undefined;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #onResult: (reachable: boolean) => void;

  constructor(options: {
    url: URL | undefined;
    intervalMs: number;
    timeoutMs: number;
    onResult: (reachable: boolean) => void;
  }) {
    this.#url = options.url;
    this.#intervalMs = options.intervalMs;
    this.#timeoutMs = options.timeoutMs;
    this.#onResult = options.onResult;
  }

  get status(): BackendStatus {
    return this.#status;
  }

  start(): void {
    if (!this.#url) return;
    void this.probe();
    this.#timer = setInterval(() => void this.probe(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async probe(): Promise<BackendStatus> {
    if (!this.#url) return this.#status;
    try {
      const response = await fetch(this.#url, { signal: AbortSignal.timeout(this.#timeoutMs), redirect: "manual" });
      await response.body?.cancel();
      this.#status = "reachable";
    } catch {
      this.#status = "unreachable";
    }
    this.#onResult(this.#status === "reachable");
    return this.#status;
  }
}
