// Installs the generated CRD into a test API server, as kubectl or Helm would: the raw JSON.
// (client-node's typed models drop JSON-schema keys they name differently, such as
// "default" and "x-kubernetes-validations", so the typed client is not used for this.)
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import type { TestApiServer } from "./kube-api-server.ts";

export const CRD_PATH = path.resolve(import.meta.dirname, "../../../../crds/mcp-oidc-proxy.dev_mcpoidcproxies.yaml");

export async function installCrd(server: TestApiServer): Promise<void> {
  const crd = parse(readFileSync(CRD_PATH, "utf8")) as { metadata: { name: string } };
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
