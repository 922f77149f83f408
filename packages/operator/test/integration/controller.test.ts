// The controller against a real kube-apiserver: a McpOidcProxy becomes its children and a
// status; changes roll out; deleted or hand-edited children are put back. No
// kube-controller-manager runs here, so Deployments never roll out by themselves: the test
// writes their status the way the Deployment controller would, and a hand-edit the way
// kubectl does (a strategic-merge patch under its own field manager).
import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import { after, before, describe, it } from "node:test";
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PolicyV1Api,
  type V1Deployment,
} from "@kubernetes/client-node";
import type { Condition, McpOidcProxy } from "../../src/api/v1alpha1/mcp-oidc-proxy.ts";
import { type RunningController, startController } from "../../src/controller/controller.ts";
import { CONFIG_HASH_ANNOTATION } from "../../src/desired/children.ts";
import { isInvalidObject } from "../../src/runtime/api-error.ts";
import { Applier } from "../../src/runtime/apply.ts";
import { requestJson } from "../../src/runtime/raw-client.ts";
import { conditionReached } from "../support/conditions.ts";
import { generatedCrd, installCrd, mcpOidcProxies, replaceCrd } from "../support/crd.ts";
import { eventually } from "../support/eventually.ts";
import { kstatus } from "../support/kstatus.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";
import { kubectlOk } from "../support/kubectl.ts";
import { recordingLogger } from "../support/recording-logger.ts";

const NS = "tools";
const crApi = mcpOidcProxies(NS);
const recording = recordingLogger();
/** What the controller warned of (retries, terminal ends), as a user reads its log. */
const warnings = () => recording.lines.filter((line) => line.level === "warn");

const notFound = async (read: () => Promise<unknown>) => {
  try {
    await read();
    return undefined;
  } catch (error) {
    return (error as { code?: number }).code === 404 ? true : undefined;
  }
};

