// Taking back the pod template the operator builds. Server-side apply never removes a field
// it does not own, so `kubectl set env deploy/X AUTH_MODE=bypass`, an added sidecar, an
// initContainer, `hostNetwork: true`, a `command`, `spec.paused: true` or an extra label
// (each owned by another field manager: kubectl-set, kubectl-edit, kubectl-patch …) would
// stay forever, even across spec changes — one edit could turn sign-in off. After each
// apply, the Deployment's managedFields say which fields under spec.template, spec.paused
// and metadata.labels another manager owns; those are removed with one JSON patch guarded
// by the resourceVersion read, so a hand edit heals at the next reconcile. Left alone:
// fields the operator owns too, the managers that legitimately write Deployments
// (kube-controller-manager, the HPA through the scale subresource, our replicas hand-off),
// status and scale subresource entries, and the `kubectl rollout restart` annotation.
import type { V1Deployment, V1ManagedFieldsEntry } from "@kubernetes/client-node";
import { FIELD_MANAGER } from "../desired/children.ts";
import { stableJson } from "./stable-json.ts";

export type RemovePatchOperation = { op: "test"; path: string; value: unknown } | { op: "remove"; path: string };

/** A fieldsV1 tree: keys "f:name", "k:{…}", "v:…", "i:N" or "." (the node itself). */
type FieldsTree = { [segment: string]: FieldsTree };

/** Managers whose Deployment fields are theirs to keep. */
const TRUSTED_MANAGERS = new Set([FIELD_MANAGER, "mcp-oidc-operator-replicas-handoff", "kube-controller-manager"]);

/** The parts of a Deployment the operator takes back whole. */
const RECLAIMED_ROOTS: string[][] = [
  ["f:spec", "f:template"],
  ["f:spec", "f:paused"],
  ["f:metadata", "f:labels"],
];

/** Fields anyone may set: `kubectl rollout restart` writes this annotation to roll the pods. */
const ALLOWED_PATHS: string[][] = [
  ["f:spec", "f:template", "f:metadata", "f:annotations", "f:kubectl.kubernetes.io/restartedAt"],
];

const pathKey = (segments: string[]) => segments.join("\u0000");

/** Every node of the trees (and each of their ancestors), as path keys. */
function protectedNodes(trees: FieldsTree[]): Set<string> {
  const nodes = new Set<string>();
  const walk = (tree: FieldsTree, prefix: string[]) => {
    nodes.add(pathKey(prefix));
    for (const [segment, child] of Object.entries(tree)) if (segment !== ".") walk(child, [...prefix, segment]);
  };
  for (const tree of trees) walk(tree, []);
  for (const path of ALLOWED_PATHS) for (let i = 0; i <= path.length; i++) nodes.add(pathKey(path.slice(0, i)));
  return nodes;
}

/** Where a fieldsV1 segment is in the live value: an object key or a list index, or undefined. */
function locate(value: unknown, segment: string): string | number | undefined {
  const kind = segment.slice(0, 2);
  const rest = segment.slice(2);
  if (kind === "f:") return value && typeof value === "object" && rest in value ? rest : undefined;
  if (!Array.isArray(value)) return undefined;
  if (kind === "i:") return Number(rest) < value.length ? Number(rest) : undefined;
  const wanted: unknown = JSON.parse(rest);
  const index = value.findIndex((item: unknown) => {
    if (kind === "v:") return stableJson(item) === stableJson(wanted);
    const keys = Object.entries(wanted as Record<string, unknown>);
    return keys.every(([k, v]) => stableJson((item as Record<string, unknown>)?.[k]) === stableJson(v));
  });
  return index < 0 ? undefined : index;
}

const fromPointer = (step: string): string | number =>
  /^\d+$/.test(step) ? Number(step) : step.replaceAll("~1", "/").replaceAll("~0", "~");

const pointer = (steps: (string | number)[]) =>
  steps.map((step) => `/${String(step).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");

/** Segment-wise, list indices as numbers: sorted descending, a later item goes before an earlier one. */
function compareSteps(a: (string | number)[], b: (string | number)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [x, y] = [a[i], b[i]];
    if (x === y) continue;
    if (typeof x === "number" && typeof y === "number") return y - x;
    return String(y).localeCompare(String(x));
  }
  return b.length - a.length;
}

const startsWith = (path: string[], prefix: string[]) => prefix.every((segment, i) => path[i] === segment);
/** Inside a reclaimed part, or on the way to one. */
const inside = (path: string[]) => RECLAIMED_ROOTS.some((root) => startsWith(path, root));
const onTheWay = (path: string[]) =>
  RECLAIMED_ROOTS.some((root) => path.length < root.length && startsWith(root, path));

/** The removals of one foreign manager's fields: the topmost node no trusted manager shares. */
function foreignRemovals(tree: FieldsTree, live: unknown, kept: Set<string>): (string | number)[][] {
  const removals: (string | number)[][] = [];
  const walk = (node: FieldsTree, segments: string[], steps: (string | number)[], value: unknown) => {
    for (const [segment, child] of Object.entries(node)) {
      const path = [...segments, segment];
      if (segment === "." || !(inside(path) || onTheWay(path))) continue;
      const at = locate(value, segment);
      if (at === undefined) continue; // already gone
      if (inside(path) && !kept.has(pathKey(path))) removals.push([...steps, at]);
      else walk(child, path, [...steps, at], (value as Record<string | number, unknown>)[at]);
    }
  };
  walk(tree, [], [], live);
  return removals;
}

const isForeign = (entry: V1ManagedFieldsEntry) =>
  !TRUSTED_MANAGERS.has(entry.manager ?? "") && (entry.subresource ?? "") === "";

/** The JSON patch that removes what other managers added to the parts we build, or undefined. */
export function templateReclaimPatch(live: V1Deployment): RemovePatchOperation[] | undefined {
  const entries = live.metadata?.managedFields ?? [];
  const kept = protectedNodes(entries.filter((e) => !isForeign(e)).map((e) => (e.fieldsV1 ?? {}) as FieldsTree));
  const all = entries
    .filter(isForeign)
    .flatMap((entry) => foreignRemovals((entry.fieldsV1 ?? {}) as FieldsTree, live, kept))
    .map(pointer);
  // Once each, and not inside something removed whole (two managers, one sidecar and its env).
  const removals = [...new Set(all)]
    .filter((path, _, paths) => !paths.some((outer) => path.startsWith(`${outer}/`)))
    .map((path) => path.split("/").slice(1).map(fromPointer))
    .sort(compareSteps);
  if (removals.length === 0) return undefined;
  return [
    { op: "test", path: "/metadata/resourceVersion", value: live.metadata?.resourceVersion },
    ...removals.map((steps) => ({ op: "remove" as const, path: pointer(steps) })),
  ];
}

/** The managers whose fields a patch removes, for the log line. */
export function foreignManagers(live: V1Deployment): string[] {
  return [...new Set((live.metadata?.managedFields ?? []).filter(isForeign).map((e) => e.manager ?? ""))];
}
