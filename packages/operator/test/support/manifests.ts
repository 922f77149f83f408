// Manifests parsed from YAML (several documents) with the yaml package, created the way
// kubectl create does, or applied server-side (optionally as a dry run) the way GitOps tools
// do. Files a user applies go through the real kubectl instead (kubectl.ts).
import { readFileSync } from "node:fs";
import { type KubeConfig, type KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { requestJson } from "../../src/runtime/raw-client.ts";

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: unknown;
}

const CLUSTER_SCOPED = new Set(["Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"]);

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null);
}

export function readManifests(file: string): Manifest[] {
  return parseManifests(readFileSync(file, "utf8"));
}

/** The REST path of a named object (core and grouped APIs, namespaced or not). */
export function resourcePath(object: Manifest): string {
  const base = object.apiVersion === "v1" ? "/api/v1" : `/apis/${object.apiVersion}`;
  const scope = CLUSTER_SCOPED.has(object.kind) ? "" : `/namespaces/${object.metadata.namespace}`;
  const kind = object.kind.toLowerCase();
  const plural = kind.endsWith("s") ? `${kind}es` : kind.endsWith("y") ? `${kind.slice(0, -1)}ies` : `${kind}s`;
  return `${base}${scope}/${plural}/${object.metadata.name}`;
}

/** Server-side apply with a field manager of its own; `dryRun` asks the API server to check only. */
export function applyServerSide(
  kubeConfig: KubeConfig,
  object: Manifest,
  options: { fieldManager: string; dryRun?: boolean },
): Promise<Manifest> {
  return requestJson<Manifest>(
    kubeConfig,
    "PATCH",
    `${resourcePath(object)}?fieldManager=${options.fieldManager}&force=true${options.dryRun ? "&dryRun=All" : ""}`,
    object,
    "application/apply-patch+yaml",
  );
}

export async function createManifests(kubeConfig: KubeConfig, file: string): Promise<KubernetesObject[]> {
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const created: KubernetesObject[] = [];
  for (const document of parseAllDocuments(readFileSync(file, "utf8"))) {
    const object = document.toJS() as KubernetesObject | null;
    if (object) created.push(await objects.create(object));
  }
  return created;
}
