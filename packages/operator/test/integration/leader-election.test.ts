// Leader election against a real kube-apiserver, frozen mid-term (SIGSTOP) the way a stalled
// control plane looks to the operator: connections stay open and nothing answers. The
// leader must stop leading by its own clock before a standby can take over.
import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { FIELD_MANAGER } from "../../src/desired/children.ts";
import { LeaderElector } from "../../src/runtime/leader-election.ts";
import { requestJson } from "../../src/runtime/raw-client.ts";
import { eventually } from "../support/eventually.ts";
import { OPERATOR_USER, startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";
import { recordingLogger } from "../support/recording-logger.ts";

const quiet = { info() {}, warn() {}, error() {} };
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

  /** A candidate for the Lease (not started), stopped after the tests. */
  const elector = (options: Partial<ConstructorParameters<typeof LeaderElector>[0]> & { identity: string }) => {
    const made = new LeaderElector({
      kubeConfig: server.kubeConfig(),
      namespace: "default",
      name: "frozen",
      ...TERMS,
      logger: quiet,
      onStartedLeading: () => {},
      onStoppedLeading: () => {},
      ...options,
    });
    electors.push(made);
    return made;
  };
  const candidate = (identity: string) => {
    const started = elector({
      identity,
      onStartedLeading: () => timeline.push(`${identity} started leading`),
      onStoppedLeading: () => timeline.push(`${identity} stopped leading`),
    });
    started.start();
    return started;
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
    const logger = recordingLogger();
    const events = () =>
      logger.lines.filter((l) => l.level === "warn").map((l) => `${l.message}: ${String(l.meta?.error)}`);
    const c = elector({ identity: "c", logger });
    server.freeze();
    c.start();
    try {
      // While the API server is still frozen, the attempt is given up and another one made.
      const ended = await eventually(
        async () => events().find((e) => /^lease update failed: no answer within/.test(e)),
        "the frozen request given up",
      );
      assert.match(ended, /no answer within 1500 ms/);
    } finally {
      server.thaw();
    }
  });

  it("says once, clearly, that RBAC refuses the Lease, is not usable meanwhile, and leads once it is granted", async () => {
    const logger = recordingLogger();
    // As the operator's ServiceAccount, granted nothing in this namespace.
    const c = elector({ kubeConfig: server.operatorKubeConfig(), name: "forbidden", identity: "c", logger });
    let attempts = 0;
    const count = (message: unknown) => {
      const { request } = message as { request: { path: string } };
      if (request.path.includes("/leases/forbidden")) attempts += 1;
    };
    diagnosticsChannel.subscribe("undici:request:create", count);
    try {
      c.start();
      await eventually(async () => (attempts >= 4 ? true : undefined), "several attempts");
    } finally {
      diagnosticsChannel.unsubscribe("undici:request:create", count);
    }
    assert.equal(c.usable, false);
    assert.equal(c.leading, false);
    assert.equal(logger.text().length, 1, logger.text().join("\n"));
    assert.match(
      logger.text()[0] ?? "",
      /^error: cannot use the leader election Lease default\/forbidden: .*forbidden.* \(HTTP 403\); grant get, create and update on leases in default/,
    );
    for (const [kind, body] of [
      [
        "roles",
        { rules: [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }] },
      ],
      [
        "rolebindings",
        {
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "lease" },
          subjects: [{ kind: "User", name: OPERATOR_USER }],
        },
      ],
    ] as const) {
      const created = await server.request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/default/${kind}`, {
        metadata: { name: "lease" },
        ...body,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    await eventually(async () => (c.leading ? true : undefined), "leading once granted");
    assert.equal(c.usable, true);
    assert.deepEqual(logger.text().slice(1), [
      "info: the leader election Lease can be used now",
      "info: became the leader",
    ]);
  });
});
