// Which environment variables the operator takes back after a hand-edit (pure).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Deployment, V1EnvVar } from "@kubernetes/client-node";
import { envReclaimPatch } from "../../../src/controller/reclaim-env.ts";

const withEnv = (env: V1EnvVar[]): V1Deployment => ({
  metadata: { resourceVersion: "42" },
  spec: {
    selector: {},
    template: { spec: { containers: [{ name: "sidecar" }, { name: "proxy", env }] } },
  },
});
const fromSecret = { name: "OIDC_CLIENT_SECRET", valueFrom: { secretKeyRef: { name: "oidc", key: "client-secret" } } };

describe("env reclaim patch", () => {
  it("replaces a variable of ours that was set to a literal, guarded by the resourceVersion", () => {
    const live = withEnv([
      { name: "FOO", value: "bar" },
      { name: "OIDC_CLIENT_SECRET", value: "plaintext" },
    ]);
    const desired = withEnv([fromSecret]);
    assert.deepEqual(envReclaimPatch(live, desired), [
      { op: "test", path: "/metadata/resourceVersion", value: "42" },
      { op: "test", path: "/spec/template/spec/containers/1/env/1/name", value: "OIDC_CLIENT_SECRET" },
      { op: "replace", path: "/spec/template/spec/containers/1/env/1", value: fromSecret },
    ]);
  });

  it("asks for nothing when our variables are as built (whatever the key order) or absent", () => {
    const reordered = {
      valueFrom: { secretKeyRef: { key: "client-secret", name: "oidc" } },
      name: "OIDC_CLIENT_SECRET",
    };
    assert.equal(
      envReclaimPatch(withEnv([reordered, { name: "FOO", value: "bar" }]), withEnv([fromSecret])),
      undefined,
    );
    assert.equal(envReclaimPatch(withEnv([]), withEnv([fromSecret])), undefined);
  });
});
