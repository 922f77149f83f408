// Ends open event streams and upgraded connections (WebSockets) whose credential has ended (a
// revoked MCP client, a sign-out, an expired session or token): a request with that credential
// is refused at once, and a stream admitted with it must not flow on. One sweep for all of
// them, every RECHECK interval, asks the authenticator again about each one's request, the
// same path (and caches) a new request takes, so a sweep costs no store round trip while the
// caches hold the answer; at most SWEEP_CONCURRENCY checks wait for one at a time, so a sweep
// after the caches expired reads the store at that pace, not all at once. A refused one is
// ended (an event stream cleanly, an upgraded connection by destroying its sockets). A check
// that fails (store or provider unreachable) leaves it open: see
// docs/decisions/042-streams-end-with-their-credential.md and 043-upgrades-end-with-their-credential.md.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthResult } from "../auth/authenticator.ts";
import type { Logger } from "../observability/logger.ts";
import { requestPath } from "../request-path.ts";
import type { OpenUpgrade } from "./forwarder.ts";

/** The least time between sweeps: below it a sweep would only ask the caches again. */
export const MIN_RECHECK_MS = 2_000;

/** Checks of one sweep waiting for an answer (a store read, a refresh) at the same time, at most. */
export const SWEEP_CONCURRENCY = 16;

/** The time between sweeps: a credential ended elsewhere is seen here after session.cache_ttl. */
export function recheckInterval(sessionCacheTtlMs: number): number {
  return Math.max(sessionCacheTtlMs, MIN_RECHECK_MS);
}

export interface StreamRecheckOptions {
  /** The event streams being relayed (Forwarder.openStreams). */
  streams: ReadonlySet<ServerResponse>;
  /** The upgraded connections being relayed (Forwarder.openUpgrades). */
  upgrades: ReadonlySet<OpenUpgrade>;
  /** The authenticator's answer for a request as a new one would get it. */
  authenticate: (req: IncomingMessage, path: string) => AuthResult | Promise<AuthResult>;
  intervalMs: number;
  logger: Logger;
}

/** What a sweep checks: an event stream or an upgraded connection, as one shape. */
interface Held {
  req: IncomingMessage;
  kind: "streams" | "upgrades";
  /** Over already (nothing to check or end). */
  over(): boolean;
  end(): void;
}

function heldStream(res: ServerResponse): Held {
  return {
    req: res.req,
    kind: "streams",
    over: () => res.writableEnded || res.destroyed,
    // Cleanly, as at shutdown: the client sees its stream end and may reconnect.
    end: () => res.end(),
  };
}

function heldUpgrade(upgrade: OpenUpgrade): Held {
  return { req: upgrade.req, kind: "upgrades", over: () => upgrade.over, end: () => upgrade.end() };
}

const ENDED_MESSAGES = {
  streams: "an event stream was ended: its credential was refused",
  upgrades: "an upgraded connection (WebSocket) was ended: its credential was refused",
};

export class StreamRecheck {
  readonly #options: StreamRecheckOptions;
  readonly #timer: NodeJS.Timeout;
  /** A sweep still waiting for answers: the next one is skipped, so sweeps never pile up. */
  #sweeping = false;
  /** Checks of this sweep that could not be answered: logged once per sweep, not per stream. */
  #unanswered = { streams: 0, upgrades: 0 };
  #lastError = "";

  constructor(options: StreamRecheckOptions) {
    this.#options = options;
    this.#timer = setInterval(() => void this.sweep(), options.intervalMs);
    this.#timer.unref();
  }

  /** Checks everything open once, SWEEP_CONCURRENCY at a time at most; resolves when each has its answer. */
  async sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      // A copy: ending one removes it from its set; and what opens during the sweep waits for the next.
      const held = [...[...this.#options.streams].map(heldStream), ...[...this.#options.upgrades].map(heldUpgrade)];
      let next = 0;
      // Each worker takes the next one; answers found at once (caches) cost no turn.
      const worker = async () => {
        while (next < held.length) {
          const checked = this.#check(held[next++] as Held);
          if (checked) await checked;
        }
      };
      await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, held.length) }, worker));
      this.#reportUnanswered();
    } finally {
      this.#unanswered = { streams: 0, upgrades: 0 };
      this.#sweeping = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Undefined when answered at once (a public path, a cached session or token) or over already. */
  #check(held: Held): Promise<void> | undefined {
    if (held.over()) return undefined;
    let result: AuthResult | Promise<AuthResult>;
    try {
      result = this.#options.authenticate(held.req, requestPath(held.req.url ?? "/"));
    } catch (error) {
      this.#unchecked(held, error);
      return undefined;
    }
    if (!(result instanceof Promise)) {
      this.#judge(held, result);
      return undefined;
    }
    return result.then(
      (answer) => this.#judge(held, answer),
      (error: unknown) => this.#unchecked(held, error),
    );
  }

  #judge(held: Held, result: AuthResult): void {
    if (result.kind === "allowed" || held.over()) return;
    this.#options.logger.info(ENDED_MESSAGES[held.kind], { reason: result.error.code });
    held.end();
  }

  /** The credential could not be checked (an outage): it stays open until a check answers. */
  #unchecked(held: Held, error: unknown): void {
    this.#unanswered[held.kind]++;
    // A 503's own message says only that a dependency is down; its cause says which and why.
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
    this.#lastError = error instanceof Error ? `${error.message}${cause}` : String(error);
  }

  #reportUnanswered(): void {
    const { streams, upgrades } = this.#unanswered;
    if (streams + upgrades === 0) return;
    this.#options.logger.warn("open event streams' and upgrades' credentials could not be checked; they stay open", {
      streams,
      upgrades,
      error: this.#lastError,
    });
  }
}
