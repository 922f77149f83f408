// Taking back the environment variables the operator sets. `kubectl set env deploy/X
// OIDC_CLIENT_SECRET=plaintext` (field manager kubectl-set) replaces our valueFrom with a
// literal value that kubectl-set owns; server-side apply cannot remove a field another
// manager owns, so every apply would then merge our valueFrom next to its value and be
// refused (422: valueFrom may not be specified when value is not empty) — forever, with the
// plaintext left in the Deployment. Forcing does not help: the field is not in conflict,
// it is simply not ours. So the variables we own are replaced whole by a JSON patch (guarded
// by the resourceVersion read), after which the apply goes through again. Variables other
// managers added under other names are left alone.
import type { V1Container, V1Deployment, V1EnvVar } from "@kubernetes/client-node";
import { stableJson } from "./stable-json.ts";

export type JsonPatchOperation =
  | { op: "test"; path: string; value: unknown }
  | { op: "replace"; path: string; value: unknown };

// Key order differs between client-node's deserialized objects and ours.
const same = (a: unknown, b: unknown) => stableJson(a) === stableJson(b);

function envOps(live: V1Container, desired: V1Container, containerIndex: number): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  for (const wanted of desired.env ?? []) {
    const index = (live.env ?? []).findIndex((entry: V1EnvVar) => entry.name === wanted.name);
    if (index < 0 || same(live.env?.[index], wanted)) continue;
    const path = `/spec/template/spec/containers/${containerIndex}/env/${index}`;
    ops.push({ op: "test", path: `${path}/name`, value: wanted.name }, { op: "replace", path, value: wanted });
  }
  return ops;
}

/** The JSON patch that puts our variables back as we build them, or undefined if they are. */
export function envReclaimPatch(live: V1Deployment, desired: V1Deployment): JsonPatchOperation[] | undefined {
  const liveContainers = live.spec?.template.spec?.containers ?? [];
  const ops = (desired.spec?.template.spec?.containers ?? []).flatMap((wanted) => {
    const index = liveContainers.findIndex((container) => container.name === wanted.name);
    const container = liveContainers[index];
    return container ? envOps(container, wanted, index) : [];
  });
  if (ops.length === 0) return undefined;
  return [{ op: "test", path: "/metadata/resourceVersion", value: live.metadata?.resourceVersion }, ...ops];
}
