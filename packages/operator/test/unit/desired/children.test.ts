// The pure builders of every child (desired/children.ts, proxy-config.ts): the proxy accepts
// the configuration they render, and the Deployment is restricted, hashed and HPA-friendly.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { loadConfig } from "@mcp-oidc-proxy/proxy";
import { type McpOidcProxy, specSchema, storedSpec } from "../../../src/api/v1alpha1/mcp-oidc-proxy.ts";
import {
  CONFIG_HASH_ANNOTATION,
  configMapFor,
  deploymentFor,
  horizontalPodAutoscalerFor,
  podDisruptionBudgetFor,
  serviceFor,
} from "../../../src/desired/children.ts";

function resource(spec: Record<string, unknown>, labels: Record<string, string> = {}): McpOidcProxy {
  return {
    apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
    kind: "McpOidcProxy",
    metadata: { name: "tools", namespace: "team-a", uid: "uid-1", generation: 1, labels },
    spec: specSchema.parse(spec),
  };
}

const oidcSpec = {
  upstream: { service: { name: "mcp-server", port: 3000 } },
  publicUrl: "https://tools.example.com",
  provider: {
    issuer: "https://login.example.com/realms/acme",
    clientId: "mcp",
    clientSecretRef: { name: "oidc", key: "secret" },
  },
  session: { store: "redis", redis: { urlSecretRef: { name: "redis", key: "url" } } },
  replicas: 3,
  access: { requiredGroups: ["mcp-users"] },
};

/** The proxy's configuration as the proxy loads it from the rendered ConfigMap and the pod's secrets. */
function proxyConfigOf(cr: McpOidcProxy) {
  const dir = mkdtempSync(path.join(tmpdir(), "operator-config-"));
  const file = path.join(dir, "config.yaml");
  writeFileSync(file, configMapFor(cr).data?.["config.yaml"] ?? "");
  return loadConfig({
    file,
    env: { SESSION_SECRET: "s".repeat(40), OIDC_CLIENT_SECRET: "x", REDIS_URL: "redis://redis:6379" },
  }).config;
}

