// Leader election against a real kube-apiserver, frozen mid-term (SIGSTOP) the way a stalled
// control plane looks to the operator: connections stay open and nothing answers. The
// leader must stop leading by its own clock before a standby can take over.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { FIELD_MANAGER } from "../../src/desired/children.ts";
import { LeaderElector } from "../../src/runtime/leader-election.ts";
import { requestJson } from "../../src/runtime/raw-client.ts";
import { eventually } from "../support/eventually.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";

const quiet = { info() {}, warn() {} };
// Short terms so the test is short; the ordering, not the timing, is asserted.
// A renew deadline well above the retry period, so a loaded machine does not end a term early.
const TERMS = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 200 };

interface Lease {
  spec?: { holderIdentity?: string };
  metadata: { managedFields?: { manager?: string }[] };
}

describe("leader election", () => {
  let server: TestApiServer;
  const electors: LeaderElector[] = [];
  const timeline: string[] = [];

  const candidate = (identity: string) => {
    const elector = new LeaderElector({
      kubeConfig: server.kubeConfig(),
      namespace: "default",
      name: "frozen",
      identity,
      ...TERMS,
      logger: quiet,
      onStartedLeading: () => timeline.push(`${identity} started leading`),
      onStoppedLeading: () => timeline.push(`${identity} stopped leading`),
    });
    electors.push(elector);
    elector.start();
    return elector;
  };
  const readLease = () =>
    requestJson<Lease>(server.kubeConfig(), "GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/frozen");

  before(async () => {
    server = await startTestApiServer();
  });
  after(async () => {
    for (const elector of electors) await elector.stop();
    await server?.close();
  });

  it("writes the Lease under the operator's field manager (managedFields said unknown)", async () => {
    const a = candidate("a");
    await eventually(async () => (a.leading ? true : undefined), "a leading");
    const lease = await readLease();
    assert.equal(lease.spec?.holderIdentity, "a");
    const managers = (lease.metadata.managedFields ?? []).map((field) => field.manager);
    assert.deepEqual([...new Set(managers)], [FIELD_MANAGER]);
  });

  it("two leaders after a frozen API server: the old leader stops leading before the standby starts", async () => {
    const [a] = electors as [LeaderElector];
    const b = candidate("b");
    server.freeze();
    // The freeze outlasts the lease: a's renew requests hang; its own clock must end its term.
    await delay(TERMS.leaseDurationMs + 1_000);
    server.thaw();
    await eventually(async () => (b.leading ? true : undefined), "b leading after the thaw", 600);
    assert.deepEqual(timeline, ["a started leading", "a stopped leading", "b started leading"]);
    assert.equal(a.leading, false);
    assert.equal((await readLease()).spec?.holderIdentity, "b");
  });

  it("ends a candidate's request to a frozen API server (the standby took over 16 s after the resume)", async () => {
    const events: string[] = [];
    const logger = {
      info() {},
      warn(message: string, meta?: Record<string, unknown>) {
        events.push(`${message}: ${String(meta?.error)}`);
      },
    };
    const c = new LeaderElector({
      kubeConfig: server.kubeConfig(),
      namespace: "default",
      name: "frozen",
      identity: "c",
      ...TERMS,
      logger,
      onStartedLeading: () => {},
      onStoppedLeading: () => {},
    });
    electors.push(c);
    server.freeze();
    c.start();
    try {
      // While the API server is still frozen, the attempt is given up and another one made.
      const ended = await eventually(
        async () => events.find((e) => /^lease update failed: no answer within/.test(e)),
        "the frozen request given up",
      );
      assert.match(ended, /no answer within 1500 ms/);
    } finally {
      server.thaw();
    }
  });
});
