// Which fields of a Deployment the operator removes after a hand edit, from its managedFields (pure).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Deployment, V1ManagedFieldsEntry } from "@kubernetes/client-node";
import { templateReclaimPatch } from "../../../src/controller/reclaim-template.ts";
import { FIELD_MANAGER } from "../../../src/desired/children.ts";

const container = (name: string) => ({ [`k:{"name":"${name}"}`]: { ".": {}, "f:name": {}, "f:image": {} } });
const live = (managedFields: V1ManagedFieldsEntry[]) =>
  ({
    metadata: {
      name: "tools",
      resourceVersion: "7",
      labels: { "app.kubernetes.io/name": "mcp-oidc-proxy" },
      managedFields,
    },
    spec: {
      selector: {},
      template: {
        metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": "now" } },
        spec: {
          containers: [
            { name: "a", image: "x" },
            { name: "proxy", image: "p" },
            { name: "b", image: "x" },
          ],
        },
      },
    },
  }) as V1Deployment;
const ours = {
  manager: FIELD_MANAGER,
  operation: "Apply",
  fieldsV1: {
    "f:metadata": { "f:labels": { "f:app.kubernetes.io/name": {} } },
    "f:spec": { "f:template": { "f:spec": { "f:containers": container("proxy") } } },
  },
};

describe("template reclaim patch", () => {
  it("removes two added sidecars, the later first (indices stay right), guarded by the resourceVersion", () => {
    const patch = templateReclaimPatch(
      live([
        ours,
        {
          manager: "kubectl-patch",
          operation: "Update",
          fieldsV1: {
            "f:spec": { "f:template": { "f:spec": { "f:containers": { ...container("a"), ...container("b") } } } },
          },
        },
      ]),
    );
    assert.deepEqual(patch, [
      { op: "test", path: "/metadata/resourceVersion", value: "7" },
      { op: "remove", path: "/spec/template/spec/containers/2" },
      { op: "remove", path: "/spec/template/spec/containers/0" },
    ]);
  });

  it("keeps the restart annotation, status and scale writes, and what the operator shares; nothing to do is undefined", () => {
    const patch = templateReclaimPatch(
      live([
        ours,
        {
          manager: "kubectl-rollout",
          operation: "Update",
          fieldsV1: {
            "f:spec": {
              "f:template": { "f:metadata": { "f:annotations": { "f:kubectl.kubernetes.io/restartedAt": {} } } },
            },
          },
        },
        {
          manager: "kube-controller-manager",
          operation: "Update",
          subresource: "scale",
          fieldsV1: { "f:spec": { "f:replicas": {} } },
        },
        {
          manager: "someone",
          operation: "Update",
          subresource: "status",
          fieldsV1: { "f:status": { "f:replicas": {} } },
        },
        {
          manager: "kubectl-label",
          operation: "Update",
          fieldsV1: { "f:metadata": { "f:labels": { "f:app.kubernetes.io/name": {} } } },
        },
      ]),
    );
    assert.equal(patch, undefined);
  });
});
