// The configuration the operator produces really runs: the proxy is started here from
// exactly the ConfigMap, Secrets and CA ConfigMap the operator wrote to a real API server
// (environment resolved from the Deployment's secretKeyRefs, as the kubelet does), and a
// person signs in through it at an https provider behind a private CA.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { type DevIdentityProvider, startDevIdentityProvider } from "../../../proxy/dev/identity-provider.ts";
import { type DemoMcpServer, startDemoMcpServer } from "../../../proxy/dev/mcp-server.ts";
import { loadConfig } from "../../../proxy/src/config/load.ts";
import { type RunningProxy, startProxy } from "../../../proxy/src/proxy-server.ts";
import { TestBrowser } from "../../../proxy/test/support/browser.ts";
import { makeLocalhostCertificates } from "../../../proxy/test/support/certificates.ts";
import { Reconciler } from "../../src/controller/reconciler.ts";
import { PROVIDER_CA_FILE } from "../../src/desired/proxy-config.ts";
import { Applier } from "../../src/runtime/apply.ts";
import { createMcpOidcProxy, installCrd } from "../support/crd.ts";
import { freePort } from "../support/eventually.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";

const NS = "mcp";

describe("the proxy, from what the operator produced", () => {
  let server: TestApiServer;
  let idp: DevIdentityProvider;
  let mcp: DemoMcpServer;
  let proxy: RunningProxy | undefined;
  const certificates = makeLocalhostCertificates();

  before(async () => {
    server = await startTestApiServer();
    await installCrd(server);
    mcp = await startDemoMcpServer();
  });
  after(async () => {
    await proxy?.shutdown();
    await idp?.close();
    await mcp?.close();
    await server?.close();
  });

  it("boots with the operator's ConfigMap and Secrets and signs a user in", async () => {
    const proxyPort = await freePort();
    const publicUrl = `http://127.0.0.1:${proxyPort}`;
    idp = await startDevIdentityProvider({
      host: "localhost",
      tls: { key: certificates.key, cert: certificates.cert },
      clients: [{ client_id: "tools", client_secret: "tools-secret", redirect_uris: [`${publicUrl}/callback`] }],
    });
    const kc = server.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: "oidc" }, stringData: { secret: "tools-secret" } },
    });
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: "company-ca" }, data: { "ca.crt": certificates.caPem } },
    });
    await createMcpOidcProxy(kc.makeApiClient(CustomObjectsApi), NS, "tools", {
      upstream: { url: mcp.url },
      publicUrl,
      provider: {
        issuer: idp.issuer,
        clientId: "tools",
        clientSecretRef: { name: "oidc", key: "secret" },
        caConfigMapRef: { name: "company-ca" },
      },
    });
    await new Reconciler({ kubeConfig: kc, applier: new Applier(kc), logger: { info() {}, warn() {} } }).reconcile(
      `${NS}/tools`,
    );

    // What the pod would see: the config file, the CA file, and the environment.
    const dir = mkdtempSync(path.join(tmpdir(), "proxy-from-operator-"));
    const config = await core.readNamespacedConfigMap({ name: "tools-config", namespace: NS });
    writeFileSync(path.join(dir, "config.yaml"), config.data?.["config.yaml"] ?? "");
    const ca = await core.readNamespacedConfigMap({ name: "company-ca", namespace: NS });
    writeFileSync(path.join(dir, "ca.crt"), ca.data?.["ca.crt"] ?? "");
    const deployment = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: "tools", namespace: NS });
    const container = deployment.spec?.template.spec?.containers[0];
    assert.deepEqual(container?.args, ["--config", "/etc/mcp-oidc-proxy/config.yaml"]);
    assert.ok(container?.volumeMounts?.some((m) => PROVIDER_CA_FILE.startsWith(m.mountPath)));
    const env: Record<string, string> = {};
    for (const variable of container?.env ?? []) {
      const ref = variable.valueFrom?.secretKeyRef;
      if (!ref) continue;
      const secret = await core.readNamespacedSecret({ name: ref.name as string, namespace: NS });
      env[variable.name] = Buffer.from(secret.data?.[ref.key] ?? "", "base64").toString();
    }
    assert.deepEqual(Object.keys(env).sort(), ["OIDC_CLIENT_SECRET", "SESSION_SECRET"]);

    // Only where the pod's files and port live differs here (flags/env outrank the file).
    const { config: proxyConfig } = loadConfig({
      file: path.join(dir, "config.yaml"),
      env: {
        ...env,
        MCP_HOST: "127.0.0.1",
        MCP_PORT: String(proxyPort),
        OIDC_CA_FILE: path.join(dir, "ca.crt"),
        LOG_LEVEL: "error",
      },
    });
    assert.equal(proxyConfig.environment, "production");
    proxy = await startProxy(proxyConfig);
    const page = await new TestBrowser({ ca: certificates.caPem }).signIn(`${publicUrl}/`, "alice");
    assert.equal(page.status, 200);
    assert.match(page.text, /alice@example\.com/);
  });
});
