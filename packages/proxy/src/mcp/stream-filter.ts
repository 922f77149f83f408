// Filters list results out of an event stream the proxy cannot tie to a request: a GET
// stream (the 2024-11-05 HTTP+SSE transport delivers every answer there; a Streamable HTTP
// stream resumed with Last-Event-ID replays them there). Every event whose JSON-RPC result is
// list-shaped (an array under tools / resources / resourceTemplates / prompts, of a kind the
// policy governs) is filtered for the stream's owner, whatever request it answers: a list
// result's shape is unambiguous, and it needs no record of request ids across replicas
// (docs/decisions/016-mcp-policy.md). Events are relayed one by one as they complete, the
// untouched ones byte for byte (ids, comments, retry kept); only the event being received is
// held, up to `limit` bytes: one larger could be a list, so the stream is cut (fail closed).
// The proxy can also add an event of its own (a denial on the HTTP+SSE transport, decision
// 049): written between events, never inside one the upstream is still sending, and only
// while what waits for the client stays within `limit` (decision 052): a client that stops
// reading must not make the proxy queue every denial it provokes.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { eventText, filterListShaped, type ShapeFilterInput } from "./list-filter.ts";

/** A stream the filter cannot read (an event too large, a compressed body): it is cut. */
export class UnfilterableEvent extends Error {
  override name = "UnfilterableEvent";
}

const LF = 0x0a;
const CR = 0x0d;

function filterEvent(event: EventSourceMessage, input: ShapeFilterInput): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(event.data);
  } catch {
    return undefined; // not JSON: not a list result
  }
  const filtered = filterListShaped(value, input);
  return filtered === undefined ? undefined : eventText(event, JSON.stringify(filtered));
}

/** One complete event's bytes, or its rewrite when it holds a list result. */
function relayedEvent(raw: Buffer, input: ShapeFilterInput, onEndpoint?: (address: string) => void): Buffer {
  let rewritten: string | undefined;
  let retry = "";
  const parser = createParser({
    onEvent: (event) => {
      if (event.event === "endpoint") onEndpoint?.(event.data.trim());
      rewritten = filterEvent(event, input);
    },
    // A retry line inside a rewritten event is kept (as its own block before it).
    onRetry: (ms) => {
      retry = `retry: ${ms}\n\n`;
    },
  });
  // An event split after the CR of a CRLF ends with that CR: the parser waits for an LF.
  parser.feed(`${raw.toString("utf8")}\n`);
  return rewritten === undefined ? raw : Buffer.from(retry + rewritten);
}

/** Moves the last event end (at `lf`, the LF after its CR) past that LF, or adds one. */
function endAt(ends: number[], lf: number): void {
  if (ends.at(-1) === lf) ends[ends.length - 1] = lf + 1;
  else ends.push(lf + 1);
}

export interface EventFilter {
  /** The bytes to relay now for `chunk` (possibly none); throws UnfilterableEvent. */
  push(chunk: Buffer): Buffer;
  /**
   * Adds complete events of the proxy's own: returned to be written now when no upstream
   * event is half relayed, else kept (an empty buffer returned) and relayed right after the
   * event being received. False, and nothing kept, when they would take what waits for the
   * client past the filter's limit: `unsent` bytes already written, the kept events, these.
   */
  insert(events: Buffer, unsent: number): Buffer | false;
}

/**
 * A filter for one GET stream of the caller `input` names. It scans each chunk once for
 * event boundaries (an empty line; CR, LF or CRLF, a CRLF possibly split across chunks: an
 * event ending in CR is relayed at once, the LF after it as soon as it comes). `onEndpoint`
 * is told the address of an HTTP+SSE `endpoint` event.
 */
export function listEventFilter(
  input: ShapeFilterInput,
  limit: number,
  onEndpoint?: (address: string) => void,
): EventFilter {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let lineEmpty = true;
  let skipLF = false;
  let endedOnCR = false;
  let inserted: Buffer[] = [];
  let insertedBytes = 0;
  return {
    insert(events, unsent) {
      if (unsent + insertedBytes + events.length > limit) return false;
      // Between events: nothing held and the last line relayed was empty (the LF of a CRLF
      // that may still come makes one more empty line, which dispatches nothing).
      if (heldBytes === 0 && lineEmpty) return events;
      inserted.push(events);
      insertedBytes += events.length;
      return Buffer.alloc(0);
    },
    push(chunk) {
      const ends: number[] = [];
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i];
        if (skipLF) {
          skipLF = false;
          if (byte === LF) {
            // The LF of a CRLF that ended an event goes with it: a client waits for it.
            if (endedOnCR) endAt(ends, heldBytes + i);
            endedOnCR = false;
            continue;
          }
        }
        endedOnCR = false;
        if (byte !== LF && byte !== CR) {
          lineEmpty = false;
          continue;
        }
        if (lineEmpty) {
          ends.push(heldBytes + i + 1);
          endedOnCR = byte === CR;
        }
        lineEmpty = true;
        skipLF = byte === CR;
      }
      if (ends.length === 0) {
        held.push(chunk);
        heldBytes += chunk.length;
        if (heldBytes > limit) throw new UnfilterableEvent(`an event passed mcp_policy.max_list_size (${limit} bytes)`);
        return Buffer.alloc(0);
      }
      const buffer = held.length === 0 ? chunk : Buffer.concat([...held, chunk]);
      const out: Buffer[] = [];
      let start = 0;
      for (const end of ends) {
        out.push(relayedEvent(buffer.subarray(start, end), input, onEndpoint));
        start = end;
      }
      if (inserted.length > 0) {
        out.push(...inserted);
        inserted = [];
        insertedBytes = 0;
      }
      const rest = buffer.subarray(start);
      held = rest.length > 0 ? [rest] : [];
      heldBytes = rest.length;
      if (heldBytes > limit) throw new UnfilterableEvent(`an event passed mcp_policy.max_list_size (${limit} bytes)`);
      return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
    },
  };
}
