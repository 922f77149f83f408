// Pure builders of everything a McpOidcProxy owns. Each returns a whole object with an
// owner reference (garbage collection) and the operator's labels, never the resource's own
// labels or annotations (GitOps tracking labels stay on the resource).
import { createHash } from "node:crypto";
import type {
  V1ConfigMap,
  V1Deployment,
  V1EnvVar,
  V1OwnerReference,
  V1PodDisruptionBudget,
  V1Service,
  V1ServiceAccount,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import { API_VERSION, KIND, type McpOidcProxy } from "../api/v1alpha1/mcp-oidc-proxy.ts";
import { METRICS_PORT, PROVIDER_CA_DIR, PROXY_PORT, renderProxyConfig } from "./proxy-config.ts";

export const FIELD_MANAGER = "mcp-oidc-operator";
export const DEFAULT_IMAGE = "ghcr.io/mcp-oidc-proxy/mcp-oidc-proxy:0.1.0";

/**
 * The proxy container's resources when the spec gives none: the seed's 256 MiB limit (the
 * image's entrypoint sizes V8's heap from it, decision 020; new streams are refused near it,
 * decision 028) and a request of 128 MiB, above the ~90 MiB an idle proxy holds (decision
 * 026), where the seed's 64 MiB would mark every pod as over its request. A CPU request for
 * the autoscaler's utilization to be measured against.
 */
const DEFAULT_RESOURCES = { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } };
export const CONFIG_HASH_ANNOTATION = "mcp-oidc-proxy.dev/config-hash";
export const SESSION_SECRET_KEY = "session-secret";

export const names = (cr: McpOidcProxy) => ({
  workload: cr.metadata.name,
  config: `${cr.metadata.name}-config`,
  keys: `${cr.metadata.name}-keys`,
});

export function selectorLabels(cr: McpOidcProxy): Record<string, string> {
  return { "app.kubernetes.io/name": "mcp-oidc-proxy", "app.kubernetes.io/instance": cr.metadata.name };
}

function labels(cr: McpOidcProxy): Record<string, string> {
  return {
    ...selectorLabels(cr),
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": FIELD_MANAGER,
  };
}

export function ownerReference(cr: McpOidcProxy): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: cr.metadata.name,
    uid: cr.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function metadata(cr: McpOidcProxy, name: string) {
  return { name, namespace: cr.metadata.namespace, labels: labels(cr), ownerReferences: [ownerReference(cr)] };
}

export function configMapFor(cr: McpOidcProxy): V1ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: metadata(cr, names(cr).config),
    data: { "config.yaml": renderProxyConfig(cr) },
  };
}

export function serviceAccountFor(cr: McpOidcProxy): V1ServiceAccount {
  // The proxy never talks to the Kubernetes API: no token is mounted.
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: metadata(cr, names(cr).workload),
    automountServiceAccountToken: false,
  };
}

export function serviceFor(cr: McpOidcProxy): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(cr, names(cr).workload),
    spec: {
      selector: selectorLabels(cr),
      ports: [
        { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
        { name: "metrics", port: METRICS_PORT, targetPort: "metrics", protocol: "TCP" },
      ],
    },
  };
}

function secretEnv(name: string, ref: { name: string; key: string }): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } };
}

/**
 * Hash of what the pods read at start (config and the referenced Secrets' data): it goes on
 * the pod template, so a change of any of them rolls the pods.
 */
export function configHash(cr: McpOidcProxy, secretsFingerprint: string): string {
  return createHash("sha256")
    .update(renderProxyConfig(cr))
    .update("\0")
    .update(secretsFingerprint)
    .digest("hex")
    .slice(0, 16);
}

export function deploymentFor(cr: McpOidcProxy, secretsFingerprint: string): V1Deployment {
  const { spec } = cr;
  const env: V1EnvVar[] = [secretEnv("SESSION_SECRET", { name: names(cr).keys, key: SESSION_SECRET_KEY })];
  if (spec.provider?.clientSecretRef) env.push(secretEnv("OIDC_CLIENT_SECRET", spec.provider.clientSecretRef));
  if (spec.session.redis?.urlSecretRef) env.push(secretEnv("REDIS_URL", spec.session.redis.urlSecretRef));
  if (spec.session.redis?.passwordSecretRef)
    env.push(secretEnv("REDIS_PASSWORD", spec.session.redis.passwordSecretRef));
  const autoscaled = spec.autoscaling?.enabled === true;
  const providerCa = spec.provider?.caConfigMapRef;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(cr, names(cr).workload),
    spec: {
      // With autoscaling the HPA owns the replica count: the operator does not set it at all.
      ...(autoscaled ? {} : { replicas: spec.replicas }),
      selector: { matchLabels: selectorLabels(cr) },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: labels(cr), annotations: { [CONFIG_HASH_ANNOTATION]: configHash(cr, secretsFingerprint) } },
        spec: {
          serviceAccountName: names(cr).workload,
          automountServiceAccountToken: false,
          // Streams are ended cleanly on SIGTERM; ordinary requests get the proxy's 30 s.
          terminationGracePeriodSeconds: 40,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "proxy",
              image: spec.image ?? DEFAULT_IMAGE,
              ...(spec.imagePullPolicy ? { imagePullPolicy: spec.imagePullPolicy } : {}),
              args: ["--config", "/etc/mcp-oidc-proxy/config.yaml"],
              ports: [
                { name: "http", containerPort: PROXY_PORT, protocol: "TCP" },
                { name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" },
              ],
              env,
              livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10, failureThreshold: 3 },
              readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5, failureThreshold: 2 },
              resources: (spec.resources ?? DEFAULT_RESOURCES) as never,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 10001,
                runAsGroup: 10001,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
              volumeMounts: [
                { name: "config", mountPath: "/etc/mcp-oidc-proxy", readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
                ...(providerCa ? [{ name: "provider-ca", mountPath: PROVIDER_CA_DIR, readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: "config", configMap: { name: names(cr).config } },
            { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
            ...(providerCa
              ? [
                  {
                    name: "provider-ca",
                    configMap: { name: providerCa.name, items: [{ key: providerCa.key, path: "ca.crt" }] },
                  },
                ]
              : []),
          ],
        },
      },
    },
  };
}

/** Only when more than one pod can run: one pod may be unavailable during node drains. */
export function podDisruptionBudgetFor(cr: McpOidcProxy): V1PodDisruptionBudget | undefined {
  const autoscaled = cr.spec.autoscaling?.enabled === true;
  if (!autoscaled && cr.spec.replicas < 2) return undefined;
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: metadata(cr, names(cr).workload),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(cr) } },
  };
}

export function horizontalPodAutoscalerFor(cr: McpOidcProxy): V2HorizontalPodAutoscaler | undefined {
  const scaling = cr.spec.autoscaling;
  if (!scaling?.enabled) return undefined;
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: metadata(cr, names(cr).workload),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: names(cr).workload },
      minReplicas: scaling.minReplicas,
      maxReplicas: scaling.maxReplicas,
      metrics: [
        {
          type: "Resource",
          resource: {
            name: "cpu",
            target: { type: "Utilization", averageUtilization: scaling.targetCPUUtilizationPercentage },
          },
        },
      ],
    },
  };
}
