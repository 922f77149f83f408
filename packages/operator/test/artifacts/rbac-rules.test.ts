// The RBAC rules shipped in deployments/kubernetes/operator/rbac.yaml, the generated
// install.yaml and the operator chart grant exactly what the owned-kinds table says the
// operator needs: a kind added to the table without its rules (or a verb granted that the
// table does not name) fails here. rbac.test.ts runs the controller under these rules.
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import {
  groupOf,
  type KindInfo,
  LEASE_KIND,
  OTHER_KINDS,
  OWNED_KINDS,
  RESOURCE_KIND,
  RESOURCE_SUBRESOURCES,
} from "../../src/api/owned-kinds.ts";
import { helm } from "../support/helm.ts";
import { type Manifest, parseManifests, readManifests } from "../support/manifests.ts";

const ROOT = path.resolve(import.meta.dirname, "../../../..");

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
type Grants = Record<string, string[]>;

/** "group/resource" → sorted verbs, merged over every rule. */
function grantsOf(rules: Rule[]): Grants {
  const grants = new Map<string, Set<string>>();
  for (const rule of rules)
    for (const group of rule.apiGroups)
      for (const resource of rule.resources) {
        const key = `${group}/${resource}`;
        grants.set(key, new Set([...(grants.get(key) ?? []), ...rule.verbs]));
      }
  return Object.fromEntries(
    [...grants]
      .map(([key, verbs]): [string, string[]] => [key, [...verbs].sort()])
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

function grantsFromTable(kinds: readonly KindInfo[], subresources: Readonly<Record<string, readonly string[]>> = {}) {
  return grantsOf([
    ...kinds.map((kind) => ({
      apiGroups: [groupOf(kind.apiVersion)],
      resources: [kind.plural],
      verbs: [...kind.verbs],
    })),
    ...Object.entries(subresources).map(([resource, verbs]) => ({
      apiGroups: [groupOf(RESOURCE_KIND.apiVersion)],
      resources: [resource],
      verbs: [...verbs],
    })),
  ]);
}

const CLUSTER = grantsFromTable([RESOURCE_KIND, ...OWNED_KINDS, ...OTHER_KINDS], RESOURCE_SUBRESOURCES);
const LEASE = grantsFromTable([LEASE_KIND]);

function rulesOf(manifests: Manifest[], kinds: string[], leaderElection: boolean): Rule[] {
  const roles = manifests.filter(
    (object) => kinds.includes(object.kind) && object.metadata.name.endsWith("-leader-election") === leaderElection,
  );
  assert.equal(roles.length, 1, `one ${kinds.join(" or ")}${leaderElection ? " for leader election" : ""}`);
  return (roles[0] as unknown as { rules: Rule[] }).rules;
}

function assertMatchesTable(manifests: Manifest[], roleKinds: string[]) {
  assert.deepEqual(grantsOf(rulesOf(manifests, roleKinds, false)), CLUSTER);
  assert.deepEqual(grantsOf(rulesOf(manifests, ["Role"], true)), LEASE);
}

function helmTemplate(extra: string[] = []): Manifest[] {
  const result = helm(["template", "release", "helm/mcp-oidc-operator", "--namespace", "mcp-system", ...extra]);
  assert.equal(result.status, 0, result.stderr);
  return parseManifests(result.stdout);
}

describe("RBAC rules match the owned-kinds table", () => {
  it("deployments/kubernetes/operator/rbac.yaml", () => {
    const file = path.join(ROOT, "deployments/kubernetes/operator/rbac.yaml");
    assertMatchesTable(readManifests(file), ["ClusterRole"]);
  });

  it("deployments/kubernetes/operator/install.yaml", () => {
    const file = path.join(ROOT, "deployments/kubernetes/operator/install.yaml");
    assertMatchesTable(readManifests(file), ["ClusterRole"]);
  });

  it("the operator chart, cluster-wide and for one namespace", () => {
    assertMatchesTable(helmTemplate(), ["ClusterRole"]);
    assertMatchesTable(helmTemplate(["--set", "watchNamespace=team-a"]), ["Role"]);
  });
});
