// The conditions a McpOidcProxy shows for each state of its Deployment (pure).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Deployment, V1DeploymentCondition } from "@kubernetes/client-node";
import { rolloutConditions } from "../../../src/controller/status.ts";

const deployment = (generation: number, observed: number, conditions: V1DeploymentCondition[]): V1Deployment => ({
  metadata: { name: "tools", generation },
  spec: { replicas: 2, selector: {}, template: {} },
  status: { observedGeneration: observed, replicas: 2, updatedReplicas: 1, availableReplicas: 1, conditions },
});
const byType = (conditions: ReturnType<typeof rolloutConditions>) =>
  Object.fromEntries(conditions.map((c) => [c.type, `${c.status}/${c.reason}`]));
const deadline: V1DeploymentCondition = {
  type: "Progressing",
  status: "False",
  reason: "ProgressDeadlineExceeded",
  message: "timed out",
};

describe("rollout conditions", () => {
  it("passes a progress deadline on as Degraded and Stalled with the Deployment's reason", () => {
    assert.deepEqual(byType(rolloutConditions(deployment(3, 3, [deadline]))), {
      Ready: "False/ProgressDeadlineExceeded",
      Progressing: "False/ProgressDeadlineExceeded",
      Degraded: "True/ProgressDeadlineExceeded",
      Stalled: "True/ProgressDeadlineExceeded",
    });
  });

  it("prefers ReplicaFailure (FailedCreate) and names the Deployment in the message", () => {
    const failure = { type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: "exceeded quota" };
    const degraded = rolloutConditions(deployment(3, 3, [deadline, failure])).find((c) => c.type === "Degraded");
    assert.equal(degraded?.reason, "FailedCreate");
    assert.equal(degraded?.message, "Deployment tools: exceeded quota");
  });

  it("ignores what the Deployment controller said about an older generation (a new rollout starts)", () => {
    assert.deepEqual(byType(rolloutConditions(deployment(4, 3, [deadline]))), {
      Ready: "False/RolloutInProgress",
      Progressing: "True/RolloutInProgress",
      Degraded: "False/AsExpected",
      Stalled: "False/AsExpected",
    });
  });
});
