// Installs the generated CRD into a test API server, as kubectl or Helm would: the raw JSON.
// (client-node's typed models drop JSON-schema keys they name differently, such as
// "default" and "x-kubernetes-validations", so the typed client is not used for this.)
// Then resources of it, named by the API's literal coordinates as a user's manifest names them.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { parse } from "yaml";
import type { TestApiServer } from "./kube-api-server.ts";

export const CRD_PATH = path.resolve(import.meta.dirname, "../../../../crds/mcp-oidc-proxy.dev_mcpoidcproxies.yaml");

/** The generated CRD as JSON, for a test that installs it or a changed copy of it. */
export function generatedCrd(): { metadata: { name: string } } {
  return parse(readFileSync(CRD_PATH, "utf8")) as { metadata: { name: string } };
}

/**
 * Replaces the CRD's schema with `crd` (an earlier or changed one) in place, as an upgrade or
 * a downgrade of the operator's chart would; resolves once `takesEffect` says it is in force.
 */
export async function replaceCrd(server: TestApiServer, crd: object, takesEffect: () => Promise<boolean>) {
  const name = generatedCrd().metadata.name;
  const current = await server.request("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
  const { resourceVersion } = (current.body as { metadata: { resourceVersion: string } }).metadata;
  const body = { ...crd, metadata: { ...(crd as { metadata: object }).metadata, resourceVersion } };
  const replaced = await server.request("PUT", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`, body);
  if (replaced.status !== 200) throw new Error(`CRD refused: ${replaced.status} ${JSON.stringify(replaced.body)}`);
  // The API server applies a new schema asynchronously: bounded, as every wait here.
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await takesEffect()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the replaced CRD never took effect");
}

export async function installCrd(server: TestApiServer): Promise<void> {
  const crd = generatedCrd();
  const created = await server.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  if (created.status !== 201) throw new Error(`CRD refused: ${created.status} ${JSON.stringify(created.body)}`);
  for (let attempt = 0; attempt < 200; attempt++) {
    const current = await server.request(
      "GET",
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
    );
    const conditions = (current.body as { status?: { conditions?: { type: string; status: string }[] } }).status
      ?.conditions;
    if (conditions?.some((c) => c.type === "Established" && c.status === "True")) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the CRD was never established");
}

/** Where McpOidcProxy resources of `namespace` are, for CustomObjectsApi calls (with `name`, one of them). */
export const mcpOidcProxies = (namespace: string) => ({
  group: "mcp-oidc-proxy.dev",
  version: "v1alpha1",
  namespace,
  plural: "mcpoidcproxies",
});

/** Creates McpOidcProxy `name` with `spec` in `namespace`; resolves with the object the API server stored. */
export function createMcpOidcProxy(
  objects: CustomObjectsApi,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<object> {
  return objects.createNamespacedCustomObject({
    ...mcpOidcProxies(namespace),
    body: { apiVersion: "mcp-oidc-proxy.dev/v1alpha1", kind: "McpOidcProxy", metadata: { name }, spec },
  });
}
