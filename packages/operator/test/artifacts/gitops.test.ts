// The GitOps examples (Argo CD Applications, Flux sources, HelmRelease and Kustomizations)
// and the Flagger canary, applied with the real kubectl (server dry run) to a real API
// server holding the real CRDs of Argo CD, Flux and Flagger (fetched from their Go modules
// at pinned versions); every path they point at exists in this repository.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { requestJson } from "../../src/runtime/raw-client.ts";
import { eventually } from "../support/eventually.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";
import { kubectlOk } from "../support/kubectl.ts";
import { applyServerSide, type Manifest, readManifests } from "../support/manifests.ts";

const ROOT = path.resolve(import.meta.dirname, "../../../..");
const GITOPS = path.join(ROOT, "deployments/gitops");

function examples(): { file: string; objects: Manifest[] }[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".yaml")) files.push(full);
    }
  };
  walk(GITOPS);
  return files.map((file) => ({ file: path.relative(ROOT, file), objects: readManifests(file) }));
}

type Spec = Record<string, unknown>;

/** Repository paths an example refers to (Argo CD source.path, Flux chart and path). */
function pathsOf(object: Manifest): string[] {
  const spec = (object.spec ?? {}) as Spec;
  const source = spec.source as Spec | undefined;
  const chart = ((spec.chart as Spec | undefined)?.spec as Spec | undefined)?.chart;
  return [source?.path, chart, object.kind === "Kustomization" ? spec.path : undefined].filter(
    (p): p is string => typeof p === "string",
  );
}

describe("GitOps examples", () => {
  let server: TestApiServer;
  before(async () => {
    server = await startTestApiServer();
    const crds = execFileSync(path.join(ROOT, "scripts/ensure-gitops-crds.sh"), { encoding: "utf8" })
      .trim()
      .split("\n");
    for (const file of crds) await kubectlOk(server, ["apply", "--server-side", "-f", file]);
    for (const name of ["argocd", "flux-system", "mcp-system"]) {
      await applyServerSide(
        server.kubeConfig(),
        { apiVersion: "v1", kind: "Namespace", metadata: { name } },
        { fieldManager: "gitops-test" },
      );
    }
    // A CRD serves its kinds once established.
    for (const group of [
      "argoproj.io/v1alpha1",
      "helm.toolkit.fluxcd.io/v2",
      "kustomize.toolkit.fluxcd.io/v1",
      "flagger.app/v1beta1",
    ]) {
      await eventually(() => requestJson(server.kubeConfig(), "GET", `/apis/${group}`), `${group} served`);
    }
  });
  after(() => server?.close());

  it("covers Argo CD and Flux", () => {
    const kinds = examples().flatMap(({ objects }) => objects.map((o) => `${o.apiVersion.split("/")[0]}/${o.kind}`));
    for (const kind of [
      "argoproj.io/Application",
      "source.toolkit.fluxcd.io/GitRepository",
      "helm.toolkit.fluxcd.io/HelmRelease",
      "kustomize.toolkit.fluxcd.io/Kustomization",
    ]) {
      assert.ok(kinds.includes(kind), kind);
    }
  });

  for (const { file, objects } of examples()) {
    it(`${file}: kubectl apply accepted by the real CRDs' schemas, pointing at paths that exist`, async () => {
      await kubectlOk(server, ["apply", "--server-side", "--dry-run=server", "-f", path.join(ROOT, file)]);
      for (const object of objects) {
        for (const repoPath of pathsOf(object)) {
          assert.ok(
            existsSync(path.join(ROOT, repoPath)),
            `${object.kind} ${object.metadata.name} points at ${repoPath}`,
          );
        }
      }
    });
  }

  it("deployments/kubernetes/canary/flagger-canary.yaml: kubectl apply accepted by Flagger's Canary CRD", async () => {
    const output = await kubectlOk(server, [
      "apply",
      "--server-side",
      "--dry-run=server",
      "-f",
      path.join(ROOT, "deployments/kubernetes/canary/flagger-canary.yaml"),
    ]);
    assert.match(output, /canary.flagger.app\/mcp-oidc-proxy serverside-applied \(server dry run\)/);
  });

  it("refuses a malformed example (the check can fail)", async () => {
    const [application] = readManifests(path.join(GITOPS, "argocd/operator-application.yaml"));
    assert.ok(application);
    await assert.rejects(
      applyServerSide(
        server.kubeConfig(),
        { ...application, spec: { ...(application.spec as Spec), destination: "mcp-system" } },
        { fieldManager: "gitops-test", dryRun: true },
      ),
      /destination/,
    );
  });
});
