// Kubernetes Events about a McpOidcProxy (core/v1), as `kubectl describe` and dashboards show.
import type { CoreV1Event, KubeConfig } from "@kubernetes/client-node";
import { collectionPath, kindNamed } from "../api/owned-kinds.ts";
import { API_VERSION, KIND, type McpOidcProxy } from "../api/v1alpha1/mcp-oidc-proxy.ts";
import { requestJson } from "../runtime/raw-client.ts";

/** core/v1 Event as JSON: its times are RFC 3339 strings, not the typed client's Dates. */
type EventJson = Omit<CoreV1Event, "firstTimestamp" | "lastTimestamp" | "eventTime"> & {
  firstTimestamp: string;
  lastTimestamp: string;
};

export class EventRecorder {
  readonly #kubeConfig: KubeConfig;

  constructor(kubeConfig: KubeConfig) {
    this.#kubeConfig = kubeConfig;
  }

  async emit(cr: McpOidcProxy, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const now = new Date().toISOString();
    const event: EventJson = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { generateName: `${cr.metadata.name}.`, namespace: cr.metadata.namespace },
      involvedObject: {
        apiVersion: API_VERSION,
        kind: KIND,
        name: cr.metadata.name,
        namespace: cr.metadata.namespace,
        uid: cr.metadata.uid,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: "mcp-oidc-operator" },
      reportingComponent: "mcp-oidc-operator",
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    await requestJson(this.#kubeConfig, "POST", collectionPath(kindNamed("Event"), cr.metadata.namespace), event);
  }
}
