// Sending desired objects: server-side apply under the operator's field manager (forcing
// ownership of the fields it sets, so a hand-edit is put back), and removal of objects the
// spec no longer asks for. Plain JSON (an apply patch may be JSON, YAML's subset) to the
// path the owned-kinds table gives: client-node's typed round trip through its serializer
// was most of the garbage a reconcile made.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { kindNamed, OWNED_KINDS, objectPath as pathOf } from "../api/owned-kinds.ts";
import { FIELD_MANAGER } from "../desired/children.ts";
import { requestJson } from "./raw-client.ts";

interface ObjectHeader {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
}

/** The object's own path, from the owned-kinds table (it names every kind the operator writes). */
function objectPath(object: KubernetesObject | ObjectHeader): string {
  const kind = OWNED_KINDS.find((owned) => owned.apiVersion === object.apiVersion && owned.kind === object.kind);
  if (!kind) throw new Error(`${object.apiVersion} ${object.kind} is not in the owned-kinds table`);
  const { name = "", namespace = "" } = object.metadata ?? {};
  return pathOf(kind, namespace, name);
}

export class Applier {
  readonly #kubeConfig: KubeConfig;

  constructor(kubeConfig: KubeConfig) {
    this.#kubeConfig = kubeConfig;
  }

  apply<T extends KubernetesObject>(object: T, fieldManager = FIELD_MANAGER): Promise<T> {
    const query = `?fieldManager=${encodeURIComponent(fieldManager)}&force=true`;
    return requestJson<T>(
      this.#kubeConfig,
      "PATCH",
      `${objectPath(object)}${query}`,
      object,
      "application/apply-patch+yaml",
    );
  }

  /** A JSON patch (RFC 6902) of a Deployment, for what server-side apply cannot take back. */
  patchDeployment(header: { namespace: string; name: string }, operations: unknown[]): Promise<unknown> {
    const path = pathOf(kindNamed("Deployment"), header.namespace, header.name);
    return requestJson(
      this.#kubeConfig,
      "PATCH",
      `${path}?fieldManager=${FIELD_MANAGER}`,
      operations,
      "application/json-patch+json",
    );
  }

  /** Deletes the object if it exists; absent is fine. */
  async remove(header: ObjectHeader): Promise<boolean> {
    try {
      await requestJson(this.#kubeConfig, "DELETE", objectPath(header));
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 404) return false;
      throw error;
    }
  }
}
