// metav1.Condition bookkeeping: a condition's lastTransitionTime changes only when its
// status does, so an unchanged status writes nothing.
import type { Condition } from "../api/v1alpha1/mcp-oidc-proxy.ts";

export function setCondition(
  conditions: readonly Condition[],
  next: Omit<Condition, "lastTransitionTime">,
  now: Date,
): Condition[] {
  const current = conditions.find((c) => c.type === next.type);
  const lastTransitionTime =
    current && current.status === next.status ? current.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, "Z");
  const updated: Condition = { ...next, lastTransitionTime };
  return [...conditions.filter((c) => c.type !== next.type), updated].sort((a, b) => a.type.localeCompare(b.type));
}
