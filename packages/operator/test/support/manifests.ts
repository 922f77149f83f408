// Applies a YAML manifest file (several documents) as the admin, the way kubectl create does.
import { readFileSync } from "node:fs";
import { type KubeConfig, type KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

export async function createManifests(kubeConfig: KubeConfig, file: string): Promise<KubernetesObject[]> {
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const created: KubernetesObject[] = [];
  for (const document of parseAllDocuments(readFileSync(file, "utf8"))) {
    const object = document.toJS() as KubernetesObject | null;
    if (object) created.push(await objects.create(object));
  }
  return created;
}
