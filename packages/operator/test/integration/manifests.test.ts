// The Kubernetes manifests under deployments/kubernetes apply to a real API server with
// server-side apply (dry-run first, then for real), and applying them again changes nothing
// (no perpetual diff for GitOps tools).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../../../proxy/src/config/load.ts";
import { INSTALL_FILE, renderInstall } from "../../scripts/generate-install.ts";
import { requestJson } from "../../src/runtime/raw-client.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";

const KUBE = path.resolve(import.meta.dirname, "../../../../deployments/kubernetes");
const CLUSTER_SCOPED = new Set(["Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"]);

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

function documents(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null);
}

function resourcePath(object: Manifest): string {
  const base = object.apiVersion === "v1" ? "/api/v1" : `/apis/${object.apiVersion}`;
  const scope = CLUSTER_SCOPED.has(object.kind) ? "" : `/namespaces/${object.metadata.namespace}`;
  return `${base}${scope}/${object.kind.toLowerCase()}s/${object.metadata.name}`;
}

describe("Kubernetes manifests", () => {
  let server: TestApiServer;
  before(async () => {
    server = await startTestApiServer();
  });
  after(() => server?.close());

  const apply = (object: Manifest, dryRun: boolean) =>
    requestJson<Manifest>(
      server.kubeConfig(),
      "PATCH",
      `${resourcePath(object)}?fieldManager=manifests-test&force=true${dryRun ? "&dryRun=All" : ""}`,
      object,
      "application/apply-patch+yaml",
    );

  it("keeps install.yaml generated (make crds)", () => {
    assert.equal(readFileSync(INSTALL_FILE, "utf8"), renderInstall());
  });

  for (const file of ["operator/install.yaml", "proxy/mcp-oidc-proxy.yaml"]) {
    it(`applies ${file} server-side, dry-run and real, and re-applying converges (no perpetual diff)`, async () => {
      const objects = documents(path.join(KUBE, file));
      assert.ok(objects.length >= 4);
      const first: string[] = [];
      for (const object of objects) {
        // Dry-run just before the real apply: a namespaced object needs its Namespace to exist.
        await apply(object, true);
        first.push((await apply(object, false)).metadata.resourceVersion ?? "");
      }
      // The API server settles some objects once (a CRD's conditions, a Namespace's name
      // label); a perpetual diff would show on every apply, so the third must equal the second.
      const applyAll = async () => {
        const versions: string[] = [];
        for (const object of objects) versions.push((await apply(object, false)).metadata.resourceVersion ?? "");
        return versions;
      };
      const second = await applyAll();
      assert.deepEqual(await applyAll(), second);
      assert.ok(first.every(Boolean));
    });
  }

  it("has a Flagger canary for the plain proxy Deployment, with the seed's analysis", () => {
    const [canary] = documents(path.join(KUBE, "canary/flagger-canary.yaml")) as unknown as {
      kind: string;
      metadata: { namespace: string };
      spec: {
        targetRef: { kind: string; name: string };
        analysis: {
          interval: string;
          threshold: number;
          maxWeight: number;
          stepWeight: number;
          metrics: { name: string; thresholdRange: { min: number } }[];
        };
      };
    }[];
    const deployment = documents(path.join(KUBE, "proxy/mcp-oidc-proxy.yaml")).find((o) => o.kind === "Deployment");
    assert.equal(canary?.kind, "Canary");
    assert.equal(canary?.spec.targetRef.name, deployment?.metadata.name);
    assert.equal(canary?.metadata.namespace, deployment?.metadata.namespace);
    assert.deepEqual(
      [
        canary?.spec.analysis.interval,
        canary?.spec.analysis.threshold,
        canary?.spec.analysis.maxWeight,
        canary?.spec.analysis.stepWeight,
      ],
      ["30s", 5, 50, 10],
    );
    assert.deepEqual(canary?.spec.analysis.metrics[0], {
      name: "request-success-rate",
      thresholdRange: { min: 99 },
      interval: "1m",
    });
  });

  it("gives the plain proxy manifests a configuration the proxy accepts", () => {
    const objects = documents(path.join(KUBE, "proxy/mcp-oidc-proxy.yaml"));
    const config = objects.find((o) => o.kind === "ConfigMap")?.data ?? {};
    const secret = objects.find((o) => o.kind === "Secret")?.stringData ?? {};
    const deployment = objects.find((o) => o.kind === "Deployment") as unknown as {
      spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } };
    };
    const env = Object.fromEntries(
      deployment.spec.template.spec.containers[0]?.env.map((e) => [e.name, e.value]) ?? [],
    );
    const { config: loaded } = loadConfig({ env: { ...config, ...secret, ...env } });
    assert.equal(loaded.environment, "production");
    assert.equal(loaded.session.store, "redis");
    assert.equal(loaded.metrics.port, 9090);
  });
});
