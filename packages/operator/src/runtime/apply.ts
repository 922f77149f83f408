// Sending desired objects: server-side apply under the operator's field manager (forcing
// ownership of the fields it sets, so a hand-edit is put back), and removal of objects the
// spec no longer asks for. An apply takes over whatever object has the name, so each write
// says which object it means: a create that fails if one exists meanwhile (server-side
// apply ignores a resourceVersion when it creates), or the uid of the object judged ours. Plain JSON (an apply patch may be JSON, YAML's subset) to the
// path the owned-kinds table gives: client-node's typed round trip through its serializer
// was most of the garbage a reconcile made.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { collectionPath, kindNamed, OWNED_KINDS, objectPath as pathOf } from "../api/owned-kinds.ts";
import { FIELD_MANAGER } from "../desired/children.ts";
import { requestJson } from "./raw-client.ts";

interface ObjectHeader {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
}

/** The object's own path, from the owned-kinds table (it names every kind the operator writes). */
function ownedKind(object: KubernetesObject | ObjectHeader) {
  const kind = OWNED_KINDS.find((owned) => owned.apiVersion === object.apiVersion && owned.kind === object.kind);
  if (!kind) throw new Error(`${object.apiVersion} ${object.kind} is not in the owned-kinds table`);
  return kind;
}

function objectPath(object: KubernetesObject | ObjectHeader): string {
  const { name = "", namespace = "" } = object.metadata ?? {};
  return pathOf(ownedKind(object), namespace, name);
}

export class Applier {
  readonly #kubeConfig: KubeConfig;

  constructor(kubeConfig: KubeConfig) {
    this.#kubeConfig = kubeConfig;
  }

  /**
   * Server-side apply of the object, which must still be the one of that uid when given: one
   * deleted and made anew by someone else meanwhile is refused (409, or 422 "metadata.uid").
   */
  apply<T extends KubernetesObject>(object: T, fieldManager = FIELD_MANAGER, uid?: string): Promise<T> {
    if (uid) object = { ...object, metadata: { ...object.metadata, uid } };
    const query = `?fieldManager=${encodeURIComponent(fieldManager)}&force=true`;
    return requestJson<T>(
      this.#kubeConfig,
      "PATCH",
      `${objectPath(object)}${query}`,
      object,
      "application/apply-patch+yaml",
    );
  }

  /**
   * Creates the object; 409 when one of its name exists (made since it was found absent).
   * A create is recorded as an Update by the field manager, whose fields a later apply could
   * never remove (the operator would co-own them under two entries): the entry is relabelled
   * Apply at once, as client-go's csaupgrade does for kubectl's own move to server-side apply.
   */
  async create<T extends KubernetesObject>(object: T): Promise<T> {
    const { namespace = "" } = object.metadata ?? {};
    const query = `?fieldManager=${encodeURIComponent(FIELD_MANAGER)}`;
    const created = await requestJson<T>(
      this.#kubeConfig,
      "POST",
      `${collectionPath(ownedKind(object), namespace)}${query}`,
      object,
    );
    const entries = created.metadata?.managedFields ?? [];
    const index = entries.findIndex((entry) => entry.manager === FIELD_MANAGER && entry.operation === "Update");
    if (index < 0) return created;
    const at = `/metadata/managedFields/${index}`;
    return requestJson<T>(
      this.#kubeConfig,
      "PATCH",
      `${objectPath(object)}${query}`,
      [
        { op: "test", path: "/metadata/uid", value: created.metadata?.uid },
        { op: "test", path: `${at}/manager`, value: FIELD_MANAGER },
        { op: "test", path: `${at}/operation`, value: "Update" },
        { op: "replace", path: `${at}/operation`, value: "Apply" },
      ],
      "application/json-patch+json",
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
