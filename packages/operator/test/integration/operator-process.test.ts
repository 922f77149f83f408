// node_modules/.bin/mcp-oidc-operator as it runs in a cluster, twice: exactly one process
// leads (Lease), only the leader reconciles, and when it stops the other takes over.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { olderNode } from "../../../proxy/test/support/process.ts";
import { createMcpOidcProxy, installCrd } from "../support/crd.ts";
import { eventually, freePort } from "../support/eventually.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";

const BIN = path.resolve(import.meta.dirname, "../../../../node_modules/.bin/mcp-oidc-operator");
const NS = "team";

interface Operator {
  process: ChildProcess;
  metrics: string;
  health: string;
}

describe("mcp-oidc-operator processes", () => {
  let server: TestApiServer;
  const operators: Operator[] = [];

  const isLeader = async (op: Operator) => {
    const text = await (await fetch(`${op.metrics}/metrics`)).text();
    return /^leader_election_master_status\{name="mcp-oidc-operator"\} 1$/m.test(text);
  };
  const createProxy = (name: string) =>
    createMcpOidcProxy(server.kubeConfig().makeApiClient(CustomObjectsApi), NS, name, {
      upstream: { url: "http://mcp-server:3000" },
      authMode: "bypass",
    });
  const deploymentOf = (name: string) =>
    server.kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ name, namespace: NS });

  const startOperator = async (): Promise<Operator> => {
    const [healthPort, metricsPort] = [await freePort(), await freePort()];
    // With a Node older than 24 the processes run through the launcher's child (Node 24), so
    // stopping and handing over also pin that the launcher passes SIGTERM on and exits with
    // the child's status, and that its child stops when it is killed.
    const node = olderNode();
    const child = spawn(
      node ?? BIN,
      [
        ...(node ? [BIN] : []),
        "--kubeconfig",
        server.kubeConfigFile,
        "--lease-namespace",
        "default",
        "--health-port",
        String(healthPort),
        "--metrics-port",
        String(metricsPort),
        "--bind-address",
        "127.0.0.1",
        "--log-level",
        "warn",
      ],
      { stdio: ["ignore", "ignore", "inherit"], env: { PATH: process.env.PATH ?? "" } },
    );
    return { process: child, health: `http://127.0.0.1:${healthPort}`, metrics: `http://127.0.0.1:${metricsPort}` };
  };

  before(async () => {
    server = await startTestApiServer();
    await installCrd(server);
    await server
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: NS } } });
    for (let i = 0; i < 2; i++) operators.push(await startOperator());
  });
  after(async () => {
    // SIGTERM: a clean stop, which a launcher passes on to its child.
    await Promise.all(
      operators.map(async (op) => {
        if (op.process.exitCode !== null || op.process.signalCode !== null) return;
        const exited = new Promise((resolve) => op.process.once("exit", resolve));
        op.process.kill("SIGTERM");
        await exited;
      }),
    );
    await server?.close();
  });

  it("refuses malformed numeric flags at startup, naming the flag", () => {
    const cases: [string, string][] = [
      ["--secret-recheck-interval", "abc"],
      ["--health-port", "99999"],
      ["--metrics-port", "0"],
    ];
    for (const [flag, value] of cases) {
      const result = spawnSync(BIN, [flag, value], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "" },
      });
      assert.notEqual(result.status, 0, flag);
      assert.match(result.stderr, new RegExp(`${flag} .*invalid`), flag);
    }
  });

  it("elects exactly one leader, which reconciles", async () => {
    const leader = await eventually(async () => {
      const leaders = [];
      for (const op of operators) if (await isLeader(op)) leaders.push(op);
      return leaders.length === 1 ? leaders[0] : undefined;
    }, "one leader");
    const lease = await server
      .kubeConfig()
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: "mcp-oidc-operator", namespace: "default" });
    // Through the launcher, the operator is the launcher's child (Node 24).
    const pid = olderNode()
      ? execFileSync("ps", ["-o", "pid=", "--ppid", String(leader?.process.pid)], { encoding: "utf8" }).trim()
      : String(leader?.process.pid);
    assert.match(lease.spec?.holderIdentity ?? "", new RegExp(`_${pid}$`));
    for (const op of operators) {
      assert.equal((await fetch(`${op.health}/healthz`)).status, 200);
      await eventually(async () => ((await fetch(`${op.health}/readyz`)).status === 200 ? true : undefined), "ready");
    }
    await createProxy("first");
    const deployment = await eventually(() => deploymentOf("first"), "the first Deployment");
    assert.equal(deployment.metadata?.ownerReferences?.[0]?.name, "first");
    // The Deployment exists before that reconcile has finished (it writes the status last).
    await eventually(async () => {
      const metrics = await (await fetch(`${leader?.metrics}/metrics`)).text();
      return /^controller_runtime_reconcile_total\{controller="mcpoidcproxy",result="success"\} [1-9]/m.test(metrics)
        ? true
        : undefined;
    }, "a successful reconcile counted");
  });

  it("hands over when the leader stops", async () => {
    const leaderIndex = (await isLeader(operators[0] as Operator)) ? 0 : 1;
    const current = operators[leaderIndex] as Operator;
    const other = operators[1 - leaderIndex] as Operator;
    const exited = new Promise<number | null>((resolve) => current.process.once("exit", resolve));
    current.process.kill("SIGTERM");
    assert.equal(await exited, 0, "a clean exit on SIGTERM");
    await eventually(async () => ((await isLeader(other)) ? true : undefined), "the other process to lead");
    await createProxy("second");
    await eventually(() => deploymentOf("second"), "the second Deployment, reconciled by the new leader");
  });
  // A new user's trial: SIGKILL of a launcher on an older Node left its Node 24 child
  // running, still renewing the Lease, so the standby never took over.
  it("hands over when the leader is killed with SIGKILL (its launcher's child stops too)", async () => {
    const standby = await startOperator();
    operators.push(standby);
    await eventually(async () => ((await fetch(`${standby.health}/healthz`)).status === 200 ? true : undefined), "up");
    const leader = await eventually(async () => {
      for (const op of operators)
        if (op !== standby && op.process.exitCode === null && op.process.signalCode === null && (await isLeader(op)))
          return op;
      return undefined;
    }, "the current leader");
    const child = olderNode()
      ? execFileSync("ps", ["-o", "pid=", "--ppid", String(leader.process.pid)], { encoding: "utf8" }).trim()
      : "";
    const exited = new Promise((resolve) => leader.process.once("exit", resolve));
    leader.process.kill("SIGKILL");
    await exited;
    // Without a launcher the Lease expires (15 s) before the standby may take it.
    await eventually(async () => ((await isLeader(standby)) ? true : undefined), "the standby to lead", 1200);
    if (child) {
      await eventually(
        // Gone, or a zombie its new parent has not reaped yet (the state after the name is Z).
        async () =>
          !existsSync(`/proc/${child}`) || / Z /.test(readFileSync(`/proc/${child}/stat`, "utf8")) ? true : undefined,
        "the launcher's child to exit",
      );
    }
  });
});
