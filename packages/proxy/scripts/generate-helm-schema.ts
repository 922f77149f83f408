// make crds (also): helm/mcp-oidc-proxy/values.schema.json. The chart's own keys are listed
// here; `config` is the proxy's configuration schema itself (config/schema.ts), so Helm
// refuses a typo in the proxy's settings as the proxy would, before anything is deployed.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { configSchema } from "../src/config/schema.ts";

export const HELM_SCHEMA_FILE = path.resolve(import.meta.dirname, "../../../helm/mcp-oidc-proxy/values.schema.json");

type Schema = Record<string, unknown>;
const object = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({
  type: "object",
  additionalProperties: false,
  properties,
  ...extra,
});
const string: Schema = { type: "string" };
const boolean: Schema = { type: "boolean" };
const integer = (minimum = 0, maximum?: number): Schema => ({
  type: "integer",
  minimum,
  ...(maximum !== undefined ? { maximum } : {}),
});
const stringMap: Schema = { type: "object", additionalProperties: { type: "string" } };
const anyObject: Schema = { type: "object" };
const list = (items: Schema = anyObject): Schema => ({ type: "array", items });
const port = integer(1, 65535);

/**
 * Helm's validator treats `format` as a note, not a rule: "not a url" passed as
 * server.public_url and the pod refused it. Every `format: uri` of the proxy's schema is an
 * absolute http(s) URL (config/schema.ts absoluteUrl), so each gets the pattern Helm checks.
 */
const HTTP_URL_PATTERN = "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+([/?#]\\S*)?$";
function withUrlPatterns(node: unknown): void {
  if (Array.isArray(node)) node.forEach(withUrlPatterns);
  if (typeof node !== "object" || node === null) return;
  const schema = node as Schema;
  if (schema.format === "uri" && schema.pattern === undefined) schema.pattern = HTTP_URL_PATTERN;
  Object.values(schema).forEach(withUrlPatterns);
}

/**
 * The memory store lives in one pod: more replicas (or an autoscaler) would each hold other
 * sessions, as the operator's CRD refuses too. Said as "then the store must be redis", so
 * Helm's message points at the value to change; a store left out is the proxy's memory.
 */
const redisForSeveralReplicas: Schema = {
  if: {
    anyOf: [
      { properties: { replicaCount: { minimum: 2 } }, required: ["replicaCount"] },
      { properties: { autoscaling: { properties: { enabled: { const: true } }, required: ["enabled"] } } },
    ],
  },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, never awaited
  then: {
    properties: {
      config: {
        properties: { session: { properties: { store: { const: "redis" } }, required: ["store"] } },
        required: ["session"],
      },
    },
    required: ["config"],
  },
};

export function helmValuesSchema(): Schema {
  const config = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Schema;
  delete config.$schema;
  withUrlPatterns(config);
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "mcp-oidc-proxy chart values",
    ...object({
      replicaCount: integer(0),
      image: object({
        repository: { type: "string", minLength: 1 },
        tag: string,
        pullPolicy: { enum: ["Always", "IfNotPresent", "Never"] },
      }),
      imagePullSecrets: list(object({ name: string })),
      nameOverride: string,
      fullnameOverride: string,
      config: { ...config, description: "The proxy's configuration file (configs/config.example.yaml)." },
      secrets: object({
        existingSecret: string,
        keys: object({ oidcClientSecret: string, sessionSecret: string, redisPassword: string }),
        oidcClientSecret: string,
        sessionSecret: string,
        redisPassword: string,
      }),
      env: stringMap,
      service: object({ type: { enum: ["ClusterIP", "NodePort", "LoadBalancer"] }, port, annotations: stringMap }),
      metrics: object({ enabled: boolean, port, podAnnotations: boolean }),
      ingress: object({
        enabled: boolean,
        className: string,
        annotations: stringMap,
        hosts: list(
          object({
            host: string,
            paths: list(object({ path: string, pathType: { enum: ["Prefix", "Exact", "ImplementationSpecific"] } })),
          }),
        ),
        tls: list(object({ secretName: string, hosts: list(string) })),
      }),
      autoscaling: object({
        enabled: boolean,
        minReplicas: integer(1),
        maxReplicas: integer(1),
        targetCPUUtilizationPercentage: integer(0, 100),
        targetMemoryUtilizationPercentage: integer(0, 100),
      }),
      podDisruptionBudget: object({ enabled: boolean, maxUnavailable: { type: ["integer", "string"] } }),
      serviceAccount: object({ create: boolean, name: string, annotations: stringMap, automountToken: boolean }),
      resources: anyObject,
      podAnnotations: stringMap,
      podLabels: stringMap,
      nodeSelector: stringMap,
      tolerations: list(),
      affinity: anyObject,
      topologySpreadConstraints: list(),
      terminationGracePeriodSeconds: integer(10),
    }),
    allOf: [redisForSeveralReplicas],
  };
}

export function renderHelmSchema(): string {
  return `${JSON.stringify(helmValuesSchema(), null, 2)}\n`;
}

if (import.meta.main) {
  writeFileSync(HELM_SCHEMA_FILE, renderHelmSchema());
  process.stdout.write(`wrote ${path.relative(process.cwd(), HELM_SCHEMA_FILE)}\n`);
}
