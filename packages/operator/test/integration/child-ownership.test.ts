// Objects the operator did not create are never taken over. Against a real kube-apiserver,
// with the user's objects made by the real kubectl: a user's Service, CA ConfigMap or
// Secret that bears a child's name stays as it was (no selector replaced, no owner
// reference that would let the garbage collector delete it with the proxy), and the
// resource says why it stopped (Stalled, ChildConflict, an Event). The operator's own
// children, from an earlier run of it, are still adopted after a restart.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  type V1Service,
} from "@kubernetes/client-node";
import { parse } from "yaml";
import type { Condition, McpOidcProxy } from "../../src/api/v1alpha1/mcp-oidc-proxy.ts";
import { type RunningController, startController } from "../../src/controller/controller.ts";
import { Applier } from "../../src/runtime/apply.ts";
import { conditionReached } from "../support/conditions.ts";
import { CRD_PATH, createMcpOidcProxy, installCrd, mcpOidcProxies } from "../support/crd.ts";
import { eventually } from "../support/eventually.ts";
import { kstatus } from "../support/kstatus.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";
import { kubectlOk } from "../support/kubectl.ts";

const NS = "apps";
const crApi = mcpOidcProxies(NS);
const quiet = { info() {}, warn() {} };
/** A conflict is looked at again with backoff capped at 30 s: bounded waits allow for one. */
const RECHECK_ATTEMPTS = 1_400;

