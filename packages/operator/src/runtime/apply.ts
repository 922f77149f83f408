// Sending desired objects: server-side apply under the operator's field manager (forcing
// ownership of the fields it sets, so a hand-edit is put back), and removal of objects the
// spec no longer asks for.
import { type KubeConfig, type KubernetesObject, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import { FIELD_MANAGER } from "../desired/children.ts";
import { requestJson } from "./raw-client.ts";

export class Applier {
  readonly #objects: KubernetesObjectApi;
  readonly #kubeConfig: KubeConfig;

  constructor(kubeConfig: KubeConfig) {
    this.#kubeConfig = kubeConfig;
    this.#objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  }

  apply<T extends KubernetesObject>(object: T, fieldManager = FIELD_MANAGER): Promise<T> {
    return this.#objects.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
  }

  /** A JSON patch (RFC 6902) of a Deployment, for what server-side apply cannot take back. */
  patchDeployment(header: { namespace: string; name: string }, operations: unknown[]): Promise<unknown> {
    const path = `/apis/apps/v1/namespaces/${header.namespace}/deployments/${header.name}`;
    return requestJson(
      this.#kubeConfig,
      "PATCH",
      `${path}?fieldManager=${FIELD_MANAGER}`,
      operations,
      "application/json-patch+json",
    );
  }

  /** Deletes the object if it exists; absent is fine. */
  async remove(header: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace: string };
  }): Promise<boolean> {
    try {
      await this.#objects.delete(header as KubernetesObject);
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 404) return false;
      throw error;
    }
  }
}