describe("McpOidcProxy controller", () => {
  let server: TestApiServer;
  let kc: KubeConfig;
  let controller: RunningController;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let custom: CustomObjectsApi;
  let reconciles = 0;

  const readCr = () => custom.getNamespacedCustomObject({ ...crApi, name: "tools" }) as Promise<McpOidcProxy>;
  const readyCondition = async () => (await readCr()).status?.conditions?.find((c) => c.type === "Ready");
  const conditionOf = async (type: string, name = "tools") =>
    ((await custom.getNamespacedCustomObject({ ...crApi, name })) as McpOidcProxy).status?.conditions?.find(
      (c) => c.type === type,
    );
  /**
   * The Deployment's status as kube-controller-manager (not running here) would write it: read,
   * then written with that resourceVersion, again after a 409 when the operator's apply came
   * in between (as every controller's status writer does; a busy machine makes that likely).
   */
  const writeDeploymentStatus = async (status: NonNullable<V1Deployment["status"]>) => {
    for (let attempt = 1; ; attempt++) {
      const deployment = await readDeployment();
      try {
        await apps.replaceNamespacedDeploymentStatus({
          name: "tools",
          namespace: NS,
          body: { ...deployment, status: { observedGeneration: deployment.metadata?.generation ?? 1, ...status } },
        });
        return;
      } catch (error) {
        if ((error as { code?: number }).code !== 409 || attempt === 10) throw error;
      }
    }
  };
  const readDeployment = () => apps.readNamespacedDeployment({ name: "tools", namespace: NS });
  const templateHash = (d: V1Deployment) => d.spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];

  before(async () => {
    server = await startTestApiServer();
    kc = server.kubeConfig();
    await installCrd(server);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: "oidc" },
        stringData: { "client-secret": "s3cret", "redis-url": "redis://redis:6379" },
      },
    });
    controller = await startController({
      kubeConfig: kc,
      namespace: NS,
      logger: recording,
      secretRecheckMs: 200,
      observer: {
        reconciled: () => {
          reconciles += 1;
        },
      },
    });
    await custom.createNamespacedCustomObject({
      ...crApi,
      body: {
        apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
        kind: "McpOidcProxy",
        metadata: { name: "tools", labels: { "argocd.argoproj.io/instance": "platform" } },
        spec: {
          upstream: { service: { name: "mcp-server", port: 3000 } },
          publicUrl: "https://tools.example.com",
          provider: {
            issuer: "https://login.example.com/realms/acme",
            clientId: "mcp",
            clientSecretRef: { name: "oidc", key: "client-secret" },
          },
          session: { store: "redis", redis: { urlSecretRef: { name: "oidc", key: "redis-url" } } },
          replicas: 2,
        },
      },
    });
  });
  after(async () => {
    await controller?.stop();
    await server?.close();
  });

  it("creates every child, owned by the resource, and reports Ready=False while rolling out", async () => {
    const deployment = await eventually(() => readDeployment(), "the Deployment");
    assert.equal(deployment.spec?.replicas, 2);
    assert.equal(deployment.metadata?.ownerReferences?.[0]?.kind, "McpOidcProxy");
    assert.equal(deployment.metadata?.labels?.["argocd.argoproj.io/instance"], undefined);
    const config = await core.readNamespacedConfigMap({ name: "tools-config", namespace: NS });
    assert.match(config.data?.["config.yaml"] ?? "", /url: http:\/\/mcp-server.tools.svc:3000/);
    const keys = await core.readNamespacedSecret({ name: "tools-keys", namespace: NS });
    assert.ok(keys.data?.["session-secret"], "a session secret was generated");
    // kube-controller-manager does not run here: what garbage collection needs is asserted.
    const cr = await readCr();
    const children = [
      deployment,
      config,
      keys,
      await core.readNamespacedService({ name: "tools", namespace: NS }),
      await core.readNamespacedServiceAccount({ name: "tools", namespace: NS }),
      await kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ name: "tools", namespace: NS }),
    ];
    for (const child of children) {
      const owner = child.metadata?.ownerReferences?.[0];
      assert.equal(owner?.uid, cr.metadata.uid, `${child.kind ?? "child"} ${child.metadata?.name} is owned`);
      assert.equal(owner?.controller, true);
      assert.equal(owner?.blockOwnerDeletion, true);
    }
    const ready = await eventually(readyCondition, "the Ready condition");
    assert.equal(ready.status, "False");
    assert.equal(ready.reason, "RolloutInProgress");
    assert.equal(kstatus(await readCr()).status, "InProgress", "Flux/cli-utils wait while it rolls out");
    // Read again: the status is written after the children (the read above may precede it).
    const withStatus = await readCr();
    assert.equal(withStatus.status?.observedGeneration, withStatus.metadata.generation);
    assert.equal(withStatus.status?.url, "https://tools.example.com");
    assert.equal(withStatus.status?.selector, "app.kubernetes.io/name=mcp-oidc-proxy,app.kubernetes.io/instance=tools");
  });

  it("reports Ready=True once the Deployment is available", async () => {
    await writeDeploymentStatus({ replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    const ready = await eventually(async () => {
      const condition = await readyCondition();
      return condition?.status === "True" ? condition : undefined;
    }, "Ready=True");
    assert.equal(ready.reason, "Available");
    assert.equal((await readCr()).status?.readyReplicas, 2);
    const events = await eventually(async () => {
      const list = await core.listNamespacedEvent({ namespace: NS, fieldSelector: "involvedObject.name=tools" });
      return list.items.some((e) => e.reason === "Available") ? list.items : undefined;
    }, "an Available event");
    const available = events.find((e) => e.reason === "Available");
    assert.equal(available?.type, "Normal");
    assert.equal(available?.involvedObject.kind, "McpOidcProxy");
  });

  it("shows in kubectl get the Ready condition with its reason and the pods as counted", async () => {
    const table = await kubectlOk(server, ["-n", NS, "get", "mop", "tools"]);
    const [header, row] = table
      .trim()
      .split("\n")
      .map((line) => line.trim().split(/\s+/));
    assert.deepEqual(header, ["NAME", "READY", "REASON", "REPLICAS", "READY-REPLICAS", "URL", "AGE"]);
    assert.deepEqual(row?.slice(0, 6), ["tools", "True", "Available", "2", "2", "https://tools.example.com"]);
  });

  it("writes nothing when nothing changed (reconciles of a settled resource are no-ops)", async () => {
    const versions = async () => {
      const [cr, deployment, config, service] = await Promise.all([
        readCr(),
        readDeployment(),
        core.readNamespacedConfigMap({ name: "tools-config", namespace: NS }),
        core.readNamespacedService({ name: "tools", namespace: NS }),
      ]);
      return [cr, deployment, config, service].map((o) => o.metadata?.resourceVersion);
    };
    const before = await versions();
    // Three full reconciles of the unchanged resource, one after the other.
    for (let i = 0; i < 3; i++) {
      const finished = reconciles;
      controller.queue.add(`${NS}/tools`);
      await eventually(async () => (reconciles > finished ? true : undefined), "a reconcile to finish");
    }
    assert.deepEqual(await versions(), before);
  });

  it("sends no DELETE for optional children the watch caches do not have (two 404s on every reconcile)", async () => {
    const methods: string[] = [];
    const record = (message: unknown) => {
      const { request } = message as { request: { method: string; path: string } };
      methods.push(`${request.method} ${request.path.split("?")[0]}`);
    };
    diagnosticsChannel.subscribe("undici:request:create", record);
    try {
      const finished = reconciles;
      controller.queue.add(`${NS}/tools`);
      await eventually(async () => (reconciles > finished ? true : undefined), "a reconcile to finish");
    } finally {
      diagnosticsChannel.unsubscribe("undici:request:create", record);
    }
    assert.ok(
      methods.some((m) => m.startsWith("PATCH ")),
      methods.join(", "),
    );
    assert.deepEqual(
      methods.filter((m) => m.startsWith("DELETE ")),
      [],
    );
  });

  it("puts back a deleted child and a hand-edited one", async () => {
    await core.deleteNamespacedConfigMap({ name: "tools-config", namespace: NS });
    await eventually(() => core.readNamespacedConfigMap({ name: "tools-config", namespace: NS }), "the ConfigMap back");
    const deployment = await readDeployment();
    await apps.replaceNamespacedDeployment({
      name: "tools",
      namespace: NS,
      body: { ...deployment, spec: { ...(deployment.spec as NonNullable<V1Deployment["spec"]>), replicas: 7 } },
    });
    await eventually(
      async () => ((await readDeployment()).spec?.replicas === 2 ? true : undefined),
      "replicas back to 2",
    );
  });

  it("rolls the pods when the configuration or a referenced Secret changes", async () => {
    const before = templateHash(await readDeployment());
    await custom.patchNamespacedCustomObject({
      ...crApi,
      name: "tools",
      body: [{ op: "replace", path: "/spec/logLevel", value: "debug" }],
    });
    const afterSpec = await eventually(async () => {
      const hash = templateHash(await readDeployment());
      return hash !== before ? hash : undefined;
    }, "a new pod template hash after a spec change");
    await core.replaceNamespacedSecret({
      name: "oidc",
      namespace: NS,
      body: {
        metadata: { name: "oidc" },
        stringData: { "client-secret": "rotated", "redis-url": "redis://redis:6379" },
      },
    });
    // Secrets are not watched: the periodic recheck of resources that reference one
    // (200 ms here, 5 min by default) picks the rotation up.
    await eventually(async () => {
      const hash = templateHash(await readDeployment());
      return hash !== afterSpec ? hash : undefined;
    }, "a new pod template hash after a Secret change");
  });

  it("switches to autoscaling without fighting the HPA over replicas, and back", async () => {
    await custom.patchNamespacedCustomObject({
      ...crApi,
      name: "tools",
      body: [{ op: "add", path: "/spec/autoscaling", value: { enabled: true, minReplicas: 2, maxReplicas: 5 } }],
    });
    const autoscalingApi = kc.makeApiClient(AutoscalingV2Api);
    const hpa = await eventually(
      () => autoscalingApi.readNamespacedHorizontalPodAutoscaler({ name: "tools", namespace: NS }),
      "the HPA",
    );
    assert.equal(hpa.spec?.maxReplicas, 5);
    // Handing replicas over to the HPA must not drop the Deployment to the default of 1.
    assert.equal((await readDeployment()).spec?.replicas, 2);
    // The HPA scales the Deployment; the operator must not set replicas back.
    const deployment = await readDeployment();
    await apps.replaceNamespacedDeployment({
      name: "tools",
      namespace: NS,
      body: { ...deployment, spec: { ...(deployment.spec as NonNullable<V1Deployment["spec"]>), replicas: 4 } },
    });
    controller.queue.add(`${NS}/tools`);
    await eventually(
      async () =>
        (await readCr()).metadata.generation === (await readCr()).status?.observedGeneration ? true : undefined,
      "a reconcile",
    );
    assert.equal((await readDeployment()).spec?.replicas, 4);

    await custom.patchNamespacedCustomObject({
      ...crApi,
      name: "tools",
      body: [{ op: "remove", path: "/spec/autoscaling" }],
    });
    await eventually(
      () => notFound(() => autoscalingApi.readNamespacedHorizontalPodAutoscaler({ name: "tools", namespace: NS })),
      "the HPA removed",
    );
    await eventually(
      async () => ((await readDeployment()).spec?.replicas === 2 ? true : undefined),
      "fixed replicas again",
    );
  });

  it("keeps working across an API server restart (watches are re-established)", async () => {
    await server.restart();
    await custom.createNamespacedCustomObject({
      ...crApi,
      body: {
        apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
        kind: "McpOidcProxy",
        metadata: { name: "after-restart" },
        spec: { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" },
      },
    });
    const deployment = await eventually(
      () => apps.readNamespacedDeployment({ name: "after-restart", namespace: NS }),
      "a Deployment for a resource created after the restart",
    );
    assert.equal(deployment.metadata?.ownerReferences?.[0]?.name, "after-restart");
  });

  it("reports a child the API server refuses as Degraded/ApplyFailed and recovers once fixed", async () => {
    // An admission policy (as a cluster's Gatekeeper or Kyverno would) refuses the
    // Deployment while it asks for imagePullPolicy Never: 403, retried with backoff.
    await server.request("POST", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies", {
      metadata: { name: "no-never" },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            { apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["deployments"] },
          ],
        },
        validations: [
          {
            expression:
              "object.spec.template.spec.containers.all(c, !has(c.imagePullPolicy) || c.imagePullPolicy != 'Never')",
            message: "imagePullPolicy Never is not allowed here",
            reason: "Forbidden",
          },
        ],
      },
    });
    await server.request("POST", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings", {
      metadata: { name: "no-never" },
      spec: { policyName: "no-never", validationActions: ["Deny"] },
    });
    // The policy takes effect once the API server has loaded it: a dry run says when.
    const probe = (await readDeployment()) as V1Deployment & { metadata: Record<string, unknown> };
    await eventually(async () => {
      const template = structuredClone(probe.spec?.template) as NonNullable<V1Deployment["spec"]>["template"];
      for (const container of template.spec?.containers ?? []) container.imagePullPolicy = "Never";
      const answer = await server.request("POST", `/apis/apps/v1/namespaces/${NS}/deployments?dryRun=All`, {
        metadata: { name: "policy-probe" },
        spec: { selector: probe.spec?.selector, template },
      });
      return answer.status === 403 ? true : undefined;
    }, "the admission policy in effect");
    await custom.patchNamespacedCustomObject({
      ...crApi,
      name: "tools",
      body: [{ op: "add", path: "/spec/imagePullPolicy", value: "Never" }],
    });
    const degraded = await eventually(async () => {
      const condition = (await readCr()).status?.conditions?.find((c) => c.type === "Degraded");
      return condition?.status === "True" ? condition : undefined;
    }, "Degraded=True");
    assert.equal(degraded.reason, "ApplyFailed");
    // Every condition says the same, "retrying: ..." first and the HTTP status last.
    assert.match(degraded.message, /^retrying: .*imagePullPolicy Never is not allowed here.* \(HTTP 403\)$/);
    assert.equal((await conditionOf("Ready"))?.message, degraded.message);
    assert.equal((await conditionOf("Stalled"))?.status, "False", "a refusal by admission may pass later: retried");
    // Retry log lines carried client-node's whole HTTP error, headers included (~1 KB each).
    const retry = warnings().find(
      (w) => w.message === "reconcile failed; retrying" && /imagePullPolicy Never/.test(String(w.meta?.error)),
    );
    assert.equal(retry?.meta?.status, 403);
    assert.doesNotMatch(String(retry?.meta?.error), /Headers|content-type/i);
    await custom.patchNamespacedCustomObject({
      ...crApi,
      name: "tools",
      body: [{ op: "remove", path: "/spec/imagePullPolicy" }],
    });
    await eventually(async () => {
      const condition = (await readCr()).status?.conditions?.find((c) => c.type === "Degraded");
      return condition?.status === "False" ? condition : undefined;
    }, "Degraded=False again");
    await server.request("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/no-never");
    await server.request("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/no-never");
  });

  /**
   * A spec the operator cannot roll out: the resource ends Stalled (ChildInvalid when the API
   * server refuses its Deployment), `check` looks at how, and once the spec is fixed it goes on
   * (Stalled=False).
   */
  const stalledByResources = async (
    resources: unknown,
    check: (stalled: Condition) => Promise<void>,
    reason = "ChildInvalid",
  ) => {
    await custom.patchNamespacedCustomObject({
      ...crApi,
      name: "tools",
      body: [{ op: "add", path: "/spec/resources", value: resources }],
    });
    await check(await conditionReached(conditionOf, "Stalled", "True", reason));
    await custom.patchNamespacedCustomObject({
      ...crApi,
      name: "tools",
      body: [{ op: "remove", path: "/spec/resources" }],
    });
    await conditionReached(conditionOf, "Stalled", "False");
  };

  // Of Kubernetes' quantity form, but its exponent overflows int64: the CRD refuses it now
  // (isQuantity), as the operator's schema does; the apply of a Deployment holding it is
  // answered 500 "unable to convert unstructured object".
  const unconvertible = { requests: { cpu: "1e99999999999999999999" } };

  /** The CRD as it was before it asked Kubernetes to parse each quantity (isQuantity). */
  const crdWithoutQuantityParse = () =>
    JSON.parse(JSON.stringify(generatedCrd()), (key, value) =>
      key === "x-kubernetes-validations" && Array.isArray(value)
        ? value.filter((rule: { rule: string }) => !rule.rule.includes("|| isQuantity(self)"))
        : value,
    );

  it("reports a quantity stored before the CRD refused it as Stalled/InvalidSpec, naming the field, without applying it", async () => {
    const takes = async () => {
      const answer = await server.request(
        "POST",
        `/apis/${crApi.group}/${crApi.version}/namespaces/${NS}/${crApi.plural}?dryRun=All`,
        {
          apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
          kind: "McpOidcProxy",
          metadata: { name: "probe" },
          spec: { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass", resources: unconvertible },
        },
      );
      return answer.status === 201;
    };
    assert.equal(await takes(), false, "the CRD refuses it");
    // As under an earlier CRD: such a resource stays stored across the upgrade.
    await replaceCrd(server, crdWithoutQuantityParse(), takes);
    try {
      const check = async (stalled: Condition) => {
        assert.match(stalled.message, /^resources\.requests\.cpu: .*Kubernetes can read/);
        assert.equal(kstatus(await readCr()).status, "Failed", "kubectl wait, Flux and Argo CD stop waiting");
        const applied = (await readDeployment()).spec?.template.spec?.containers[0]?.resources?.requests;
        assert.notEqual(applied?.cpu, unconvertible.requests.cpu, "the Deployment stays as it was");
      };
      await stalledByResources(unconvertible, check, "InvalidSpec");
    } finally {
      await replaceCrd(server, generatedCrd(), async () => !(await takes()));
    }
  });

  it("tells the API server's 500 for a child it cannot convert from a 500 worth retrying", async () => {
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "unconvertible", namespace: NS },
      spec: {
        selector: { matchLabels: { app: "unconvertible" } },
        template: {
          metadata: { labels: { app: "unconvertible" } },
          spec: { containers: [{ name: "c", image: "proxy", resources: unconvertible }] },
        },
      },
    };
    const refusal = await new Applier(kc).apply(deployment as never).then(
      () => assert.fail("the API server took it"),
      (error: unknown) => error,
    );
    assert.equal((refusal as { code?: number }).code, 500, String(refusal));
    assert.equal(isInvalidObject(refusal), true, "only a change of the object can fix it");
  });

  it("reports a child the API server finds invalid (422) as Stalled instead of retrying it forever, until the spec changes", async () => {
    // Passes the CRD, but the Deployment is invalid: requests above limits.
    await stalledByResources({ requests: { cpu: "2" }, limits: { cpu: "1" } }, async (stalled) => {
      assert.match(stalled.message, /^Deployment tools: .*must be less than or equal to cpu limit/);
      assert.equal((await conditionOf("Degraded"))?.reason, "ChildInvalid");
      assert.equal(kstatus(await readCr()).status, "Failed");
      assert.ok(
        warnings().some(
          (w) => w.message === "reconcile stopped: the resource must change" && w.meta?.reason === "ChildInvalid",
        ),
        "the reconcile ended as terminal",
      );
      assert.ok(
        !warnings().some((w) => w.message === "reconcile failed; retrying" && w.meta?.status === 422),
        "a 422 is not retried with backoff",
      );
    });
  });

  it("reports a missing Secret as Degraded instead of failing over and over", async () => {
    await custom.patchNamespacedCustomObject({
      ...crApi,
      name: "tools",
      body: [{ op: "replace", path: "/spec/provider/clientSecretRef/name", value: "does-not-exist" }],
    });
    const degraded = await eventually(async () => {
      const condition = (await readCr()).status?.conditions?.find((c) => c.type === "Degraded");
      return condition?.status === "True" ? condition : undefined;
    }, "Degraded=True");
    assert.equal(degraded.reason, "SecretMissing");
    assert.match(degraded.message, /does-not-exist/);
    const stalled = await conditionOf("Stalled");
    assert.equal(stalled?.status, "True");
    assert.equal(stalled?.reason, "SecretMissing");
    const warning = await eventually(async () => {
      const list = await core.listNamespacedEvent({ namespace: NS, fieldSelector: "involvedObject.name=tools" });
      return list.items.find((e) => e.reason === "SecretMissing");
    }, "a SecretMissing event");
    assert.equal(warning.type, "Warning");
  });

  it("notices a missing Secret once it is created, without waiting for the 10-minute resync", async () => {
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: "does-not-exist" }, stringData: { "client-secret": "late" } },
    });
    await eventually(async () => {
      const condition = await conditionOf("Degraded");
      return condition?.status === "False" ? condition : undefined;
    }, "Degraded=False once the Secret exists");
    assert.equal((await conditionOf("Stalled"))?.status, "False");
  });

  it("takes back an env var set by hand (kubectl set env made every apply fail with 422)", async () => {
    const path = `/apis/apps/v1/namespaces/${NS}/deployments/tools?fieldManager=kubectl-set`;
    // What `kubectl set env deploy/tools OIDC_CLIENT_SECRET=plaintext` sends.
    await requestJson(
      kc,
      "PATCH",
      path,
      {
        spec: {
          template: {
            spec: {
              containers: [
                { name: "proxy", env: [{ name: "OIDC_CLIENT_SECRET", value: "plaintext", valueFrom: null }] },
              ],
            },
          },
        },
      },
      "application/strategic-merge-patch+json",
    );
    const env = await eventually(async () => {
      const entry = (await readDeployment()).spec?.template.spec?.containers[0]?.env?.find(
        (e) => e.name === "OIDC_CLIENT_SECRET",
      );
      return entry?.valueFrom ? entry : undefined;
    }, "OIDC_CLIENT_SECRET from the Secret again");
    assert.equal(env.value, undefined);
    assert.equal(env.valueFrom?.secretKeyRef?.name, (await readCr()).spec.provider?.clientSecretRef?.name);
    assert.equal(env.valueFrom?.secretKeyRef?.key, "client-secret");
    assert.doesNotMatch(JSON.stringify(await readDeployment()), /plaintext/);
    // The reconcile that took it back went on to the status: no failure left behind.
    await eventually(async () => {
      const condition = await conditionOf("Degraded");
      return condition?.status === "False" ? condition : undefined;
    }, "Degraded=False");
  });

  it("takes back every field another manager added to the pod template (a hand edit turned sign-in off for good)", async () => {
    const patch = (manager: string, body: unknown, type = "application/strategic-merge-patch+json") =>
      requestJson(kc, "PATCH", `/apis/apps/v1/namespaces/${NS}/deployments/tools?fieldManager=${manager}`, body, type);
    const template = (spec: Record<string, unknown>) => ({ spec: { template: { spec } } });
    const proxy = (fields: Record<string, unknown>) => template({ containers: [{ name: "proxy", ...fields }] });
    type Live = V1Deployment;
    const container = (d: Live) => d.spec?.template.spec?.containers.find((c) => c.name === "proxy");
    const edits: [string, () => Promise<unknown>, (d: Live) => boolean][] = [
      [
        "kubectl set env MCP_ENV=development AUTH_MODE=bypass MCP_AUTH_MODE=off MCP_TARGET_URL=http://evil:1",
        () =>
          patch(
            "kubectl-set",
            proxy({
              env: ["MCP_ENV=development", "AUTH_MODE=bypass", "MCP_AUTH_MODE=off", "MCP_TARGET_URL=http://evil:1"].map(
                (pair) => ({ name: pair.split("=")[0], value: pair.split("=").slice(1).join("=") }),
              ),
            }),
          ),
        (d) =>
          !container(d)?.env?.some((e) => ["MCP_ENV", "AUTH_MODE", "MCP_AUTH_MODE", "MCP_TARGET_URL"].includes(e.name)),
      ],
      [
        "envFrom a Secret",
        () => patch("kubectl-patch", proxy({ envFrom: [{ secretRef: { name: "oidc" } }] })),
        (d) => container(d)?.envFrom === undefined,
      ],
      [
        "a command replacing the entrypoint",
        () => patch("kubectl-edit", proxy({ command: ["sh", "-c", "sleep 1d"] })),
        (d) => container(d)?.command === undefined,
      ],
      [
        "a sidecar container",
        () => patch("kubectl-patch", template({ containers: [{ name: "sidecar", image: "busybox" }] })),
        (d) => d.spec?.template.spec?.containers.length === 1,
      ],
      [
        "an initContainer",
        () => patch("kubectl-patch", template({ initContainers: [{ name: "init", image: "busybox" }] })),
        (d) => (d.spec?.template.spec?.initContainers ?? []).length === 0,
      ],
      [
        "hostNetwork: true",
        () => patch("kubectl-edit", template({ hostNetwork: true })),
        (d) => d.spec?.template.spec?.hostNetwork !== true,
      ],
      [
        "a nodeSelector",
        () => patch("kubectl-patch", template({ nodeSelector: { pool: "untrusted" } })),
        (d) => d.spec?.template.spec?.nodeSelector?.pool === undefined,
      ],
      [
        "a toleration applied server-side by another tool",
        () =>
          patch(
            "another-tool",
            {
              apiVersion: "apps/v1",
              kind: "Deployment",
              metadata: { name: "tools", namespace: NS },
              spec: { template: { spec: { tolerations: [{ key: "spot", operator: "Exists" }] } } },
            },
            "application/apply-patch+yaml",
          ),
        (d) => (d.spec?.template.spec?.tolerations ?? []).length === 0,
      ],
      ["spec.paused: true", () => patch("kubectl-patch", { spec: { paused: true } }), (d) => d.spec?.paused !== true],
      [
        "an extra Deployment label",
        () =>
          patch("kubectl-label", { metadata: { labels: { team: "someone-else" } } }, "application/merge-patch+json"),
        (d) => d.metadata?.labels?.team === undefined,
      ],
    ];
    for (const [edit, make, healed] of edits) {
      await make();
      await eventually(async () => (healed(await readDeployment()) ? true : undefined), `${edit} taken back`);
    }
    // What `kubectl rollout restart` sends: its annotation rolls the pods and stays.
    const restartedAt = "2026-12-01T21:00:00Z";
    await patch("kubectl-rollout", {
      spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": restartedAt } } } },
    });
    // A later hand edit is healed while the restart annotation is kept.
    await patch("kubectl-set", proxy({ env: [{ name: "AUTH_MODE", value: "bypass" }] }));
    const healed = await eventually(async () => {
      const d = await readDeployment();
      return container(d)?.env?.some((e) => e.name === "AUTH_MODE") ? undefined : d;
    }, "AUTH_MODE taken back after the restart");
    assert.equal(healed.spec?.template.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"], restartedAt);
    assert.equal(
      container(healed)?.env?.find((e) => e.name === "OIDC_CLIENT_SECRET")?.valueFrom?.secretKeyRef?.key,
      "client-secret",
    );
  });

  it("reports a rollout past its progress deadline, or whose pods cannot be created, as Degraded and Stalled", async () => {
    await writeDeploymentStatus({
      replicas: 2,
      updatedReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      conditions: [
        {
          type: "Progressing",
          status: "False",
          reason: "ProgressDeadlineExceeded",
          message: 'ReplicaSet "tools-5d4f8" has timed out progressing.',
        },
      ],
    });
    const stalled = await eventually(async () => {
      const condition = await conditionOf("Stalled");
      return condition?.status === "True" && condition.reason === "ProgressDeadlineExceeded" ? condition : undefined;
    }, "Stalled=True (ProgressDeadlineExceeded)");
    assert.match(stalled.message, /timed out progressing/);
    const degraded = await conditionOf("Degraded");
    assert.equal(degraded?.status, "True");
    assert.equal(degraded?.reason, "ProgressDeadlineExceeded");
    assert.match(degraded?.message ?? "", /^Deployment tools: ReplicaSet "tools-5d4f8" has timed out progressing/);
    assert.equal((await conditionOf("Progressing"))?.status, "False");
    // What Flux and cli-utils conclude: Failed (they waited for their timeout before).
    assert.deepEqual(kstatus(await readCr()), {
      status: "Failed",
      message: 'Deployment tools: ReplicaSet "tools-5d4f8" has timed out progressing.',
    });

    // The ReplicaSet's FailedCreate, as the Deployment controller mirrors it (ReplicaFailure).
    await writeDeploymentStatus({
      replicas: 1,
      updatedReplicas: 0,
      readyReplicas: 1,
      availableReplicas: 1,
      conditions: [
        { type: "Progressing", status: "True", reason: "ReplicaSetUpdated", message: "progressing" },
        {
          type: "ReplicaFailure",
          status: "True",
          reason: "FailedCreate",
          message: 'pods "tools-5d4f8-" is forbidden: exceeded quota: compute',
        },
      ],
    });
    const failed = await eventually(async () => {
      const condition = await conditionOf("Degraded");
      return condition?.status === "True" && condition.reason === "FailedCreate" ? condition : undefined;
    }, "Degraded=True (FailedCreate)");
    assert.match(failed.message, /exceeded quota/);
    assert.equal((await conditionOf("Stalled"))?.reason, "FailedCreate");

    await writeDeploymentStatus({ replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    await eventually(async () => {
      const condition = await conditionOf("Stalled");
      return condition?.status === "False" ? condition : undefined;
    }, "Stalled=False once the rollout completes");
    assert.equal((await readyCondition())?.status, "True");
    assert.equal((await conditionOf("Degraded"))?.status, "False");
    assert.equal(kstatus(await readCr()).status, "Current");
  });

  it("recreates a deleted generated Secret at once and rolls the pods (they would disagree on the key)", async () => {
    // No Secret referenced: nothing but the watch of the generated Secret can notice.
    await custom.createNamespacedCustomObject({
      ...crApi,
      body: {
        apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
        kind: "McpOidcProxy",
        metadata: { name: "plain" },
        spec: { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" },
      },
    });
    const readPlain = () => apps.readNamespacedDeployment({ name: "plain", namespace: NS });
    await eventually(readPlain, "the Deployment of plain");
    const keys = await core.readNamespacedSecret({ name: "plain-keys", namespace: NS });
    const before = templateHash(await readPlain());
    await core.deleteNamespacedSecret({ name: "plain-keys", namespace: NS });
    const recreated = await eventually(async () => {
      const secret = await core.readNamespacedSecret({ name: "plain-keys", namespace: NS });
      return secret.metadata?.uid !== keys.metadata?.uid ? secret : undefined;
    }, "plain-keys recreated");
    assert.notEqual(recreated.data?.["session-secret"], keys.data?.["session-secret"]);
    await eventually(async () => {
      const hash = templateHash(await readPlain());
      return hash !== before ? hash : undefined;
    }, "a new pod template hash for the new session key");
  });
});
