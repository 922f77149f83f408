// Waiting for a McpOidcProxy's status condition, as `kubectl wait --for=condition=…` does:
// the tests of the controller and of child ownership each wrote this loop of their own.
import type { Condition } from "../../src/api/v1alpha1/mcp-oidc-proxy.ts";
import { eventually } from "./eventually.ts";

/** The condition once it has this status (and reason, when given); fails after `attempts` reads. */
export function conditionReached(
  read: (type: string) => Promise<Condition | undefined>,
  type: string,
  status: "True" | "False",
  reason?: string,
  attempts?: number,
): Promise<Condition> {
  return eventually(
    async () => {
      const condition = await read(type);
      return condition?.status === status && (reason === undefined || condition.reason === reason)
        ? condition
        : undefined;
    },
    `${type}=${status}${reason ? ` (${reason})` : ""}`,
    attempts,
  );
}
