// The owned-kinds table's paths and groups (pure); rbac-rules.test.ts holds the shipped RBAC
// rules to the table's verbs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { collectionPath, groupOf, OWNED_KINDS, RESOURCE_KIND } from "../../../src/api/owned-kinds.ts";

describe("owned kinds", () => {
  it("name the core group as RBAC does (empty) and the others by their group", () => {
    assert.deepEqual(
      OWNED_KINDS.map((kind) => groupOf(kind.apiVersion)),
      ["apps", "", "", "", "policy", "autoscaling", ""],
    );
    assert.equal(groupOf(RESOURCE_KIND.apiVersion), "mcp-oidc-proxy.dev");
  });

  it("give collection paths cluster-wide and for one namespace", () => {
    const [deployments] = OWNED_KINDS;
    const secrets = OWNED_KINDS.find((kind) => kind.kind === "Secret");
    assert.ok(deployments && secrets);
    assert.equal(collectionPath(deployments), "/apis/apps/v1/deployments");
    assert.equal(collectionPath(secrets, "team-a"), "/api/v1/namespaces/team-a/secrets");
    assert.equal(collectionPath(RESOURCE_KIND, "x"), "/apis/mcp-oidc-proxy.dev/v1alpha1/namespaces/x/mcpoidcproxies");
  });

  it("prune only what a spec may stop asking for (PDB, HPA)", () => {
    assert.deepEqual(
      OWNED_KINDS.filter((kind) => kind.prunable).map((kind) => kind.kind),
      ["PodDisruptionBudget", "HorizontalPodAutoscaler"],
    );
  });
});
