// The HTTP+SSE (2024-11-05) event streams this replica relays, by the address their
// `endpoint` event handed out: where the proxy sends its own answer to a message POST it does
// not forward (a denial), since such a client reads answers only from its stream, never from
// the POST (docs/decisions/049). The answer goes in as `message` events between the
// upstream's events (stream-filter.ts). Bounded by the open streams: each leaves as it closes;
// and what one stream holds for its client is bounded (OWN_EVENTS_WAITING_BYTES, and the
// filter's mcp_policy.max_list_size): past it, the POST is answered 403 as where no stream is
// relayed (docs/decisions/052).
import type { ServerResponse } from "node:http";
import { legacyAddressOf } from "../upstream/mcp-session-binding.ts";
import type { EventFilter } from "./stream-filter.ts";

/**
 * The most the proxy's own events may leave waiting for one client that does not read: a
 * denial is a few hundred bytes, so this is hundreds of them; and a user holds up to
 * target.max_streams_per_user streams (100), so one user parks ~25 MiB at most, where
 * max_list_size (8 MiB) a stream let one user park ~800 MiB (a review of decision 052).
 */
export const OWN_EVENTS_WAITING_BYTES = 256 * 1024;

interface Relayed {
  res: ServerResponse;
  filter: EventFilter;
}

export class LegacyStreams {
  readonly #streams = new Map<string, Relayed>();

  /** The stream answered on `res`, relayed through `filter`, announced `address`. */
  add(address: string, res: ServerResponse, filter: EventFilter): void {
    // Keyed as the session binding keys the address: the POST's target, in any spelling, finds it.
    const key = legacyAddressOf(address)?.key;
    if (key === undefined || res.destroyed) return;
    const relayed = { res, filter };
    this.#streams.set(key, relayed);
    res.once("close", () => {
      if (this.#streams.get(key) === relayed) this.#streams.delete(key);
    });
  }

  /**
   * Sends `messages` (JSON-RPC answers) on the stream that announced the address `url` (a
   * message POST's target); false when this replica relays no such stream (it may be another's)
   * or its client is not reading: what waits for it (written but unsent, as the relay leaves it
   * on backpressure, plus events kept by the filter) would pass the filter's limit.
   */
  send(url: string, messages: unknown[]): boolean {
    const key = legacyAddressOf(url)?.key;
    const relayed = key === undefined ? undefined : this.#streams.get(key);
    if (!relayed || relayed.res.writableEnded || relayed.res.destroyed) return false;
    const events = Buffer.from(
      messages.map((message) => `event: message\ndata: ${JSON.stringify(message)}\n\n`).join(""),
    );
    if (relayed.res.writableLength + events.length > OWN_EVENTS_WAITING_BYTES) return false;
    const now = relayed.filter.insert(events, relayed.res.writableLength);
    if (now === false) return false;
    // Written whatever write() says: the bound above counts these bytes while they wait.
    if (now.length > 0) relayed.res.write(now);
    return true;
  }
}
