// The re-check sweep (decisions 042, 043) over stand-ins for open event streams and upgraded
// connections: it asks about each once, never more than SWEEP_CONCURRENCY at a time (a sweep
// after the caches expired would otherwise read the store for every stream at once), ends
// the refused ones, keeps those whose check failed and counts them in one warning.
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, it } from "node:test";
import type { AuthResult } from "../../../src/auth/authenticator.ts";
import { ProxyError, storeUnavailable } from "../../../src/errors.ts";
import type { OpenUpgrade } from "../../../src/upstream/forwarder.ts";
import { StreamRecheck, SWEEP_CONCURRENCY } from "../../../src/upstream/stream-recheck.ts";
import { capturingLogger } from "../../support/captured-log.ts";

/** A request naming its fate: "allowed", "refused" or "unanswered" (the store is down). */
function request(fate: string): IncomingMessage {
  return { url: "/mcp", headers: { fate } } as unknown as IncomingMessage;
}

function stream(fate: string) {
  const res = {
    req: request(fate),
    writableEnded: false,
    destroyed: false,
    end() {
      res.writableEnded = true;
    },
  };
  return res;
}

function upgrade(fate: string) {
  const open = {
    req: request(fate),
    over: false,
    end() {
      open.over = true;
    },
  };
  return open;
}

const REFUSED: AuthResult = {
  kind: "anonymous",
  error: new ProxyError("UNAUTHORIZED", 401, "Authentication required"),
};
const ALLOWED: AuthResult = { kind: "allowed", user: undefined };

/** An authenticator whose every answer comes a turn of the event loop later, counting those awaited at once. */
function slowAuthenticator() {
  const counts = { asked: 0, inFlight: 0, most: 0 };
  const authenticate = (req: IncomingMessage): Promise<AuthResult> => {
    counts.asked++;
    counts.inFlight++;
    counts.most = Math.max(counts.most, counts.inFlight);
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        counts.inFlight--;
        const fate = req.headers.fate;
        if (fate === "unanswered") reject(storeUnavailable(new Error("store timeout")));
        else resolve(fate === "refused" ? REFUSED : ALLOWED);
      }),
    );
  };
  return { counts, authenticate };
}

describe("StreamRecheck", () => {
  it(`checks each open stream and upgrade once, at most ${SWEEP_CONCURRENCY} at a time`, async () => {
    const fates = ["allowed", "refused", "unanswered"];
    const streams = Array.from({ length: 150 }, (_, i) => stream(fates[i % 3] as string));
    const upgrades = Array.from({ length: 150 }, (_, i) => upgrade(fates[i % 3] as string));
    const { counts, authenticate } = slowAuthenticator();
    const lines: string[] = [];
    const recheck = new StreamRecheck({
      streams: new Set(streams as unknown as ServerResponse[]),
      upgrades: new Set<OpenUpgrade>(upgrades),
      authenticate,
      intervalMs: 60_000,
      logger: capturingLogger(lines, "warn"),
    });
    try {
      const sweep = recheck.sweep();
      await recheck.sweep(); // one sweep at a time: this one asks nothing
      await sweep;
    } finally {
      recheck.stop();
    }
    assert.equal(counts.asked, 300, "each was asked about once");
    assert.equal(counts.most, SWEEP_CONCURRENCY, "never more in flight than the bound, and the bound used");
    for (const [i, s] of streams.entries()) assert.equal(s.writableEnded, i % 3 === 1, `stream ${i}`);
    for (const [i, u] of upgrades.entries()) assert.equal(u.over, i % 3 === 1, `upgrade ${i}`);
    assert.equal(lines.length, 1, "one warning for the sweep");
    const warning = JSON.parse(lines[0] as string) as { streams: number; upgrades: number; error: string };
    assert.deepEqual(
      [warning.streams, warning.upgrades, warning.error],
      [50, 50, "The session store is unavailable; try again shortly (store timeout)"],
      "the 503 and its cause",
    );
  });

  it("asks nothing about what ended before its turn", async () => {
    const ended = upgrade("allowed");
    ended.over = true;
    const { counts, authenticate } = slowAuthenticator();
    const recheck = new StreamRecheck({
      streams: new Set(),
      upgrades: new Set<OpenUpgrade>([ended, upgrade("allowed")]),
      authenticate,
      intervalMs: 60_000,
      logger: capturingLogger([], "warn"),
    });
    await recheck.sweep();
    recheck.stop();
    assert.equal(counts.asked, 1);
  });
});
