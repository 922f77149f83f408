// What the proxy leaves waiting for an HTTP+SSE client that stopped reading (decision 052):
// a review found one user could park ~800 MiB of denials over 100 streams; now 256 KiB each.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { describe, it } from "node:test";
import { LegacyStreams, OWN_EVENTS_WAITING_BYTES } from "../../../src/mcp/legacy-streams.ts";
import type { EventFilter } from "../../../src/mcp/stream-filter.ts";

/** A response whose client reads nothing: every write waits. */
function stalledResponse(): ServerResponse & { written: number } {
  const res = Object.assign(new EventEmitter(), {
    writableLength: 0,
    writableEnded: false,
    destroyed: false,
    written: 0,
    write(chunk: Buffer) {
      res.writableLength += chunk.length;
      res.written += chunk.length;
      return false;
    },
  });
  return res as unknown as ServerResponse & { written: number };
}

/** A filter between events, with a limit far above the streams' own bound (max_list_size 8 MiB). */
const betweenEvents: EventFilter = {
  push: (chunk) => chunk,
  insert: (events, unsent) => (unsent + events.length > 8 * 1024 * 1024 ? false : events),
};

describe("the proxy's own events on a relayed HTTP+SSE stream", () => {
  it(`leave at most ${OWN_EVENTS_WAITING_BYTES} bytes waiting for a client that does not read`, () => {
    const streams = new LegacyStreams();
    const res = stalledResponse();
    streams.add("/messages?sessionId=abc", res, betweenEvents);
    const denial = { jsonrpc: "2.0", id: 1, error: { code: -32003, message: `Forbidden: ${"x".repeat(900)}` } };
    let sent = 0;
    for (let i = 0; i < 10_000 && streams.send("/messages?sessionId=abc", [denial]); i++) sent++;
    assert.ok(sent > 0, "denials go on the stream while it has room");
    assert.ok(sent < 10_000, "and are refused once it has none");
    assert.ok(res.written <= OWN_EVENTS_WAITING_BYTES, `${res.written} bytes waiting`);
  });
});
