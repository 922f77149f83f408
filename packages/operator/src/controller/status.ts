// Which conditions a McpOidcProxy shows, as pure functions of what the reconcile found.
// Four conditions, always all four, with constant reasons:
//   Ready        the proxy serves the current spec (Available) or why not
//   Progressing  a rollout or a retry is under way (kstatus: InProgress)
//   Degraded     something is wrong that the operator cannot fix by itself
//   Stalled      nothing will change until someone acts (kstatus, Argo CD: Failed/Degraded)
import type { V1Deployment } from "@kubernetes/client-node";
import { type Condition, ConditionType, Reason } from "../api/v1alpha1/mcp-oidc-proxy.ts";

export type ConditionInput = Omit<Condition, "lastTransitionTime" | "observedGeneration">;

const fine = (type: string): ConditionInput => ({ type, status: "False", reason: Reason.AsExpected, message: "" });

/** A problem the resource's author must fix (invalid spec, missing Secret): stalled. */
export function stalledConditions(reason: string, message: string): ConditionInput[] {
  return [
    { type: ConditionType.Ready, status: "False", reason, message },
    { type: ConditionType.Progressing, status: "False", reason, message },
    { type: ConditionType.Degraded, status: "True", reason, message },
    { type: ConditionType.Stalled, status: "True", reason, message },
  ];
}

/** A failure retried with backoff: degraded while it lasts, but still progressing. */
export function retryingConditions(reason: string, message: string): ConditionInput[] {
  return [
    { type: ConditionType.Ready, status: "False", reason, message },
    { type: ConditionType.Progressing, status: "True", reason, message },
    { type: ConditionType.Degraded, status: "True", reason, message },
    fine(ConditionType.Stalled),
  ];
}

/**
 * A rollout the Deployment controller has given up on: its Progressing=False
 * (ProgressDeadlineExceeded) or ReplicaFailure=True (FailedCreate: quota, admission, …),
 * both mirrored from the ReplicaSet by kube-controller-manager.
 */
function brokenRollout(deployment: V1Deployment): { reason: string; message: string } | undefined {
  const conditions = deployment.status?.conditions ?? [];
  const failure = conditions.find((c) => c.type === "ReplicaFailure" && c.status === "True");
  const deadline = conditions.find((c) => c.type === "Progressing" && c.status === "False");
  const broken = failure ?? deadline;
  if (!broken) return undefined;
  const reason = broken.reason ?? (failure ? Reason.FailedCreate : Reason.ProgressDeadlineExceeded);
  return { reason, message: `Deployment ${deployment.metadata?.name}: ${broken.message ?? reason}` };
}

export function rolloutConditions(deployment: V1Deployment): ConditionInput[] {
  const status = deployment.status ?? {};
  const desired = deployment.spec?.replicas ?? 0;
  // What the Deployment controller reports about an older generation says nothing yet.
  const current = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1);
  const broken = current ? brokenRollout(deployment) : undefined;
  if (broken) return stalledConditions(broken.reason, broken.message);
  const available =
    current && (status.updatedReplicas ?? 0) >= desired && (status.availableReplicas ?? 0) >= desired && desired > 0;
  if (available) {
    const message = `${status.availableReplicas} of ${desired} replicas available`;
    return [
      { type: ConditionType.Ready, status: "True", reason: Reason.Available, message },
      { type: ConditionType.Progressing, status: "False", reason: Reason.AsExpected, message },
      fine(ConditionType.Degraded),
      fine(ConditionType.Stalled),
    ];
  }
  const message = `waiting for the rollout: ${status.updatedReplicas ?? 0} of ${desired} replicas updated, ${status.availableReplicas ?? 0} available`;
  return [
    { type: ConditionType.Ready, status: "False", reason: Reason.RolloutInProgress, message },
    { type: ConditionType.Progressing, status: "True", reason: Reason.RolloutInProgress, message },
    fine(ConditionType.Degraded),
    fine(ConditionType.Stalled),
  ];
}
