// Kubernetes Events about a McpOidcProxy (core/v1), as `kubectl describe` and dashboards show.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { API_VERSION, KIND, type McpOidcProxy } from "../api/v1alpha1/mcp-oidc-proxy.ts";

export class EventRecorder {
  readonly #core: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async emit(cr: McpOidcProxy, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const now = new Date();
    await this.#core.createNamespacedEvent({
      namespace: cr.metadata.namespace,
      body: {
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
      },
    });
  }
}
