// deployments/kubernetes/operator/rbac.yaml grants the operator enough to do its work and
// no more: the controller and leader election run here under exactly that identity, with
// the OwnerReferencesPermissionEnforcement admission plugin on, as in OpenShift (an owner
// reference with blockOwnerDeletion needs update on the owner's finalizers).
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { type RunningController, startController } from "../../src/controller/controller.ts";
import { LeaderElector } from "../../src/runtime/leader-election.ts";
import { requestJson } from "../../src/runtime/raw-client.ts";
import { createMcpOidcProxy, installCrd, mcpOidcProxies } from "../support/crd.ts";
import { eventually } from "../support/eventually.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";
import { kubectlOk } from "../support/kubectl.ts";

const RBAC = path.resolve(import.meta.dirname, "../../../../deployments/kubernetes/operator/rbac.yaml");
const quiet = { info() {}, warn() {}, error() {} };

describe("operator RBAC (least privilege)", () => {
  let server: TestApiServer;
  let controller: RunningController | undefined;

  before(async () => {
    server = await startTestApiServer({ admissionPlugins: ["OwnerReferencesPermissionEnforcement"] });
    const admin = server.kubeConfig();
    await installCrd(server);
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "apps" } } });
    await kubectlOk(server, ["apply", "-f", RBAC]);
    await core.createNamespacedSecret({
      namespace: "apps",
      body: { metadata: { name: "oidc" }, stringData: { secret: "s" } },
    });
  });
  after(async () => {
    await controller?.stop();
    await server?.close();
  });

  it("lets the operator's ServiceAccount reconcile a resource end to end, under OwnerReferencesPermissionEnforcement (OpenShift refused every child: cannot set blockOwnerDeletion)", async () => {
    const operator = server.operatorKubeConfig();
    controller = await startController({ kubeConfig: operator, logger: quiet });
    await createMcpOidcProxy(server.kubeConfig().makeApiClient(CustomObjectsApi), "apps", "tools", {
      upstream: { url: "http://mcp-server:3000" },
      provider: {
        issuer: "https://login.example.com",
        clientId: "mcp",
        clientSecretRef: { name: "oidc", key: "secret" },
      },
    });
    const apps = server.kubeConfig().makeApiClient(AppsV1Api);
    await eventually(() => apps.readNamespacedDeployment({ name: "tools", namespace: "apps" }), "the Deployment");
    await server.kubeConfig().makeApiClient(CoreV1Api).readNamespacedSecret({ name: "tools-keys", namespace: "apps" });
    const status = await eventually(async () => {
      const cr = (await server
        .kubeConfig()
        .makeApiClient(CustomObjectsApi)
        .getNamespacedCustomObject({ ...mcpOidcProxies("apps"), name: "tools" })) as {
        status?: { conditions?: unknown[] };
      };
      return cr.status?.conditions ? cr.status : undefined;
    }, "a status written by the operator");
    assert.ok(status.conditions?.length);
  });

  it("does not let it update or delete the children it only patches (update and delete were granted unused)", async () => {
    const operator = server.operatorKubeConfig();
    const apps = operator.makeApiClient(AppsV1Api);
    const core = operator.makeApiClient(CoreV1Api);
    const deployment = await apps.readNamespacedDeployment({ name: "tools", namespace: "apps" });
    await assert.rejects(
      apps.replaceNamespacedDeployment({ name: "tools", namespace: "apps", body: deployment }),
      (error: { code?: number }) => error.code === 403,
    );
    await assert.rejects(
      apps.deleteNamespacedDeployment({ name: "tools", namespace: "apps" }),
      (error: { code?: number }) => error.code === 403,
    );
    for (const remove of [
      () => core.deleteNamespacedConfigMap({ name: "tools-config", namespace: "apps" }),
      () => core.deleteNamespacedService({ name: "tools", namespace: "apps" }),
      () => core.deleteNamespacedServiceAccount({ name: "tools", namespace: "apps" }),
    ]) {
      await assert.rejects(remove(), (error: { code?: number }) => error.code === 403);
    }
  });

  it("lets it hold the leader election Lease in its own namespace", async () => {
    let led = false;
    const elector = new LeaderElector({
      kubeConfig: server.operatorKubeConfig(),
      namespace: "mcp-system",
      name: "mcp-oidc-operator",
      identity: "rbac-test",
      logger: quiet,
      onStartedLeading: () => {
        led = true;
      },
      onStoppedLeading: () => {},
    });
    elector.start();
    await eventually(async () => (led ? true : undefined), "leadership");
    await elector.stop();
  });

  it("does not let it change a Secret it did not create or touch Leases elsewhere", async () => {
    const core = server.operatorKubeConfig().makeApiClient(CoreV1Api);
    // It lists and watches Secrets (only ever by its label: the generated keys), but a
    // user's Secret cannot be changed or deleted under its identity.
    const oidc = await core.readNamespacedSecret({ name: "oidc", namespace: "apps" });
    await assert.rejects(
      core.replaceNamespacedSecret({ name: "oidc", namespace: "apps", body: { ...oidc, stringData: { secret: "x" } } }),
      (error: { code?: number }) => error.code === 403,
    );
    await assert.rejects(
      core.deleteNamespacedSecret({ name: "oidc", namespace: "apps" }),
      (error: { code?: number }) => error.code === 403,
    );
    await assert.rejects(
      requestJson(server.operatorKubeConfig(), "GET", "/apis/coordination.k8s.io/v1/namespaces/apps/leases/x"),
      (error: { code?: number }) => error.code === 403,
    );
  });
});