describe("desired children", () => {
  it("a headless upstream Service renders discovery dns: every pod is an endpoint, sessions pinned", () => {
    const config = proxyConfigOf(
      resource({ ...oidcSpec, upstream: { service: { name: "mcp-server", port: 3000, headless: true } } }),
    );
    assert.equal(config.target.url, "http://mcp-server.team-a.svc:3000");
    assert.equal(config.target.discovery, "dns");
    assert.equal(proxyConfigOf(resource(oidcSpec)).target.discovery, "static");
  });

  it("renders a proxy configuration the proxy itself accepts", () => {
    const cr = resource(oidcSpec);
    const config = proxyConfigOf(cr);
    assert.equal(config.environment, "production");
    assert.equal(config.target.url, "http://mcp-server.team-a.svc:3000");
    assert.equal(config.server.public_url, "https://tools.example.com");
    // In-cluster clients use the Service's names; any other Host gets 421.
    assert.ok(config.server.allowed_hosts.includes(`${cr.metadata.name}.team-a.svc.cluster.local`));
    assert.equal(config.session.store, "redis");
    assert.equal(config.metrics.port, 9090);
    assert.deepEqual(config.access.required_groups, ["mcp-users"]);
  });

  it("renders the MCP authorization server's settings (mcpAuth.mode proxy) the proxy accepts", () => {
    const cr = resource({
      ...oidcSpec,
      mcpAuth: {
        mode: "proxy",
        requiredScopes: ["mcp:tools"],
        pathScopes: { "/admin": ["mcp:admin"] },
        preapprovedClients: ["internal-agent"],
        accessTokenTtl: "5m",
      },
    });
    const config = proxyConfigOf(cr);
    assert.equal(config.mcp_auth.mode, "proxy");
    assert.deepEqual(config.mcp_auth.path_scopes, { "/admin": ["mcp:admin"] });
    assert.deepEqual(config.mcp_auth.server.preapproved_clients, ["internal-agent"]);
    assert.equal(config.mcp_auth.server.access_token_ttl, 5 * 60_000);
  });

  it("renders spec.mcpPolicy as the proxy's mcp_policy, which the proxy accepts", () => {
    const cr = resource({
      ...oidcSpec,
      mcpAuth: { mode: "proxy", requiredScopes: ["mcp:tools"] },
      mcpPolicy: {
        rules: [
          { name: "admins", tools: ["admin_*"], groups: ["admins"] },
          { tools: ["deploy"], emailDomains: ["example.com"], scopes: ["mcp:deploy"] },
        ],
        maxBodySize: "2mb",
        audit: { enabled: true },
      },
    });
    const policy = proxyConfigOf(cr).mcp_policy;
    assert.equal(policy.max_body_size, 2 * 1024 * 1024);
    assert.equal(policy.audit.enabled, true);
    assert.equal(policy.audit.output, "stdout");
    assert.deepEqual(policy.rules[0]?.groups, ["admins"]);
    assert.equal(policy.rules[0]?.name, "admins");
    assert.deepEqual(policy.rules[1]?.email_domains, ["example.com"]);
    assert.deepEqual(policy.rules[1]?.scopes, ["mcp:deploy"]);
    // Only the conditions a rule sets: the proxy refuses an empty list (decision 048).
    assert.deepEqual(Object.keys(policy.rules[0] ?? {}), ["name", "tools", "resources", "prompts", "groups"]);
  });

  // The CRD before decision 048 stored [] for every condition a rule left out; the proxy now
  // refuses an empty list, so such resources would have stopped reconciling.
  it("reads the empty conditions the previous CRD stored as left out, and renders none of them", () => {
    const stored = {
      ...oidcSpec,
      mcpAuth: { mode: "proxy" },
      mcpPolicy: {
        rules: [{ name: "open", tools: ["echo"], users: [], groups: [], emailDomains: [], clients: [], scopes: [] }],
      },
    };
    assert.equal(specSchema.safeParse(stored).success, false, "the current CRD's rules refuse them");
    const cr = { ...resource(oidcSpec), spec: specSchema.parse(storedSpec(stored)) };
    assert.deepEqual(proxyConfigOf(cr).mcp_policy.rules[0], {
      name: "open",
      tools: ["echo"],
      resources: [],
      prompts: [],
    });
  });

  it("builds a Deployment with restricted security, probes, secrets by reference and a config hash", () => {
    const deployment = deploymentFor(resource(oidcSpec), "fingerprint-1");
    const pod = deployment.spec?.template.spec;
    const container = pod?.containers[0];
    assert.equal(deployment.spec?.replicas, 3);
    assert.equal(deployment.metadata?.ownerReferences?.[0]?.uid, "uid-1");
    assert.equal(deployment.metadata?.ownerReferences?.[0]?.controller, true);
    assert.equal(pod?.automountServiceAccountToken, false);
    assert.equal(container?.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(container?.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(container?.securityContext?.capabilities?.drop, ["ALL"]);
    assert.equal(container?.securityContext?.seccompProfile?.type, "RuntimeDefault");
    assert.equal(container?.livenessProbe?.httpGet?.path, "/healthz");
    assert.equal(container?.readinessProbe?.httpGet?.path, "/readyz");
    assert.deepEqual(
      container?.env?.map((e) => [e.name, e.valueFrom?.secretKeyRef?.name]),
      [
        ["SESSION_SECRET", "tools-keys"],
        ["OIDC_CLIENT_SECRET", "oidc"],
        ["REDIS_URL", "redis"],
      ],
    );
    assert.ok(
      container?.env?.every((e) => e.value === undefined),
      "no secret value is written into the Deployment",
    );
  });

  it("gives the proxy container the seed's 256Mi limit (its heap is sized from it) unless the spec sets resources", () => {
    const container = (cr: McpOidcProxy) => deploymentFor(cr, "fingerprint-1").spec?.template.spec?.containers[0];
    assert.deepEqual(container(resource(oidcSpec))?.resources, {
      requests: { cpu: "100m", memory: "128Mi" },
      limits: { memory: "256Mi" },
    });
    const own = { requests: { memory: "300Mi" }, limits: { memory: "1Gi" } };
    assert.deepEqual(container(resource({ ...oidcSpec, resources: own }))?.resources, own);
  });

  it("changes the pod template hash when the config or a referenced Secret changes, and only then", () => {
    const hash = (spec: Record<string, unknown>, fingerprint: string) =>
      deploymentFor(resource(spec), fingerprint).spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    assert.equal(hash(oidcSpec, "a"), hash(oidcSpec, "a"));
    assert.notEqual(hash(oidcSpec, "a"), hash(oidcSpec, "b"));
    assert.notEqual(hash(oidcSpec, "a"), hash({ ...oidcSpec, logLevel: "debug" }, "a"));
    assert.equal(hash(oidcSpec, "a"), hash({ ...oidcSpec, replicas: 5 }, "a"), "scaling does not restart pods");
  });

  it("leaves the replica count to the HPA when autoscaling, and adds a PDB", () => {
    const cr = resource({ ...oidcSpec, autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 6 } });
    assert.equal(deploymentFor(cr, "").spec?.replicas, undefined);
    assert.equal(horizontalPodAutoscalerFor(cr)?.spec?.maxReplicas, 6);
    assert.equal(horizontalPodAutoscalerFor(resource(oidcSpec)), undefined);
    assert.equal(podDisruptionBudgetFor(cr)?.spec?.maxUnavailable, 1);
    assert.equal(podDisruptionBudgetFor(resource({ upstream: { url: "http://a" }, authMode: "bypass" })), undefined);
  });

  it("mounts the provider's CA bundle and points the proxy at it", () => {
    const cr = resource({
      ...oidcSpec,
      provider: { ...oidcSpec.provider, caConfigMapRef: { name: "company-ca" } },
    });
    const pod = deploymentFor(cr, "").spec?.template.spec;
    const volume = pod?.volumes?.find((v) => v.name === "provider-ca");
    assert.deepEqual(volume?.configMap, { name: "company-ca", items: [{ key: "ca.crt", path: "ca.crt" }] });
    assert.match(configMapFor(cr).data?.["config.yaml"] ?? "", /ca_file: \/etc\/mcp-oidc-proxy-ca\/ca.crt/);
  });

  it("does not copy the resource's own labels (GitOps tracking) onto children", () => {
    const cr = resource(oidcSpec, { "argocd.argoproj.io/instance": "apps", "kustomize.toolkit.fluxcd.io/name": "x" });
    for (const child of [deploymentFor(cr, ""), serviceFor(cr), configMapFor(cr)]) {
      const childLabels = Object.keys(child.metadata?.labels ?? {});
      assert.ok(!childLabels.some((l) => l.includes("argocd") || l.includes("fluxcd")), childLabels.join(","));
    }
  });
});
