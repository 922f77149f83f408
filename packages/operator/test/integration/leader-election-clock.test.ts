// Leader election with an injected clock against a real kube-apiserver: time moves only when
// the test says, so the rules are checked without sleeping. A standby judges a Lease's expiry
// by when it observed it (client-go's observedTime), never by the holder's renewTime, which
// another node's clock wrote; and a leader whose renews stop succeeding steps down at its
// renew deadline by its own clock.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LeaderElector } from "../../src/runtime/leader-election.ts";
import { microTime } from "../../src/runtime/raw-client.ts";
import type { Clock } from "../../src/runtime/work-queue.ts";
import { eventually } from "../support/eventually.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";

const quiet = { info() {}, warn() {}, error() {} };
const TERMS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** A clock that moves only by advance(); due timers run in order. */
class ManualClock implements Clock {
  #now = Date.parse("2026-12-01T12:00:00Z");
  #timers: { at: number; ms: number; fn: () => void; cancelled: boolean }[] = [];
  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number) {
    const timer = { at: this.#now + ms, ms, fn, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }
  /** Timers of `ms` waiting (a tick in flight has armed its request's timeout, not its next tick). */
  pending(ms: number): number {
    return this.#timers.filter((timer) => !timer.cancelled && timer.ms === ms).length;
  }
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#timers.filter((timer) => !timer.cancelled && timer.at <= this.#now).sort((a, b) => a.at - b.at);
    this.#timers = this.#timers.filter((timer) => !due.includes(timer));
    for (const timer of due) timer.fn();
  }
}

describe("leader election with an injected clock", () => {
  let server: TestApiServer;
  const electors: LeaderElector[] = [];
  before(async () => {
    server = await startTestApiServer();
  });
  after(async () => {
    for (const elector of electors) await elector.stop();
    await server?.close();
  });

  const candidate = (name: string, identity: string, clock: ManualClock, events: string[]) => {
    const elector = new LeaderElector({
      kubeConfig: server.kubeConfig(),
      namespace: "default",
      name,
      identity,
      ...TERMS,
      clock,
      logger: quiet,
      onStartedLeading: () => events.push("started"),
      onStoppedLeading: () => events.push("stopped"),
    });
    electors.push(elector);
    return elector;
  };
  /** One tick of the elector: its request answered, its next tick armed. */
  const settled = (clock: ManualClock) =>
    eventually(async () => (clock.pending(TERMS.retryPeriodMs) > 0 ? true : undefined), "a tick");

  it("waits a whole lease duration from when it saw the Lease, though its renewTime is an hour old", async () => {
    const status = await server.request("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "skewed" },
      spec: {
        holderIdentity: "other",
        leaseDurationSeconds: 15,
        renewTime: microTime(new Date(Date.now() - 3_600_000)),
      },
    });
    assert.equal(status.status, 201);
    const clock = new ManualClock();
    const events: string[] = [];
    const elector = candidate("skewed", "me", clock, events);
    elector.start();
    await settled(clock);
    assert.equal(elector.leading, false, "the Lease was just seen: not expired");
    for (let waited = 0; waited < 14_000; waited += TERMS.retryPeriodMs) {
      clock.advance(TERMS.retryPeriodMs);
      await settled(clock);
      assert.equal(elector.leading, false, `still held ${waited + TERMS.retryPeriodMs} ms after it was seen`);
    }
    clock.advance(TERMS.retryPeriodMs);
    await eventually(async () => (elector.leading ? true : undefined), "taking the expired Lease");
    assert.deepEqual(events, ["started"]);
  });

  it("steps down at the renew deadline by its own clock while its renew hangs (API server frozen)", async () => {
    const clock = new ManualClock();
    const events: string[] = [];
    const elector = candidate("deadline", "me", clock, events);
    elector.start();
    await eventually(async () => (elector.leading ? true : undefined), "leading");
    await settled(clock);
    server.freeze();
    try {
      clock.advance(TERMS.retryPeriodMs); // the renew is sent and hangs
      assert.deepEqual(events, ["started"]);
      clock.advance(TERMS.renewDeadlineMs - TERMS.retryPeriodMs);
      assert.deepEqual(events, ["started", "stopped"]);
      assert.equal(elector.leading, false);
    } finally {
      server.thaw();
    }
  });
});
