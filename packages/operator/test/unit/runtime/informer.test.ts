// What the watch caches keep of an object (pure): its key fields, nothing the reconcile
// reads afresh anyway.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import { keyFields } from "../../../src/runtime/informer.ts";

describe("keyFields", () => {
  it("keeps name, namespace, uid, resourceVersion, generation and owner references (controller or not); drops the rest", () => {
    const deployment: V1Deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: "tools",
        namespace: "apps",
        uid: "u1",
        resourceVersion: "42",
        generation: 3,
        labels: { a: "b" },
        annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}" },
        managedFields: [{ manager: "mcp-oidc-operator", operation: "Apply", fieldsV1: {} }],
        ownerReferences: [
          {
            apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
            kind: "McpOidcProxy",
            name: "tools",
            uid: "u0",
            controller: true,
          },
        ],
      },
      spec: { selector: {}, template: {} },
      status: { replicas: 1 },
    };
    assert.deepEqual(keyFields(deployment), {
      metadata: {
        name: "tools",
        namespace: "apps",
        uid: "u1",
        resourceVersion: "42",
        generation: 3,
        ownerReferences: [
          {
            apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
            kind: "McpOidcProxy",
            name: "tools",
            uid: "u0",
            controller: true,
          },
        ],
      },
    });
  });

  it("leaves out what the object does not have (a Secret has no generation)", () => {
    assert.deepEqual(keyFields({ metadata: { name: "keys", namespace: "apps" } }), {
      metadata: { name: "keys", namespace: "apps" },
    });
  });
});
