// The test API server itself: a real kube-apiserver over etcd, reached with client-node 2.x,
// doing what the operator relies on (server-side apply with a field manager, restarts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, type V1ConfigMap } from "@kubernetes/client-node";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";

describe("test API server", () => {
  let server: TestApiServer;
  before(async () => {
    server = await startTestApiServer();
  });
  after(() => server?.close());

  it("serves the API and applies objects server-side under a field manager", async () => {
    const kc = server.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "harness" } } });
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const desired: V1ConfigMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "applied", namespace: "harness" },
      data: { key: "value" },
    };
    await objects.patch(desired, undefined, undefined, "mcp-oidc-operator", true, PatchStrategy.ServerSideApply);
    const read = await core.readNamespacedConfigMap({ name: "applied", namespace: "harness" });
    assert.equal(read.data?.key, "value");
    assert.equal(read.metadata?.managedFields?.[0]?.manager, "mcp-oidc-operator");
    assert.equal(read.metadata?.managedFields?.[0]?.operation, "Apply");
  });

  it("keeps objects across an API server restart", async () => {
    await server.restart();
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const read = await core.readNamespacedConfigMap({ name: "applied", namespace: "harness" });
    assert.equal(read.data?.key, "value");
  });
});
