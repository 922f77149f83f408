// The Kubernetes manifests under deployments/kubernetes apply to a real API server with
// server-side apply (dry-run first, then for real), and applying them again changes nothing
// (no perpetual diff for GitOps tools).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../../proxy/src/config/load.ts";
import { INSTALL_FILE, renderInstall } from "../../scripts/generate-install.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";
import { applyAndConverge, readManifests } from "../support/manifests.ts";

const KUBE = path.resolve(import.meta.dirname, "../../../../deployments/kubernetes");
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

  for (const file of ["operator/install.yaml", "proxy/mcp-oidc-proxy.yaml"]) {
    it(`applies ${file} server-side, dry-run and real, and re-applying converges (no perpetual diff)`, async () => {
      const objects = documents(path.join(KUBE, file));
      assert.ok(objects.length >= 4);
      const { stored, converged } = await applyAndConverge(server.kubeConfig(), objects, "manifests-test");
      assert.ok(stored.every((object) => object.metadata.resourceVersion));
      assert.ok(converged, "re-applying changed objects: a perpetual diff");
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
