// The generated CRD in a real API server: structural, with defaults, and with CEL rules
// that refuse what the schema alone cannot.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { parse } from "yaml";
import { renderCrd } from "../../scripts/generate-crd.ts";
import { CRD_PATH, installCrd } from "../support/crd.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";

const target = { group: "mcp-oidc-proxy.dev", version: "v1alpha1", namespace: "crd-test", plural: "mcpoidcproxies" };

describe("McpOidcProxy CRD", () => {
  let server: TestApiServer;
  let objects: CustomObjectsApi;
  const namespaces = new Set<string>();
  const ensureNamespace = async (name: string) => {
    if (namespaces.has(name)) return;
    await server
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name } } });
    namespaces.add(name);
  };

  before(async () => {
    server = await startTestApiServer();
    const kc = server.kubeConfig();
    await installCrd(server);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: "crd-test" } } });
    objects = kc.makeApiClient(CustomObjectsApi);
  });
  after(() => server?.close());

  it("is what the zod schema generates (make crds)", () => {
    assert.equal(readFileSync(CRD_PATH, "utf8"), renderCrd());
  });

  it("accepts a minimal resource and fills in the defaults", async () => {
    const created = (await objects.createNamespacedCustomObject({
      ...target,
      body: {
        apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
        kind: "McpOidcProxy",
        metadata: { name: "minimal" },
        spec: {
          upstream: { url: "http://mcp-server:3000" },
          provider: { issuer: "https://login.example.com", clientId: "mcp" },
        },
      },
    })) as {
      spec: Record<string, unknown> & { session: { store: string; ttl: string }; provider: { scopes: string[] } };
    };
    assert.equal(created.spec.replicas, 1);
    assert.equal(created.spec.authMode, "oidc");
    assert.equal(created.spec.session.store, "memory");
    assert.equal(created.spec.session.ttl, "24h");
    assert.deepEqual(created.spec.provider.scopes, ["openid", "profile", "email"]);
  });

  it("accepts every sample under deployments/kubernetes/samples", async () => {
    const dir = path.resolve(import.meta.dirname, "../../../../deployments/kubernetes/samples");
    const samples = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
    assert.ok(samples.length >= 3);
    for (const file of samples) {
      const sample = parse(readFileSync(path.join(dir, file), "utf8")) as {
        metadata: { name: string; namespace: string };
      };
      await ensureNamespace(sample.metadata.namespace);
      await objects.createNamespacedCustomObject({ ...target, namespace: sample.metadata.namespace, body: sample });
    }
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    [
      "both upstream.url and upstream.service",
      { upstream: { url: "http://a", service: { name: "a", port: 1 } }, authMode: "bypass" },
      /exactly one of upstream.url and upstream.service/,
    ],
    ["no upstream target", { upstream: {}, authMode: "bypass" }, /exactly one of upstream.url and upstream.service/],
    ["oidc without a provider", { upstream: { url: "http://a" } }, /provider is required when authMode is oidc/],
    [
      "redis without connection",
      { upstream: { url: "http://a" }, authMode: "bypass", session: { store: "redis" } },
      /session.redis is required/,
    ],
    [
      "two replicas on the memory store",
      { upstream: { url: "http://a" }, authMode: "bypass", replicas: 2 },
      /needs session.store redis/,
    ],
    [
      "autoscaling min above max",
      {
        upstream: { url: "http://a" },
        authMode: "bypass",
        session: { store: "redis", redis: { url: "redis://r" } },
        autoscaling: { enabled: true, minReplicas: 5, maxReplicas: 2 },
      },
      /minReplicas must not exceed maxReplicas/,
    ],
    [
      "a malformed duration",
      { upstream: { url: "http://a" }, authMode: "bypass", session: { ttl: "forever" } },
      /spec.session.ttl/,
    ],
    ["an unknown auth mode", { upstream: { url: "http://a" }, authMode: "none" }, /spec.authMode/],
    [
      "MCP authorization without sign-in",
      { upstream: { url: "http://a" }, authMode: "bypass", mcpAuth: { mode: "proxy" } },
      /mcpAuth.mode provider or proxy needs authMode oidc/,
    ],
    [
      "an authorization server issuer with a path",
      {
        upstream: { url: "http://a" },
        publicUrl: "https://tools.example.com/team-a",
        provider: { issuer: "https://login.example.com", clientId: "mcp" },
        mcpAuth: { mode: "proxy" },
      },
      /must have no path/,
    ],
  ];
  for (const [name, spec, message] of invalid) {
    it(`refuses ${name}`, async () => {
      await assert.rejects(
        objects.createNamespacedCustomObject({
          ...target,
          body: {
            apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
            kind: "McpOidcProxy",
            metadata: { name: "invalid" },
            spec,
          },
        }),
        (error: Error & { code?: number; body?: string }) => {
          assert.equal(error.code, 422, String(error.body));
          assert.match(String(error.body), message);
          return true;
        },
      );
    });
  }
});
