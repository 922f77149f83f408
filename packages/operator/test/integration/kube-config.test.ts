// The operator's kubeconfig keeps one connection pool per cluster and user. client-node 2.0
// built a new undici Agent for every request, so every request opened its own TLS
// connection (and TLS context) that idled on until its keep-alive ended: with 100
// resources the operator held ~300 MiB more than it needed.
import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { loadKubeConfig } from "../../src/runtime/kube-config.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";

/** Connections undici opened while the requests ran (its diagnostics channel reports each). */
async function connectionsOpenedBy(kubeConfig: KubeConfig, requests: number): Promise<number> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  let connections = 0;
  const count = () => {
    connections += 1;
  };
  diagnosticsChannel.subscribe("undici:client:connected", count);
  try {
    for (let i = 0; i < requests; i++) await core.readNamespace({ name: "default" });
  } finally {
    diagnosticsChannel.unsubscribe("undici:client:connected", count);
  }
  return connections;
}

describe("kubeconfig", () => {
  let server: TestApiServer;
  before(async () => {
    server = await startTestApiServer();
  });
  after(async () => {
    await server?.close();
  });

  it("sends one request after another over one connection (client-node opened a TLS connection per request)", async () => {
    assert.equal(await connectionsOpenedBy(loadKubeConfig(server.kubeConfigFile), 20), 1);
  });

  it("is what client-node alone does not do (the defect the shared pool pins)", async () => {
    const plain = new KubeConfig();
    plain.loadFromFile(server.kubeConfigFile);
    assert.ok((await connectionsOpenedBy(plain, 20)) >= 20);
  });
});
