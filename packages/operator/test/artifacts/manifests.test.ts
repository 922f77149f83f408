// The Kubernetes manifests under deployments/kubernetes go through the real kubectl to a real
// API server as the README says to apply them: server-side (dry-run first, then for real),
// and applying them again changes nothing (no perpetual diff for GitOps tools).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../../proxy/src/config/load.ts";
import { INSTALL_FILE, renderInstall } from "../../scripts/generate-install.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";
import { applyAndConverge, kubectl } from "../support/kubectl.ts";
import { readManifests } from "../support/manifests.ts";

const ROOT = path.resolve(import.meta.dirname, "../../../..");
const KUBE = path.join(ROOT, "deployments/kubernetes");
const documents = readManifests;

describe("Kubernetes manifests", () => {
  let server: TestApiServer;
  before(async () => {
    server = await startTestApiServer();
  });
  after(() => server?.close());

  it("keeps install.yaml generated (make crds)", () => {
    assert.equal(readFileSync(INSTALL_FILE, "utf8"), renderInstall());
  });

  // Runs first, on a cluster without the mcp-system namespace.
  it("installs with the README's two files on a fresh cluster: kubectl apply -f crds/ -f rbac.yaml (rbac.yaml lacked the mcp-system Namespace)", async () => {
    const result = await kubectl(server, [
      "apply",
      "-f",
      path.join(ROOT, "crds"),
      "-f",
      path.join(KUBE, "operator/rbac.yaml"),
    ]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /namespace\/mcp-system created/);
    assert.match(
      result.stdout,
      /customresourcedefinition.apiextensions.k8s.io\/mcpoidcproxies.mcp-oidc-proxy.dev created/,
    );
  });

  for (const file of ["operator/install.yaml", "proxy/mcp-oidc-proxy.yaml"]) {
    it(`kubectl applies ${file} server-side, dry-run and real, and re-applying converges (no perpetual diff)`, async () => {
      const { stored, converged } = await applyAndConverge(
        server,
        { file: path.join(KUBE, file) },
        { fieldManager: "manifests-test" },
      );
      assert.ok(stored.length >= 4);
      assert.ok(stored.every((object) => object.metadata.resourceVersion));
      assert.ok(converged, "re-applying changed objects: a perpetual diff");
    });
  }

  it("leaves no YAML file under deployments/kubernetes out of a kubectl apply test", () => {
    const applied = new Set([
      "operator/install.yaml", // here
      "operator/rbac.yaml", // here, and in rbac.test.ts
      "proxy/mcp-oidc-proxy.yaml", // here
      "canary/flagger-canary.yaml", // gitops.test.ts, against Flagger's CRD
    ]);
    const files = readdirSync(KUBE, { recursive: true, encoding: "utf8" }).filter((f) => /\.ya?ml$/.test(f));
    // samples/ is applied file by file in crd.test.ts.
    assert.deepEqual(
      files.filter((f) => !applied.has(f) && !f.startsWith("samples/")),
      [],
    );
  });

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
