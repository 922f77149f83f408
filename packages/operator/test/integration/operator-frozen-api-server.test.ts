// Two node_modules/.bin/mcp-oidc-operator processes while their API server is frozen
// (SIGSTOP of the real kube-apiserver): the leader must give up by its own clock and exit
// while the API server is still frozen — before anyone could take over — and the standby
// leads once it answers again. Short lease terms (flags) keep the test short.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { eventually, freePort } from "../support/eventually.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";

const BIN = path.resolve(import.meta.dirname, "../../../../node_modules/.bin/mcp-oidc-operator");
const LEASE_SECONDS = 4;

interface Operator {
  process: ChildProcess;
  metrics: string;
  exitCode?: number | null;
}

describe("mcp-oidc-operator with a frozen API server", () => {
  let server: TestApiServer;
  const operators: Operator[] = [];

  const isLeader = async (op: Operator) => {
    const text = await (await fetch(`${op.metrics}/metrics`)).text();
    return /^leader_election_master_status\{name="mcp-oidc-operator"\} 1$/m.test(text);
  };

  before(async () => {
    server = await startTestApiServer();
    for (let i = 0; i < 2; i++) {
      const [healthPort, metricsPort] = [await freePort(), await freePort()];
      const child = spawn(
        BIN,
        [
          ...["--kubeconfig", server.kubeConfigFile, "--lease-namespace", "default", "--bind-address", "127.0.0.1"],
          ...["--health-port", String(healthPort), "--metrics-port", String(metricsPort), "--log-level", "error"],
          ...["--leader-elect-lease-duration", String(LEASE_SECONDS)],
          ...["--leader-elect-renew-deadline", "3", "--leader-elect-retry-period", "1"],
        ],
        { stdio: ["ignore", "ignore", "inherit"], env: { PATH: process.env.PATH ?? "" } },
      );
      const op: Operator = { process: child, metrics: `http://127.0.0.1:${metricsPort}` };
      child.once("exit", (code) => {
        op.exitCode = code;
      });
      operators.push(op);
    }
  });
  after(async () => {
    for (const op of operators) op.process.kill("SIGKILL");
    await server?.close();
  });

  it("two leaders after a frozen API server: the leader exits while it is frozen, then the standby leads", async () => {
    const leader = await eventually(async () => {
      const leaders = [];
      for (const op of operators) if (await isLeader(op)) leaders.push(op);
      return leaders.length === 1 ? leaders[0] : undefined;
    }, "one leader");
    const standby = operators.find((op) => op !== leader) as Operator;
    server.freeze();
    // Longer than the lease: the leader's renew requests hang, its own clock must end its term.
    await delay((LEASE_SECONDS + 1) * 1000);
    const exitedWhileFrozen = leader?.exitCode;
    server.thaw();
    assert.equal(exitedWhileFrozen, 1, "the leader exited (lost leadership) while the API server was frozen");
    await eventually(async () => ((await isLeader(standby)) ? true : undefined), "the standby to lead", 600);
    assert.equal(standby.exitCode, undefined, "the standby still runs");
  });
});
