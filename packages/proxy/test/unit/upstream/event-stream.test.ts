// The keep-alive of event streams: one timer for all of them (StreamPinger), each stream
// pinged after an interval with nothing relayed, never inside an event. Mocked timers: the
// test steps the clock, nothing waits.
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { KeepAlive, StreamPinger } from "../../../src/upstream/event-stream.ts";

function response(): { res: ServerResponse; writes: string[] } {
  const writes: string[] = [];
  const res = { writableEnded: false, destroyed: false, write: (chunk: string) => writes.push(chunk) };
  return { res: res as unknown as ServerResponse, writes };
}

describe("StreamPinger", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setInterval"] }));
  afterEach(() => mock.timers.reset());

  it("pings an idle stream once per interval", () => {
    const pinger = new StreamPinger(1000);
    const { res, writes } = response();
    new KeepAlive(res, pinger);
    mock.timers.tick(999);
    assert.deepEqual(writes, []);
    mock.timers.tick(1);
    assert.deepEqual(writes, [": ping\n\n"]);
    mock.timers.tick(1000);
    assert.deepEqual(writes, [": ping\n\n", ": ping\n\n"]);
  });

  it("does not ping a stream that relays more often than the interval", () => {
    const pinger = new StreamPinger(1000);
    const { res, writes } = response();
    const keepAlive = new KeepAlive(res, pinger);
    for (let i = 0; i < 10; i++) {
      mock.timers.tick(500);
      keepAlive.relayed(Buffer.from("data: tick\n\n"));
    }
    assert.deepEqual(writes, []);
  });

  it("never pings inside an event the upstream is still sending", () => {
    const pinger = new StreamPinger(1000);
    const { res, writes } = response();
    const keepAlive = new KeepAlive(res, pinger);
    keepAlive.relayed(Buffer.from("data: half of an eve"));
    mock.timers.tick(3000);
    assert.deepEqual(writes, []);
    keepAlive.relayed(Buffer.from("nt\r\n\r\n"));
    mock.timers.tick(1000);
    assert.deepEqual(writes, [": ping\n\n"]);
  });

  it("stops pinging a stream once stopped, and the others still get theirs", () => {
    const pinger = new StreamPinger(1000);
    const one = response();
    const other = response();
    const first = new KeepAlive(one.res, pinger);
    new KeepAlive(other.res, pinger);
    first.stop();
    mock.timers.tick(1000);
    assert.deepEqual(one.writes, []);
    assert.deepEqual(other.writes, [": ping\n\n"]);
  });
});
