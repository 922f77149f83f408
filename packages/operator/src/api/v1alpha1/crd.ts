// The CustomResourceDefinition of McpOidcProxy, generated from the zod schema so the CRD
// and the TypeScript types cannot drift. `make crds` writes it to crds/; a test compares.
import { z } from "zod";
import { GROUP, KIND, PLURAL, rootRules, specSchema, statusSchema, VERSION } from "./mcp-oidc-proxy.ts";

type Schema = { [key: string]: unknown };

/** zod's OpenAPI 3.0 output, made structural: no additionalProperties:false, no JS integer bounds. */
function structural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structural);
  if (typeof node !== "object" || node === null) return node;
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "additionalProperties" && value === false) continue;
    if ((key === "maximum" || key === "minimum") && Math.abs(value as number) >= Number.MAX_SAFE_INTEGER) continue;
    out[key] = structural(value);
  }
  // A value that is a string or a number (resource quantities) is Kubernetes' int-or-string,
  // written as controller-gen writes a Quantity: the string form's pattern applies to strings.
  const anyOf = out.anyOf as Schema[] | undefined;
  const string = anyOf?.find((s) => s.type === "string");
  if (anyOf?.length === 2 && string && anyOf.some((s) => s.type === "number" || s.type === "integer")) {
    return {
      anyOf: [{ type: "integer" }, { type: "string" }],
      ...(string.maxLength ? { maxLength: string.maxLength } : {}),
      ...(string.pattern ? { pattern: string.pattern } : {}),
      "x-kubernetes-int-or-string": true,
      ...(out["x-kubernetes-validations"] ? { "x-kubernetes-validations": out["x-kubernetes-validations"] } : {}),
    };
  }
  return out;
}

function openApi(schema: z.ZodType): Schema {
  return structural(z.toJSONSchema(schema, { target: "openapi-3.0", io: "input" })) as Schema;
}

export function buildCrd(): Schema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: "mcpoidcproxy", shortNames: ["mop"] },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: "McpOidcProxy puts OpenID Connect sign-in and MCP authorization in front of one MCP server.",
              required: ["spec"],
              "x-kubernetes-validations": rootRules,
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: openApi(specSchema),
                status: openApi(statusSchema),
              },
            },
          },
          subresources: {
            status: {},
            scale: {
              specReplicasPath: ".spec.replicas",
              statusReplicasPath: ".status.replicas",
              labelSelectorPath: ".status.selector",
            },
          },
          // kubectl get mop: the Ready condition and why, then the pods as counted (a column
          // is one JSONPath, so "2/3" as Deployments show it cannot be had; "Replicas" was
          // the ready count).
          additionalPrinterColumns: [
            { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: "Reason", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
            { name: "Replicas", type: "integer", jsonPath: ".status.replicas" },
            { name: "Ready-Replicas", type: "integer", jsonPath: ".status.readyReplicas" },
            { name: "URL", type: "string", jsonPath: ".status.url" },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
        },
      ],
    },
  };
}