describe("objects of a child's name that the operator did not create", () => {
  let server: TestApiServer;
  let kc: KubeConfig;
  let controller: RunningController;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let custom: CustomObjectsApi;

  const readCr = (name: string) => custom.getNamespacedCustomObject({ ...crApi, name }) as Promise<McpOidcProxy>;
  const condition = async (name: string, type: string): Promise<Condition | undefined> =>
    (await readCr(name)).status?.conditions?.find((c) => c.type === type);
  const stalledBy = (name: string, reason: string, attempts?: number) =>
    conditionReached((type) => condition(name, type), "Stalled", "True", reason, attempts);
  const createProxy = (name: string, spec: Record<string, unknown>) => createMcpOidcProxy(custom, NS, name, spec);
  const absent = async (read: () => Promise<unknown>) =>
    read().then(
      () => false,
      (error: { code?: number }) => error.code === 404,
    );
  const start = () => startController({ kubeConfig: kc, namespace: NS, logger: quiet, secretRecheckMs: 60_000 });

  before(async () => {
    server = await startTestApiServer();
    kc = server.kubeConfig();
    await installCrd(server);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    controller = await start();
  });
  after(async () => {
    await controller?.stop();
    await server?.close();
  });

  it("leaves a user's Service of the proxy's name as it was, says why in the status and an Event, and goes on once it is gone", async () => {
    await kubectlOk(server, ["-n", NS, "create", "service", "clusterip", "tools", "--tcp=3000:3000"]);
    const users = await core.readNamespacedService({ name: "tools", namespace: NS });
    await createProxy("tools", { upstream: { service: { name: "tools-server", port: 3000 } }, authMode: "bypass" });

    const stalled = await stalledBy("tools", "ChildConflict");
    assert.match(stalled.message, /^Service tools exists and is not owned by this McpOidcProxy/);
    assert.equal((await condition("tools", "Ready"))?.status, "False");
    assert.equal((await condition("tools", "Degraded"))?.reason, "ChildConflict");
    assert.equal(kstatus(await readCr("tools")).status, "Failed", "kubectl wait and Flux stop waiting");
    const service = await core.readNamespacedService({ name: "tools", namespace: NS });
    assert.equal(service.metadata?.resourceVersion, users.metadata?.resourceVersion, "not written at all");
    assert.deepEqual(service.spec?.selector, { app: "tools" });
    assert.equal(service.metadata?.ownerReferences, undefined, "the garbage collector would delete it with the proxy");
    // Nothing else was written either: the conflict is found before the first apply.
    assert.ok(await absent(() => apps.readNamespacedDeployment({ name: "tools", namespace: NS })));
    assert.ok(await absent(() => core.readNamespacedSecret({ name: "tools-keys", namespace: NS })));
    const event = await eventually(async () => {
      const list = await core.listNamespacedEvent({ namespace: NS, fieldSelector: "involvedObject.name=tools" });
      return list.items.find((e) => e.reason === "ChildConflict");
    }, "a ChildConflict event");
    assert.equal(event.type, "Warning");
    assert.match(event.message ?? "", /Service tools exists and is not owned/);

    // The user's Service is not watched: the conflict is looked at again with backoff.
    await kubectlOk(server, ["-n", NS, "delete", "service", "tools"]);
    const ours = await eventually(
      () => core.readNamespacedService({ name: "tools", namespace: NS }),
      "the proxy's own Service",
      RECHECK_ATTEMPTS,
    );
    assert.equal(ours.metadata?.ownerReferences?.[0]?.kind, "McpOidcProxy");
    await eventually(() => apps.readNamespacedDeployment({ name: "tools", namespace: NS }), "the Deployment");
    await eventually(
      async () => ((await condition("tools", "Stalled"))?.status === "False" ? true : undefined),
      "Stalled=False",
    );
  });

  it("refuses a Service of the proxy's name that a user makes between the operator's check and its write, instead of taking it over", async () => {
    // The window held open: the user's Service appears just before the operator's first
    // write of it (the check found no object of that name). An apply would take it over.
    let userService: V1Service | undefined;
    class RacingApplier extends Applier {
      async #race(object: KubernetesObject) {
        if (userService || object.kind !== "Service" || object.metadata?.name !== "racy") return;
        await kubectlOk(server, ["-n", NS, "create", "service", "clusterip", "racy", "--tcp=3000:3000"]);
        userService = await core.readNamespacedService({ name: "racy", namespace: NS });
      }
      override async apply<T extends KubernetesObject>(object: T, manager?: string, uid?: string): Promise<T> {
        await this.#race(object);
        return super.apply(object, manager, uid);
      }
      override async create<T extends KubernetesObject>(object: T): Promise<T> {
        await this.#race(object);
        return super.create(object);
      }
    }
    await controller.stop();
    controller = await startController({
      kubeConfig: kc,
      namespace: NS,
      logger: quiet,
      applier: new RacingApplier(kc),
    });
    await createProxy("racy", { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" });
    const stalled = await stalledBy("racy", "ChildConflict");
    assert.match(stalled.message, /^Service racy exists and is not owned by this McpOidcProxy/);
    const service = await core.readNamespacedService({ name: "racy", namespace: NS });
    assert.equal(service.metadata?.resourceVersion, userService?.metadata?.resourceVersion, "not written at all");
    assert.deepEqual(service.spec?.selector, { app: "racy" });
    assert.equal(service.metadata?.ownerReferences, undefined);
    // What it did create is its own as if applied: a later apply can still remove a field.
    const configMap = await core.readNamespacedConfigMap({ name: "racy-config", namespace: NS });
    const operatorEntries = configMap.metadata?.managedFields?.filter((f) => f.manager === "mcp-oidc-operator");
    assert.deepEqual(
      operatorEntries?.map((f) => f.operation),
      ["Apply"],
    );
    await controller.stop();
    controller = await start();
  });

  it("leaves a user's CA ConfigMap whose name is the generated ConfigMap's untouched (config.yaml was merged into it)", async () => {
    await kubectlOk(server, ["-n", NS, "create", "configmap", "ca-config", "--from-literal=ca.crt=PEM"]);
    await createProxy("ca", {
      upstream: { url: "http://mcp-server:3000" },
      provider: { issuer: "https://login.example.com", clientId: "mcp", caConfigMapRef: { name: "ca-config" } },
    });
    const stalled = await stalledBy("ca", "ChildConflict");
    assert.match(stalled.message, /^ConfigMap ca-config exists and is not owned by this McpOidcProxy/);
    const configMap = await core.readNamespacedConfigMap({ name: "ca-config", namespace: NS });
    assert.deepEqual(configMap.data, { "ca.crt": "PEM" });
    assert.equal(configMap.metadata?.ownerReferences, undefined);
  });

  it("leaves a user's Secret of the session Secret's name alone instead of rolling out pods that cannot start", async () => {
    await kubectlOk(server, ["-n", NS, "create", "secret", "generic", "mine-keys", "--from-literal=password=hunter2"]);
    await createProxy("mine", { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" });
    const stalled = await stalledBy("mine", "ChildConflict");
    assert.match(stalled.message, /^Secret mine-keys exists and is not owned by this McpOidcProxy/);
    // Before: a Deployment referring to key session-secret, which the Secret lacks.
    assert.ok(await absent(() => apps.readNamespacedDeployment({ name: "mine", namespace: NS })));
    const secret = await core.readNamespacedSecret({ name: "mine-keys", namespace: NS });
    assert.deepEqual(Object.keys(secret.data ?? {}), ["password"]);
    assert.equal(secret.metadata?.ownerReferences, undefined);
  });

  it("names another McpOidcProxy's child as such (a child of a deleted resource, not yet garbage-collected)", async () => {
    // kube-controller-manager does not run here: a child whose owner is gone stays, as it
    // does in a cluster until the garbage collector gets to it.
    await createProxy("reborn", { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" });
    await eventually(() => apps.readNamespacedDeployment({ name: "reborn", namespace: NS }), "reborn's Deployment");
    await custom.deleteNamespacedCustomObject({ ...crApi, name: "reborn" });
    await createProxy("reborn", { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" });
    const stalled = await stalledBy("reborn", "ChildConflict");
    assert.match(stalled.message, /its controller is McpOidcProxy reborn/);
    // Once the garbage collector removes the old children (done by hand here), the new
    // resource gets its own: the deletions are events of the watched children.
    for (const kind of ["deployment", "service", "serviceaccount", "configmap", "secret", "poddisruptionbudget"])
      await kubectlOk(server, [
        "-n",
        NS,
        "delete",
        kind,
        "-l",
        "app.kubernetes.io/instance=reborn",
        "--ignore-not-found",
      ]);
    const cr = await readCr("reborn");
    const deployment = await eventually(
      async () => {
        const d = await apps.readNamespacedDeployment({ name: "reborn", namespace: NS });
        return d.metadata?.ownerReferences?.[0]?.uid === cr.metadata.uid ? d : undefined;
      },
      "reborn's new Deployment",
      RECHECK_ATTEMPTS,
    );
    assert.equal(deployment.metadata?.ownerReferences?.[0]?.controller, true);
  });

  it("reports the operator's own session Secret without its key (a Deployment would not start) until it is deleted and made anew", async () => {
    await createProxy("edited", { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" });
    await eventually(() => apps.readNamespacedDeployment({ name: "edited", namespace: NS }), "edited's Deployment");
    await kubectlOk(server, [
      "-n",
      NS,
      "patch",
      "secret",
      "edited-keys",
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/data/session-secret"}]',
    ]);
    const stalled = await stalledBy("edited", "SecretMissing");
    assert.match(stalled.message, /Secret edited-keys .* has no key session-secret: delete the Secret/);
    await kubectlOk(server, ["-n", NS, "delete", "secret", "edited-keys"]);
    const secret = await eventually(
      () => core.readNamespacedSecret({ name: "edited-keys", namespace: NS }),
      "a new edited-keys",
    );
    assert.ok(secret.data?.["session-secret"]);
    await eventually(
      async () => ((await condition("edited", "Stalled"))?.status === "False" ? true : undefined),
      "Stalled=False",
    );
  });

  it("still adopts its own children after a restart of the operator (empty caches: read, not taken for foreign)", async () => {
    await createProxy("kept", { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" });
    const first = await eventually(
      () => apps.readNamespacedDeployment({ name: "kept", namespace: NS }),
      "kept's Deployment",
    );
    await controller.stop();
    await custom.patchNamespacedCustomObject({
      ...crApi,
      name: "kept",
      body: [{ op: "add", path: "/spec/logLevel", value: "debug" }],
    });
    controller = await start();
    await eventually(async () => {
      const config = await core.readNamespacedConfigMap({ name: "kept-config", namespace: NS });
      return /level: debug/.test(config.data?.["config.yaml"] ?? "") ? config : undefined;
    }, "the change applied to the existing ConfigMap by the new operator");
    const cr = await readCr("kept");
    assert.equal((await condition("kept", "Stalled"))?.status, "False");
    assert.ok(!cr.status?.conditions?.some((c) => c.reason === "ChildConflict"), "its own children are no conflict");
    const deployment = await apps.readNamespacedDeployment({ name: "kept", namespace: NS });
    assert.equal(deployment.metadata?.uid, first.metadata?.uid, "the same Deployment, not a new one");
  });

  it("adopts its own children orphaned by kubectl delete --cascade=orphan when the resource is made again", async () => {
    await createProxy("orphans", { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" });
    const first = await eventually(
      () => apps.readNamespacedDeployment({ name: "orphans", namespace: NS }),
      "orphans' Deployment",
    );
    await custom.deleteNamespacedCustomObject({ ...crApi, name: "orphans" });
    // What the garbage collector does to the children of a resource deleted with
    // --cascade=orphan (it does not run here): their owner references go.
    const children = ["deployment/orphans", "service/orphans", "serviceaccount/orphans", "configmap/orphans-config"];
    for (const child of [...children, "secret/orphans-keys"])
      await kubectlOk(server, [
        "-n",
        NS,
        "patch",
        child,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/ownerReferences"}]',
      ]);
    await createProxy("orphans", { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" });
    const cr = await readCr("orphans");
    const adopted = await eventually(async () => {
      const d = await apps.readNamespacedDeployment({ name: "orphans", namespace: NS });
      return d.metadata?.ownerReferences?.[0]?.uid === cr.metadata.uid ? d : undefined;
    }, "the Deployment adopted");
    assert.equal(adopted.metadata?.uid, first.metadata?.uid, "the same Deployment");
    await eventually(
      async () => ((await condition("orphans", "Stalled"))?.status === "False" ? true : undefined),
      "Stalled=False",
    );
  });

  it("refuses an upstream Service of its own name in the status too, for a CRD installed before that rule", async () => {
    // The CRD as it was: without the root rule that refuses it at kubectl apply.
    const crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/mcpoidcproxies.mcp-oidc-proxy.dev";
    const crd = (await server.request("GET", crdPath)).body as {
      spec: { versions: { schema: { openAPIV3Schema: { "x-kubernetes-validations": { rule: string }[] } } }[] };
    };
    const schema = crd.spec.versions[0]?.schema.openAPIV3Schema;
    assert.ok(schema);
    schema["x-kubernetes-validations"] = schema["x-kubernetes-validations"].filter(
      (rule) => !rule.rule.includes("upstream.service.name"),
    );
    assert.equal((await server.request("PUT", crdPath, crd)).status, 200);
    await eventually(
      () =>
        createProxy("loop", { upstream: { service: { name: "loop", port: 3000 } }, authMode: "bypass" }).then(
          () => true,
        ),
      "the resource accepted by the older CRD",
    );
    const stalled = await stalledBy("loop", "InvalidSpec");
    assert.match(stalled.message, /upstream.service.name must not be loop, the McpOidcProxy's own name/);
    assert.ok(await absent(() => core.readNamespacedService({ name: "loop", namespace: NS })));
    // The CRD upgraded to the rule: the stored resource can still be written (its status
    // said nothing, since a root rule is checked on every write), but not re-pointed at itself.
    const current = (await server.request("GET", crdPath)).body as { metadata: { resourceVersion: string } };
    const generated = parse(readFileSync(CRD_PATH, "utf8")) as { spec: unknown };
    const upgraded = await server.request("PUT", crdPath, { ...current, spec: generated.spec });
    assert.equal(upgraded.status, 200, JSON.stringify(upgraded.body));
    // In effect once a new resource pointing at itself is refused.
    await eventually(
      async () =>
        (await server
          .request("POST", `/apis/mcp-oidc-proxy.dev/v1alpha1/namespaces/${NS}/mcpoidcproxies?dryRun=All`, {
            apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
            kind: "McpOidcProxy",
            metadata: { name: "probe" },
            spec: { upstream: { service: { name: "probe", port: 3000 } }, authMode: "bypass" },
          })
          .then((answer) => answer.status === 422))
          ? true
          : undefined,
      "the upgraded CRD in effect",
    );
    const cr = await readCr("loop");
    const labelled = await server.request(
      "PUT",
      `/apis/mcp-oidc-proxy.dev/v1alpha1/namespaces/${NS}/mcpoidcproxies/loop`,
      {
        ...cr,
        metadata: { ...cr.metadata, labels: { team: "a" } },
      },
    );
    assert.equal(labelled.status, 200, JSON.stringify(labelled.body));
    await createProxy("elsewhere", { upstream: { service: { name: "tools-server", port: 3000 } }, authMode: "bypass" });
    await assert.rejects(
      custom.patchNamespacedCustomObject({
        ...crApi,
        name: "elsewhere",
        body: [{ op: "replace", path: "/spec/upstream/service/name", value: "elsewhere" }],
      }),
      (error: { code?: number; body?: unknown }) => error.code === 422 && /own name/.test(String(error.body)),
    );
  });
});
