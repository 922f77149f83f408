// The watches cache only the fields events are keyed by: the initial list asks the real API
// server for metadata only, and watched objects are cut down before they enter the cache.
// Whole Deployments with their managedFields, cached for every resource, were most of the
// operator's memory (711 MiB with 1,000 resources).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import { collectionPath, OWNED_KINDS } from "../../src/api/owned-kinds.ts";
import { type ObjectKeyFields, RestartingInformer } from "../../src/runtime/informer.ts";
import { eventually } from "../support/eventually.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";

const LABEL = "app.kubernetes.io/managed-by=mcp-oidc-operator";
const quiet = { warn() {} };

function deployment(name: string) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      labels: { "app.kubernetes.io/managed-by": "mcp-oidc-operator" },
      ownerReferences: [
        {
          apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
          kind: "McpOidcProxy",
          name,
          uid: "0a0a0a0a-0000-4000-8000-000000000001",
        },
      ],
    },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "proxy", image: "proxy:1", env: [{ name: "A", value: "x".repeat(2000) }] }] },
      },
    },
  };
}

function assertKeyFieldsOnly(object: ObjectKeyFields) {
  assert.deepEqual(Object.keys(object), ["metadata"]);
  assert.deepEqual(Object.keys(object.metadata).sort(), [
    "generation",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "uid",
  ]);
  assert.deepEqual(object.metadata.ownerReferences?.[0]?.name, object.metadata.name);
}

describe("RestartingInformer", () => {
  let server: TestApiServer;
  let informer: RestartingInformer | undefined;
  before(async () => {
    server = await startTestApiServer();
  });
  after(async () => {
    await informer?.stop();
    await server?.close();
  });

  it("watch failed on an empty collection (the metadata-only list answers items: null): syncs and sees the first object", async () => {
    const kind = OWNED_KINDS.find((owned) => owned.kind === "ConfigMap");
    assert.ok(kind);
    const warnings: string[] = [];
    const events: string[] = [];
    const empty = new RestartingInformer({
      kubeConfig: server.kubeConfig(),
      name: "configmaps",
      path: collectionPath(kind),
      labelSelector: LABEL,
      logger: { warn: (message) => warnings.push(message) },
      onObject: (object, verb) => events.push(`${verb} ${object.metadata.name}`),
    });
    try {
      await empty.start();
      assert.ok(empty.synced);
      assert.deepEqual(empty.cached(), []);
      const core = server.kubeConfig().makeApiClient(CoreV1Api);
      await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "first", labels: { "app.kubernetes.io/managed-by": "mcp-oidc-operator" } } },
      });
      await eventually(async () => (events.includes("add first") ? true : undefined), "the watch event");
      assert.deepEqual(warnings, []);
    } finally {
      await empty.stop();
    }
  });

  it("stays unsynced while its collection cannot be listed, so the operator's /readyz answers 503", async () => {
    const warnings: Record<string, unknown>[] = [];
    const refused = new RestartingInformer({
      kubeConfig: server.kubeConfig(),
      name: "things",
      path: "/apis/example.invalid/v1/things",
      logger: { warn: (message, meta) => warnings.push({ message, ...meta }) },
      onObject: () => {},
    });
    try {
      await refused.start();
      assert.equal(refused.synced, false);
      assert.equal(refused.get("default", "any"), undefined, "an unsynced cache cannot tell");
      assert.deepEqual(warnings[0], {
        message: "list failed; retrying",
        watch: "things",
        status: 404,
        error: warnings[0]?.error,
        retry_in_ms: 500,
      });
    } finally {
      await refused.stop();
    }
  });

  it("caches listed and watched objects without spec, status or managedFields", async () => {
    const apps = server.kubeConfig().makeApiClient(AppsV1Api);
    await apps.createNamespacedDeployment({ namespace: "default", body: deployment("listed") });
    const events: string[] = [];
    const kind = OWNED_KINDS.find((owned) => owned.kind === "Deployment");
    assert.ok(kind);
    informer = new RestartingInformer({
      kubeConfig: server.kubeConfig(),
      name: "deployments",
      path: collectionPath(kind),
      labelSelector: LABEL,
      logger: quiet,
      onObject: (object, verb) => events.push(`${verb} ${object.metadata.name}`),
    });
    await informer.start();
    assert.ok(informer.synced);
    await apps.createNamespacedDeployment({ namespace: "default", body: deployment("watched") });
    await eventually(async () => (events.includes("add watched") ? true : undefined), "the watch event");

    assert.deepEqual(events, ["add listed", "add watched"]);
    const cached = informer.cached();
    assert.deepEqual(cached.map((object) => object.metadata.name).sort(), ["listed", "watched"]);
    for (const object of cached) assertKeyFieldsOnly(object);
  });
});
