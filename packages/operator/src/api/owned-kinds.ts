// Every kind of object the operator reads or writes, in one table: the controller watches
// each owned kind from it (by the managed-by label), the reconciler prunes the optional ones
// by it, the applier finds each object's API path in it, and a test holds the RBAC rules of
// rbac.yaml, install.yaml and the Helm chart to exactly these verbs (nothing missing,
// nothing more).
import { GROUP, PLURAL, VERSION } from "./v1alpha1/mcp-oidc-proxy.ts";

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";

export interface KindInfo {
  apiVersion: string;
  kind: string;
  /** The resource name in API paths and RBAC rules. */
  plural: string;
  /** The RBAC verbs the operator needs on it. */
  verbs: readonly Verb[];
}

export interface OwnedKind extends KindInfo {
  /** Deleted when the spec no longer asks for one (the rest exist for every resource). */
  prunable: boolean;
}

/**
 * Applied with server-side apply and JSON patches (patch; create when absent) and watched;
 * never updated (PUT). Only the optional ones are deleted (pruned).
 */
const CHILD_VERBS: readonly Verb[] = ["get", "list", "watch", "create", "patch"];
const PRUNABLE_VERBS: readonly Verb[] = [...CHILD_VERBS, "delete"];

/** The McpOidcProxy resources themselves: read and watched; only their status is written. */
export const RESOURCE_KIND: KindInfo = {
  apiVersion: `${GROUP}/${VERSION}`,
  kind: "McpOidcProxy",
  plural: PLURAL,
  verbs: ["get", "list", "watch"],
};

/** Subresources of the McpOidcProxy (status writes; finalizers for blockOwnerDeletion on OpenShift). */
export const RESOURCE_SUBRESOURCES: Readonly<Record<string, readonly Verb[]>> = {
  [`${PLURAL}/status`]: ["get", "update", "patch"],
  [`${PLURAL}/finalizers`]: ["update"],
};

export const OWNED_KINDS: readonly OwnedKind[] = [
  { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments", verbs: CHILD_VERBS, prunable: false },
  { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", verbs: CHILD_VERBS, prunable: false },
  { apiVersion: "v1", kind: "Service", plural: "services", verbs: CHILD_VERBS, prunable: false },
  { apiVersion: "v1", kind: "ServiceAccount", plural: "serviceaccounts", verbs: CHILD_VERBS, prunable: false },
  {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    verbs: PRUNABLE_VERBS,
    prunable: true,
  },
  {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
    verbs: PRUNABLE_VERBS,
    prunable: true,
  },
  // The generated session keys: created once, never changed or deleted by the operator; it
  // also reads the Secrets a resource references by name (get). Listed and watched by the
  // managed-by label only (decision 014), so a deleted one is recreated at once.
  { apiVersion: "v1", kind: "Secret", plural: "secrets", verbs: ["get", "list", "watch", "create"], prunable: false },
];

/** Kinds it touches without owning them: Events it records (kubectl describe shows them). */
export const OTHER_KINDS: readonly KindInfo[] = [
  { apiVersion: "v1", kind: "Event", plural: "events", verbs: ["create", "patch"] },
];

/** Leader election: a Lease in the operator's own namespace (a namespaced Role). */
export const LEASE_KIND: KindInfo = {
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  plural: "leases",
  verbs: ["get", "create", "update"],
};

/** The group of an apiVersion ("" for the core group), as RBAC rules name it. */
export function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? (apiVersion.split("/")[0] ?? "") : "";
}

/** The collection path of a kind, cluster-wide or in one namespace. */
export function collectionPath(kind: KindInfo, namespace?: string): string {
  const base = kind.apiVersion.includes("/") ? `/apis/${kind.apiVersion}` : `/api/${kind.apiVersion}`;
  return `${base}${namespace ? `/namespaces/${namespace}` : ""}/${kind.plural}`;
}

/** An object's own path. */
export function objectPath(kind: KindInfo, namespace: string, name: string): string {
  return `${collectionPath(kind, namespace)}/${encodeURIComponent(name)}`;
}

/** The table's row for a kind the operator owns or touches; a name not in it is a bug. */
export function kindNamed(kind: string): KindInfo {
  const found = [...OWNED_KINDS, ...OTHER_KINDS, RESOURCE_KIND, LEASE_KIND].find((info) => info.kind === kind);
  if (!found) throw new Error(`${kind} is not in the owned-kinds table`);
  return found;
}
