// node_modules/.bin/mcp-oidc-operator run outside the cluster, as the README says, with
// the least privileges of rbac.yaml (its ServiceAccount's token in a kubeconfig): its Lease
// goes where rbac.yaml grants it (mcp-system), not into "default", where it was refused
// every 2 s forever while /readyz said ok and no controller ever started. A Lease it may
// not use is said once and fails /readyz.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { installCrd } from "../support/crd.ts";
import { eventually, freePort } from "../support/eventually.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";
import { kubectlOk } from "../support/kubectl.ts";

const BIN = path.resolve(import.meta.dirname, "../../../../node_modules/.bin/mcp-oidc-operator");
const RBAC = path.resolve(import.meta.dirname, "../../../../deployments/kubernetes/operator/rbac.yaml");

interface Operator {
  process: ChildProcess;
  health: string;
  metrics: string;
  output: () => string;
}

describe("mcp-oidc-operator outside the cluster with rbac.yaml's privileges", () => {
  let server: TestApiServer;
  const operators: Operator[] = [];

  const startOperator = async (args: string[]): Promise<Operator> => {
    const [healthPort, metricsPort] = [await freePort(), await freePort()];
    const child = spawn(
      BIN,
      [
        "--kubeconfig",
        server.operatorKubeConfigFile,
        "--health-port",
        String(healthPort),
        "--metrics-port",
        String(metricsPort),
        "--bind-address",
        "127.0.0.1",
        ...args,
      ],
      // No POD_NAMESPACE: as a user's shell runs it.
      { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "" } },
    );
    let output = "";
    const keep = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const op = {
      process: child,
      health: `http://127.0.0.1:${healthPort}`,
      metrics: `http://127.0.0.1:${metricsPort}`,
      output: () => output,
    };
    operators.push(op);
    return op;
  };
  const readyz = async (op: Operator) => (await fetch(`${op.health}/readyz`)).status;
  const stop = async (op: Operator) => {
    if (op.process.exitCode !== null || op.process.signalCode !== null) return;
    const exited = new Promise((resolve) => op.process.once("exit", resolve));
    op.process.kill("SIGTERM");
    await exited;
  };

  before(async () => {
    server = await startTestApiServer();
    await installCrd(server);
    await kubectlOk(server, ["apply", "-f", RBAC]);
  });
  after(async () => {
    await Promise.all(operators.map(stop));
    await server?.close();
  });

  it("puts its Lease in mcp-system by default, where rbac.yaml grants it, and leads", async () => {
    const op = await startOperator([]);
    await eventually(
      async () => {
        const text = await (await fetch(`${op.metrics}/metrics`)).text();
        return /^leader_election_master_status\{name="mcp-oidc-operator"\} 1$/m.test(text) ? true : undefined;
      },
      "leadership",
      600,
    );
    const lease = await kubectlOk(server, ["-n", "mcp-system", "get", "lease", "mcp-oidc-operator", "-o", "json"]);
    assert.match((JSON.parse(lease) as { spec: { holderIdentity: string } }).spec.holderIdentity, /_\d+$/);
    await eventually(async () => ((await readyz(op)) === 200 ? true : undefined), "/readyz ok once synced");
    assert.doesNotMatch(op.output(), /forbidden/i);
    await stop(op);
  });

  it("says clearly that it may not use a Lease in another namespace, and is not ready", async () => {
    const op = await startOperator(["--lease-namespace", "default"]);
    const line = await eventually(
      async () => op.output().match(/^.*cannot use the leader election Lease default\/mcp-oidc-operator.*$/m)?.[0],
      "the log line",
      600,
    );
    const entry = JSON.parse(line) as { level: string; message: string };
    assert.equal(entry.level, "error");
    assert.match(entry.message, /\(HTTP 403\); grant get, create and update on leases in default/);
    // Not ready while it cannot even be a candidate (once per change: leader-election.test.ts).
    assert.equal(await readyz(op), 503);
    await stop(op);
  });
});
