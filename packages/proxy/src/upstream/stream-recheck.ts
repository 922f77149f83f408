// Ends open event streams whose credential has ended (a revoked MCP client, a sign-out, an
// expired session or token): a request with that credential is refused at once, and a stream
// admitted with it must not flow on. One sweep for all streams, every RECHECK interval, asks
// the authenticator again about each stream's request, the same path (and caches) a new
// request takes, so a sweep costs no store round trip while the caches hold the answer; a
// refused one ends the response (the client sees its stream close). A check that fails
// (store or provider unreachable) leaves the stream open: see docs/decisions/042-streams-end-with-their-credential.md.
import type { ServerResponse } from "node:http";
import type { AuthResult } from "../auth/authenticator.ts";
import type { Logger } from "../observability/logger.ts";
import { requestPath } from "../request-path.ts";

/** The least time between sweeps: below it a sweep would only ask the caches again. */
export const MIN_RECHECK_MS = 2_000;

/** The time between sweeps: a credential ended elsewhere is seen here after session.cache_ttl. */
export function recheckInterval(sessionCacheTtlMs: number): number {
  return Math.max(sessionCacheTtlMs, MIN_RECHECK_MS);
}

export interface StreamRecheckOptions {
  /** The event streams being relayed (Forwarder.openStreams). */
  streams: ReadonlySet<ServerResponse>;
  /** The authenticator's answer for a request as a new one would get it. */
  authenticate: (req: ServerResponse["req"], path: string) => AuthResult | Promise<AuthResult>;
  intervalMs: number;
  logger: Logger;
}

export class StreamRecheck {
  readonly #options: StreamRecheckOptions;
  readonly #timer: NodeJS.Timeout;
  /** A sweep still waiting for answers: the next one is skipped, so sweeps never pile up. */
  #sweeping = false;
  /** Checks of this sweep that could not be answered: logged once per sweep, not per stream. */
  #unanswered = 0;
  #lastError = "";

  constructor(options: StreamRecheckOptions) {
    this.#options = options;
    this.#timer = setInterval(() => void this.sweep(), options.intervalMs);
    this.#timer.unref();
  }

  /** Checks every open stream once; resolves when each has its answer. */
  async sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const pending: Promise<void>[] = [];
      // A copy: ending a stream removes it from the set.
      for (const res of [...this.#options.streams]) {
        const checked = this.#check(res);
        if (checked) pending.push(checked);
      }
      await Promise.all(pending);
      if (this.#unanswered > 0) {
        this.#options.logger.warn("open event streams' credentials could not be checked; they stay open", {
          streams: this.#unanswered,
          error: this.#lastError,
        });
      }
    } finally {
      this.#unanswered = 0;
      this.#sweeping = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Undefined when answered at once (a public path, a cached session or token). */
  #check(res: ServerResponse): Promise<void> | undefined {
    let result: AuthResult | Promise<AuthResult>;
    try {
      result = this.#options.authenticate(res.req, requestPath(res.req.url ?? "/"));
    } catch (error) {
      this.#unchecked(error);
      return undefined;
    }
    if (!(result instanceof Promise)) {
      this.#judge(res, result);
      return undefined;
    }
    return result.then(
      (answer) => this.#judge(res, answer),
      (error: unknown) => this.#unchecked(error),
    );
  }

  #judge(res: ServerResponse, result: AuthResult): void {
    if (result.kind === "allowed" || res.writableEnded || res.destroyed) return;
    this.#options.logger.info("an event stream was ended: its credential was refused", {
      reason: result.error.code,
    });
    res.end();
  }

  /** The credential could not be checked (an outage): the stream stays open until a check answers. */
  #unchecked(error: unknown): void {
    this.#unanswered++;
    this.#lastError = error instanceof Error ? error.message : String(error);
  }
}
