// The Helm charts, checked the way a user runs them: helm lint --strict and helm template
// (a real helm, built from the Go module proxy) over every values file under ci/, what they
// render piped through the real kubectl (apply --server-side, dry-run and real) to a real API
// server, converging on a second apply; and helm install then helm upgrade of both charts
// against a real API server. Values files with a typo are refused by values.schema.json, and
// values whose config the proxy would refuse at start by the chart itself, naming what to set;
// the README's install, run as written, gives a config `mcp-oidc-proxy --config-test` accepts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { HELM_SCHEMA_FILE, renderHelmSchema } from "../../../proxy/scripts/generate-helm-schema.ts";
import { loadConfig } from "../../../proxy/src/config/load.ts";
import { CRD_FILE, HELM_CRD_FILE, renderHelmCrd } from "../../scripts/generate-crd.ts";
import { helm, helmAgainst, helmBinary } from "../support/helm.ts";
import { kubeBinariesDir, startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";
import { applyAndConverge, kubectlOk, run } from "../support/kubectl.ts";
import { applyServerSide, type Manifest, parseManifests } from "../support/manifests.ts";

const ROOT = path.resolve(import.meta.dirname, "../../../..");
const CHARTS = ["mcp-oidc-proxy", "mcp-oidc-operator"];
const NAMESPACE = "mcp-system";
/** Kinds whose CRDs a bare cluster lacks: rendered and checked, not applied. */
const NEEDS_FOREIGN_CRD = new Set(["ServiceMonitor"]);

/** What `helm template` prints, as text. */
function render(chart: string, values: string[] = [], extra: string[] = []): string {
  const result = helm([
    "template",
    "release",
    `helm/${chart}`,
    "--namespace",
    NAMESPACE,
    ...values.flatMap((file) => ["-f", file]),
    ...extra,
  ]);
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

function template(chart: string, values: string[] = [], extra: string[] = []): Manifest[] {
  return parseManifests(render(chart, values, extra)).map((object) => ({
    ...object,
    metadata: { ...object.metadata, namespace: object.metadata.namespace ?? NAMESPACE },
  }));
}

/**
 * The rendered text without the documents of kinds a bare cluster lacks, cut at the
 * parser's source ranges: kubectl reads every other document exactly as helm printed it.
 */
function applicableText(rendered: string): string {
  return parseAllDocuments(rendered)
    .filter((document) => !NEEDS_FOREIGN_CRD.has((document.toJS() as Manifest | null)?.kind ?? ""))
    .map((document) => rendered.slice(document.range[0], document.range[2]))
    .join("\n---\n");
}

/** The proxy chart's defaults with what they leave to the user: a config the proxy accepts. */
const PROXY_DEFAULTS = path.join(ROOT, "helm/mcp-oidc-proxy/ci/default-values.yaml");
const PROXY_BIN = path.join(ROOT, "node_modules/.bin/mcp-oidc-proxy");

/** What `mcp-oidc-proxy --config-test` says of a config file, with the pod's environment. */
function configTest(configYaml: string, env: Record<string, string>) {
  const dir = mkdtempSync(path.join(tmpdir(), "chart-config-test-"));
  const file = path.join(dir, "config.yaml");
  writeFileSync(file, configYaml);
  const result = spawnSync(PROXY_BIN, ["--config", file, "--config-test"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** `patch` laid over `base`: objects merged key by key, anything else (lists too) replaced. */
function merged(base: unknown, patch: unknown): unknown {
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value);
  if (!isObject(base) || !isObject(patch)) return patch;
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) result[key] = merged(base[key], value);
  return result;
}

/** The fields the proxy's --config-test names ("  - oidc.scopes: …"), each as the chart's value. */
function proxyProblemValues(output: string): string[] {
  return [...output.matchAll(/^ {2}- ([\w.[\]]+)(?: \([^)]*\))?:/gm)].map(([, field]) =>
    field === "metrics.port" ? field : `config.${field}`,
  );
}

function valuesFiles(chart: string): string[] {
  const dir = path.join(ROOT, "helm", chart, "ci");
  return readdirSync(dir)
    .filter((file) => file.endsWith(".yaml"))
    .map((file) => path.join(dir, file));
}

describe("Helm charts", () => {
  let server: TestApiServer;
  before(async () => {
    server = await startTestApiServer();
    for (const name of [NAMESPACE, "team-a"]) {
      await applyServerSide(
        server.kubeConfig(),
        { apiVersion: "v1", kind: "Namespace", metadata: { name } },
        { fieldManager: "helm-test" },
      );
    }
  });
  after(() => server?.close());

  it("keep their generated files current (make crds)", () => {
    assert.equal(readFileSync(HELM_CRD_FILE, "utf8"), renderHelmCrd());
    assert.equal(readFileSync(HELM_SCHEMA_FILE, "utf8"), renderHelmSchema());
  });

  for (const chart of CHARTS) {
    for (const values of valuesFiles(chart)) {
      const name = `${chart} with ${path.basename(values)}`;
      it(`${name}: lint --strict, template, apply server-side (dry-run, real) and converge`, async () => {
        const lint = helm(["lint", "--strict", `helm/${chart}`, "-f", values]);
        assert.equal(lint.status, 0, lint.stdout + lint.stderr);
        const rendered = render(chart, [values]);
        assert.ok(parseManifests(rendered).some((o) => o.kind === "Deployment"));
        const { stored, converged } = await applyAndConverge(
          server,
          { yaml: applicableText(rendered) },
          { fieldManager: `helm-${chart}` },
        );
        assert.ok(stored.some((o) => o.kind === "Deployment"));
        assert.ok(stored.every((o) => o.metadata.resourceVersion));
        assert.ok(converged, "re-applying what the chart renders changed objects: a perpetual diff");
      });
    }
  }

  it("refuse typos, in the chart's values and in the proxy's configuration alike (and a metrics port on the health port)", () => {
    for (const [chart, set, message] of [
      ["mcp-oidc-proxy", "replicaCont=2", /additional properties 'replicaCont' not allowed/],
      ["mcp-oidc-proxy", "config.oidc.clinet_id=x", /\/config\/oidc.*'clinet_id' not allowed/],
      ["mcp-oidc-proxy", "config.session.store=postgres", /\/config\/session\/store/],
      [
        "mcp-oidc-proxy",
        "config.mcp_policy.rules[0].tolls[0]=x",
        /\/config\/mcp_policy\/rules\/0.*'tolls' not allowed/,
      ],
      // An e-mail domain with its "@" never matched (decision 048).
      [
        "mcp-oidc-proxy",
        "config.mcp_policy.rules[0].tools[0]=x,config.mcp_policy.rules[0].email_domains[0]=@example.com",
        /\/config\/mcp_policy\/rules\/0\/email_domains\/0.*does not match pattern/,
      ],
      ["mcp-oidc-operator", "watchNamespace=Team_A", /watchNamespace/],
      ["mcp-oidc-operator", "crds.instal=false", /'instal' not allowed/],
      // The health port is fixed: both servers on one port, and the operator exited at start.
      ["mcp-oidc-operator", "metrics.port=8081", /\/metrics\/port/],
    ] as const) {
      const result = helm(["template", "release", `helm/${chart}`, "--set", set]);
      assert.notEqual(result.status, 0, set);
      assert.match(result.stderr, message, set);
    }
  });

  // A new user's trial: an empty condition list granted every signed-in user the rule's tools.
  it("refuse an empty condition list in an MCP policy rule, as the proxy does", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chart-policy-"));
    const file = path.join(dir, "values.yaml");
    writeFileSync(file, "config:\n  mcp_policy:\n    rules:\n      - { name: deploy, tools: [deploy], users: [] }\n");
    const result = helm(["template", "release", "helm/mcp-oidc-proxy", "-f", PROXY_DEFAULTS, "-f", file]);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /\/config\/mcp_policy\/rules\/0\/users.*minItems/);
  });

  it("refuse a public path not starting with / (the chart rendered it and the proxy refused it in the pod)", () => {
    const withPath = (publicPath: string) =>
      helm([
        "template",
        "release",
        "helm/mcp-oidc-proxy",
        "-f",
        PROXY_DEFAULTS,
        "--set",
        `config.access.public_paths[0]=${publicPath}`,
      ]);
    const result = withPath("nope");
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /\/config\/access\/public_paths/);
    const fine = withPath("/docs/*");
    assert.equal(fine.status, 0, fine.stderr);
  });

  // A new user's trial: with no values the pods exited 2 (no provider, no public URL, no
  // session secret); a Secret without SESSION_SECRET likewise; redis://mcp-redis:6379 was
  // the default store, which nothing created.
  it("refuse without values, naming every value the proxy needs, instead of rendering pods that exit 2", () => {
    const result = helm(["template", "release", "helm/mcp-oidc-proxy"]);
    assert.notEqual(result.status, 0);
    for (const value of [
      "config.server.public_url",
      "config.target.url",
      "config.oidc.discovery_url",
      "config.oidc.client_id",
      "secrets.sessionSecret",
    ]) {
      assert.match(result.stderr, new RegExp(`- ${value.replaceAll(".", "\\.")}: required`), value);
    }
  });

  it("default to memory sessions in one pod, and refuse the redis store without a Redis URL", () => {
    const objects = template("mcp-oidc-proxy", [PROXY_DEFAULTS]);
    const config = parse(objects.find((o) => o.kind === "ConfigMap")?.data?.["config.yaml"] ?? "") as {
      session: { store: string };
      redis?: unknown;
    };
    assert.equal(config.session.store, "memory");
    assert.equal(config.redis, undefined, "no Redis that nothing creates");
    const deployment = objects.find((o) => o.kind === "Deployment") as unknown as { spec: { replicas: number } };
    assert.equal(deployment.spec.replicas, 1);
    const redis = ["-f", PROXY_DEFAULTS, "--set", "config.session.store=redis"];
    const withoutUrl = helm(["template", "release", "helm/mcp-oidc-proxy", ...redis]);
    assert.notEqual(withoutUrl.status, 0);
    assert.match(withoutUrl.stderr, /- config\.redis\.url: required with session\.store redis.*does not install Redis/);
    const withUrl = helm([
      "template",
      "release",
      "helm/mcp-oidc-proxy",
      ...redis,
      "--set",
      "config.redis.url=redis://r:6379",
    ]);
    assert.equal(withUrl.status, 0, withUrl.stderr);
  });

  it("refuse several replicas or an autoscaler with the memory store, as the CRD does", () => {
    for (const set of [
      ["replicaCount=3"],
      ["replicaCount=3", "config.session.store=memory"],
      ["autoscaling.enabled=true"],
    ]) {
      const result = helm(["template", "release", "helm/mcp-oidc-proxy", "-f", PROXY_DEFAULTS, "--set", set.join(",")]);
      assert.notEqual(result.status, 0, set.join(","));
      assert.match(result.stderr, /at '\/config\/session\/store': value must be 'redis'/, set.join(","));
    }
    const shared = "replicaCount=3,config.session.store=redis,config.redis.url=redis://r:6379";
    const fine = helm(["template", "release", "helm/mcp-oidc-proxy", "-f", PROXY_DEFAULTS, "--set", shared]);
    assert.equal(fine.status, 0, fine.stderr);
  });

  it("refuse a public URL that is no URL, and a session secret the proxy finds too short", () => {
    const notUrl = helm([
      "template",
      "release",
      "helm/mcp-oidc-proxy",
      "-f",
      PROXY_DEFAULTS,
      "--set",
      "config.server.public_url=not a url",
    ]);
    assert.notEqual(notUrl.status, 0);
    assert.match(notUrl.stderr, /at '\/config\/server\/public_url': 'not a url' does not match pattern/);
    const short = helm([
      "template",
      "release",
      "helm/mcp-oidc-proxy",
      "-f",
      PROXY_DEFAULTS,
      "--set",
      "secrets.sessionSecret=short",
    ]);
    assert.notEqual(short.status, 0);
    assert.match(short.stderr, /- secrets\.sessionSecret: each secret needs at least 32 characters \(one has 5\)/);
  });

  // A new user's trial: https://mcp.example.com/tools rendered, and the proxy's redirect URI
  // dropped the path while NOTES said to register <public_url>/callback.
  it("refuse exactly the public URLs the proxy refuses (a path, query or fragment), naming the value", () => {
    const proxyAccepts = (publicUrl: string) => {
      try {
        loadConfig({ env: { AUTH_MODE: "bypass", MCP_PUBLIC_URL: publicUrl } });
        return true;
      } catch {
        return false;
      }
    };
    for (const publicUrl of [
      "https://tools.mcp.example.com",
      "https://tools.mcp.example.com/",
      "http://10.0.0.1:8080",
      "HTTPS://Tools.MCP.example.com",
      "HTTPS://tools.mcp.example.com/tools",
      "https://tools.mcp.example.com/tools",
      "https://tools.mcp.example.com/?x=1#frag",
      "https://tools.mcp.example.com#frag",
      "https://tools.mcp.example.com;x",
    ]) {
      const result = helm([
        "template",
        "release",
        "helm/mcp-oidc-proxy",
        "-f",
        PROXY_DEFAULTS,
        "--set-string",
        `config.server.public_url=${publicUrl}`,
      ]);
      assert.equal(result.status === 0, proxyAccepts(publicUrl), `${publicUrl}: ${result.stderr}`);
      if (result.status !== 0) {
        assert.ok(
          result.stderr.includes(
            `- config.server.public_url: must be an origin such as https://mcp.example.com, with no path, query or fragment (got ${publicUrl})`,
          ),
          result.stderr,
        );
      }
    }
    assert.equal(proxyAccepts("https://tools.mcp.example.com/tools"), false, "the proxy refuses some of them");
    assert.equal(proxyAccepts("HTTPS://Tools.MCP.example.com"), true, "and takes an upper-case scheme and host");
  });

  // A new user's trial: --set config.auth.mode=bypass rendered in production, with the
  // chart's default mcp_auth.mode proxy besides, and the pods crash-looped (exit 2).
  it("refuse what the proxy refuses across fields, naming each value the proxy names, and render what it takes", () => {
    const defaults = template("mcp-oidc-proxy", [PROXY_DEFAULTS]);
    const defaultConfig = parse(defaults.find((o) => o.kind === "ConfigMap")?.data?.["config.yaml"] ?? "");
    const secretEnv = (defaults.find((o) => o.kind === "Secret") as unknown as { stringData: Record<string, string> })
      .stringData;
    const bypass = { auth: { mode: "bypass" } };
    const development = { environment: "development" };
    const bypassEnv = { AUTH_MODE: "bypass", MCP_AUTH_MODE: "off" };
    const cases: { name: string; values: { config?: object; env?: Record<string, string> }; proxy?: object }[] = [
      { name: "bypass in production", values: { config: bypass } },
      { name: "bypass in production, from env", values: { env: { AUTH_MODE: "bypass" } } },
      { name: "bypass with the default mcp_auth proxy", values: { config: { ...development, ...bypass } } },
      {
        name: "bypass with mcp_auth provider",
        values: { config: { ...development, ...bypass, mcp_auth: { mode: "provider" } } },
      },
      { name: "bypass in development", values: { config: { ...development, ...bypass, mcp_auth: { mode: "off" } } } },
      { name: "scopes without openid", values: { config: { oidc: { scopes: ["profile", "email"] } } } },
      {
        name: "a plain-http issuer in production",
        values: { config: { oidc: { discovery_url: "http://id.example" } } },
      },
      {
        name: "a plain-http issuer in development",
        values: { config: { ...development, oidc: { discovery_url: "http://id.example" } } },
      },
      {
        name: "a plain-http test issuer allowed",
        values: {
          config: { ...development, oidc: { discovery_url: "http://id.example", allow_insecure_issuer: true } },
        },
      },
      { name: "a loopback issuer", values: { config: { oidc: { discovery_url: "http://127.0.0.1:9000/realm" } } } },
      {
        name: "a policy rule on scopes without bearer tokens",
        values: { config: { mcp_auth: { mode: "off" }, mcp_policy: { rules: [{ tools: ["x"], scopes: ["s"] }] } } },
      },
      { name: "target url and urls", values: { config: { target: { urls: ["http://a:1", "http://b:1"] } } } },
      {
        name: "SameSite none without Secure",
        values: { config: { session: { cookie_same_site: "none", cookie_secure: "never" } } },
      },
      // Authentication off in a cluster is the proxy's call: it refuses it in production only.
      { name: "bypass in development, from env", values: { env: { MCP_ENV: "development", ...bypassEnv } } },
      { name: "bypass in staging, from env", values: { env: { MCP_ENV: "staging", ...bypassEnv } } },
      { name: "an environment the proxy does not know", values: { env: { MCP_ENV: "Development", ...bypassEnv } } },
      { name: "a mode the proxy does not know", values: { env: { MCP_ENV: "development", AUTH_MODE: "none" } } },
      {
        name: "clients forgotten before their refresh tokens",
        values: { config: { mcp_auth: { server: { client_ttl: "1d" } } } },
      },
      {
        name: "refresh tokens outliving the default client_ttl, from env",
        values: { env: { MCP_REFRESH_TOKEN_TTL: "60d" } },
      },
      { name: "clients kept for ever", values: { config: { mcp_auth: { server: { client_ttl: "0s" } } } } },
      {
        name: "client_ttl in seconds, as long as the refresh tokens",
        values: { config: { mcp_auth: { server: { client_ttl: 1209600 } } } },
      },
      // Digits as text are seconds too (the proxy read them as milliseconds once, and the chart alike).
      {
        name: "client_ttl in seconds as text, as long as the refresh tokens, from env",
        values: { env: { MCP_CLIENT_TTL: "1209600" } },
      },
      {
        name: "client_ttl in seconds as a quoted value, shorter than the refresh tokens",
        values: { config: { mcp_auth: { server: { client_ttl: "86400" } } } },
      },
      {
        name: "sentinel without nodes",
        values: { config: { session: { store: "redis" }, redis: { mode: "sentinel" } } },
      },
    ];
    const dir = mkdtempSync(path.join(tmpdir(), "chart-rules-"));
    for (const [index, { name, values }] of cases.entries()) {
      const file = path.join(dir, `case-${index}.yaml`);
      writeFileSync(file, JSON.stringify(values));
      const chart = helm(["template", "release", "helm/mcp-oidc-proxy", "-f", PROXY_DEFAULTS, "-f", file]);
      const proxy = configTest(JSON.stringify(merged(defaultConfig, values.config ?? {})), {
        ...secretEnv,
        ...values.env,
      });
      assert.equal(chart.status === 0, proxy.status === 0, `${name}: chart ${chart.stderr}, proxy ${proxy.output}`);
      for (const value of proxyProblemValues(proxy.output)) {
        assert.ok(chart.stderr.includes(`- ${value}:`), `${name}: the chart does not name ${value}: ${chart.stderr}`);
      }
    }
    const metrics = helm([
      "template",
      "release",
      "helm/mcp-oidc-proxy",
      "-f",
      PROXY_DEFAULTS,
      "--set",
      "metrics.port=8080",
    ]);
    assert.match(metrics.stderr, /- metrics\.port: 8080 is the proxy's own port/);
    assert.notEqual(
      configTest(JSON.stringify(merged(defaultConfig, { metrics: { port: 8080 } })), secretEnv).status,
      0,
    );
  });

  it("render, for every ci/ values file, a config `mcp-oidc-proxy --config-test` accepts with its secrets", () => {
    for (const values of valuesFiles("mcp-oidc-proxy")) {
      const objects = template("mcp-oidc-proxy", [values]);
      const given = parse(readFileSync(values, "utf8")) as { env?: Record<string, string>; secrets?: object };
      const secret = objects.find((o) => o.kind === "Secret") as unknown as
        | { stringData: Record<string, string> }
        | undefined;
      // An existing Secret's keys, as the chart names them, with values the proxy takes.
      const existing = { OIDC_CLIENT_SECRET: "x", SESSION_SECRET: "s".repeat(40), REDIS_PASSWORD: "r" };
      const result = configTest(objects.find((o) => o.kind === "ConfigMap")?.data?.["config.yaml"] ?? "", {
        ...(secret?.stringData ?? existing),
        ...given.env,
      });
      assert.equal(result.status, 0, `${path.basename(values)}: ${result.output}`);
    }
  });

  it("render, with the defaults, a config `mcp-oidc-proxy --config-test` accepts with the chart's Secret", () => {
    const objects = template("mcp-oidc-proxy", [PROXY_DEFAULTS]);
    const secret = objects.find((o) => o.kind === "Secret") as unknown as { stringData: Record<string, string> };
    const result = configTest(
      objects.find((o) => o.kind === "ConfigMap")?.data?.["config.yaml"] ?? "",
      secret.stringData,
    );
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /configuration OK/);
  });

  // A new user's trial: the pod template hard-coded automountServiceAccountToken: false, so
  // the README's Vault Kubernetes login could not work with the chart.
  it("mount the service account token for Vault's Kubernetes login when asked, and refuse that login without it", () => {
    const automount = (extra: string[]) =>
      (
        template("mcp-oidc-proxy", [PROXY_DEFAULTS], extra).find((o) => o.kind === "Deployment") as unknown as {
          spec: { template: { spec: { automountServiceAccountToken: boolean } } };
        }
      ).spec.template.spec.automountServiceAccountToken;
    assert.equal(automount([]), false, "no token in the pod by default");
    const vault = [
      "--set",
      "config.vault.address=https://vault.example.com,config.vault.auth_method=kubernetes,config.vault.role=mcp-proxy",
      "--set",
      "config.vault.secrets[0].path=secret/data/mcp/oidc,config.vault.secrets[0].key=client_secret,config.vault.secrets[0].env=OIDC_CLIENT_SECRET",
    ];
    const without = helm(["template", "release", "helm/mcp-oidc-proxy", "-f", PROXY_DEFAULTS, ...vault]);
    assert.notEqual(without.status, 0);
    assert.match(
      without.stderr,
      /- serviceAccount\.automountToken: set it to true for config\.vault\.auth_method kubernetes/,
    );
    assert.equal(automount([...vault, "--set", "serviceAccount.automountToken=true"]), true);
  });

  it("roll the pods when the Secret the chart creates changes", () => {
    const checksum = (sessionSecret: string) =>
      (
        template("mcp-oidc-proxy", [PROXY_DEFAULTS], ["--set", `secrets.sessionSecret=${sessionSecret}`]).find(
          (o) => o.kind === "Deployment",
        ) as unknown as { spec: { template: { metadata: { annotations: Record<string, string> } } } }
      ).spec.template.metadata.annotations["checksum/secret"];
    assert.ok(checksum("a".repeat(32)));
    assert.notEqual(checksum("a".repeat(32)), checksum("b".repeat(32)));
  });

  // Helm reads values files as YAML 1.1: a plain `off` is the boolean false.
  it('take mcp_auth mode "off" quoted in a values file, and refuse it plain, as the README says', () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chart-values-"));
    const valuesWith = (mode: string) => {
      const file = path.join(dir, `mode-${mode.length}.yaml`);
      writeFileSync(file, `config:\n  mcp_auth:\n    mode: ${mode}\n`);
      return ["template", "release", "helm/mcp-oidc-proxy", "-f", PROXY_DEFAULTS, "-f", file];
    };
    assert.equal(helm(valuesWith('"off"')).status, 0);
    const plain = helm(valuesWith("off"));
    assert.notEqual(plain.status, 0);
    assert.match(plain.stderr, /\/config\/mcp_auth\/mode': got boolean, want string/);
  });

  it("give the proxy a configuration it accepts, with its secrets from the Secret", () => {
    const objects = template("mcp-oidc-proxy", [path.join(ROOT, "helm/mcp-oidc-proxy/ci/production-values.yaml")]);
    const configMap = objects.find((o) => o.kind === "ConfigMap");
    const dir = mkdtempSync(path.join(tmpdir(), "chart-config-"));
    const file = path.join(dir, "config.yaml");
    writeFileSync(file, configMap?.data?.["config.yaml"] ?? "");
    // What the existing Secret would provide, by the keys the chart names.
    const env = { OIDC_CLIENT_SECRET: "x", SESSION_SECRET: "s".repeat(40) };
    const { config } = loadConfig({ file, env });
    assert.equal(config.environment, "production");
    assert.equal(config.mcp_auth.mode, "proxy");
    assert.deepEqual(config.mcp_policy.rules[1]?.groups, ["tools-admins"]);
    assert.equal(config.mcp_policy.audit.enabled, true);
    assert.equal(config.server.port, 8080);
    assert.equal(config.metrics.port, 9090);
    assert.equal(config.server.shutdown_timeout, 30_000, "below the pod's termination grace period");
    // In-cluster clients use the Service's names; any other Host than these and the public URL's gets 421.
    const service = objects.find((o) => o.kind === "Service");
    assert.ok(
      config.server.allowed_hosts.includes(
        `${service?.metadata?.name}.${service?.metadata?.namespace ?? "default"}.svc`,
      ),
    );
    const deployment = objects.find((o) => o.kind === "Deployment") as unknown as {
      spec: {
        template: {
          metadata: { annotations: Record<string, string> };
          spec: { containers: { envFrom: { secretRef: { name: string } }[] }[] };
        };
      };
    };
    assert.equal(deployment.spec.template.spec.containers[0]?.envFrom[0]?.secretRef.name, "mcp-oidc-proxy-secrets");
    assert.ok(deployment.spec.template.metadata.annotations["checksum/config"], "a config change rolls the pods");
    assert.equal(
      objects.some((o) => o.kind === "Secret"),
      false,
      "an existing Secret is never overwritten",
    );
  });

  it("install the operator's CRD as the generated one, upgraded with the chart and kept on uninstall", () => {
    const [crd] = template("mcp-oidc-operator").filter((o) => o.kind === "CustomResourceDefinition");
    const generated = parse(readFileSync(CRD_FILE, "utf8")) as Manifest;
    assert.deepEqual(crd?.spec, generated.spec);
    assert.equal(crd?.metadata.annotations?.["helm.sh/resource-policy"], "keep");
    const [notKept] = template("mcp-oidc-operator", [], ["--set", "crds.keep=false"]).filter(
      (o) => o.kind === "CustomResourceDefinition",
    );
    assert.equal(notKept?.metadata.annotations?.["helm.sh/resource-policy"], undefined);
    const withoutCrd = template("mcp-oidc-operator", [], ["--set", "crds.install=false"]);
    assert.equal(
      withoutCrd.some((o) => o.kind === "CustomResourceDefinition"),
      false,
    );
  });

  it("give the operator the rules of rbac.yaml (which the controller is tested under), scoped as asked", () => {
    const rbac = parseManifests(readFileSync(path.join(ROOT, "deployments/kubernetes/operator/rbac.yaml"), "utf8"));
    const rulesOf = (objects: Manifest[], kind: string) =>
      (
        objects.find((o) => o.kind === kind && !o.metadata.name.endsWith("leader-election")) as unknown as {
          rules: unknown;
        }
      )?.rules;
    const clusterWide = template("mcp-oidc-operator");
    assert.deepEqual(rulesOf(clusterWide, "ClusterRole"), rulesOf(rbac, "ClusterRole"));
    const namespaced = template("mcp-oidc-operator", [
      path.join(ROOT, "helm/mcp-oidc-operator/ci/namespaced-values.yaml"),
    ]);
    assert.equal(
      namespaced.some((o) => o.kind === "ClusterRole"),
      false,
      "no cluster-wide rights",
    );
    const role = namespaced.find((o) => o.kind === "Role");
    assert.equal(role?.metadata.namespace, "team-a");
    assert.deepEqual(rulesOf(namespaced, "Role"), rulesOf(rbac, "ClusterRole"));
    const args = (
      namespaced.find((o) => o.kind === "Deployment") as unknown as {
        spec: { template: { spec: { containers: { args: string[] }[] } } };
      }
    ).spec.template.spec.containers[0]?.args;
    assert.ok(args?.includes("--namespace=team-a"));
    assert.ok(args?.includes("--no-leader-elect"));
  });
});

describe("helm install and helm upgrade against a real API server", () => {
  let server: TestApiServer;
  before(async () => {
    server = await startTestApiServer();
  });
  after(() => server?.close());

  const helmOk = async (args: string[]) => {
    const result = await helmAgainst(server, args);
    assert.equal(result.status, 0, `helm ${args.join(" ")}: ${result.stderr}${result.stdout}`);
    return result.stdout;
  };
  const chartDir = (chart: string) => path.join(ROOT, "helm", chart);
  const deploymentArgs = async (name: string) => {
    const json = await kubectlOk(server, ["get", "deployment", name, "-n", NAMESPACE, "-o", "json"]);
    return (JSON.parse(json) as { spec: { template: { spec: { containers: { args?: string[] }[] } } } }).spec.template
      .spec.containers[0]?.args;
  };

  // The chart's kubeVersion refused the test API server's v0.0.0-master; its CRD's plain
  // `off` was a boolean to Helm's YAML reader.
  it("installs the operator chart with its CRD, then upgrades it", async () => {
    await helmOk(["install", "operator", chartDir("mcp-oidc-operator"), "-n", NAMESPACE, "--create-namespace"]);
    await kubectlOk(server, [
      "wait",
      "--for=condition=Established",
      "crd/mcpoidcproxies.mcp-oidc-proxy.dev",
      "--timeout=60s",
    ]);
    assert.ok((await deploymentArgs("operator-mcp-oidc-operator"))?.includes("--log-level=info"));
    await helmOk(["upgrade", "operator", chartDir("mcp-oidc-operator"), "-n", NAMESPACE, "--set", "logLevel=debug"]);
    assert.ok((await deploymentArgs("operator-mcp-oidc-operator"))?.includes("--log-level=debug"));
    const history = JSON.parse(await helmOk(["history", "operator", "-n", NAMESPACE, "-o", "json"])) as {
      status: string;
    }[];
    assert.deepEqual(
      history.map((revision) => revision.status),
      ["superseded", "deployed"],
    );
  });

  /**
   * The README's proxy install (the shell block that creates the Secret and runs helm
   * install), run by bash as written, in its own namespace so it meets no other test's release.
   */
  const runReadmeInstall = async (namespace: string) => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const helmSection = readme.slice(readme.indexOf("### Helm"));
    const block = [...helmSection.matchAll(/```sh\n([\s\S]*?)```/g)]
      .map((match) => match[1] ?? "")
      .find((text) => text.includes("helm install tools ./helm/mcp-oidc-proxy"));
    assert.ok(block, "the README's helm install of the proxy");
    const tools = [path.dirname(helmBinary()), kubeBinariesDir(), process.env.PATH ?? ""].join(":");
    return run("bash", [
      "-euo",
      "pipefail",
      "-c",
      `export PATH=${tools} KUBECONFIG=${server.kubeConfigFile}; cd ${ROOT}\n${block.replaceAll("mcp-system", namespace)}`,
    ]);
  };
  const podAnnotations = async (namespace: string, name: string) => {
    const json = await kubectlOk(server, ["get", "deployment", name, "-n", namespace, "-o", "json"]);
    return (JSON.parse(json) as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec
      .template.metadata.annotations;
  };

  it("installs the proxy chart as the README says, with a config `mcp-oidc-proxy --config-test` accepts", async () => {
    const namespace = "readme-proxy";
    const install = await runReadmeInstall(namespace);
    assert.equal(install.status, 0, install.stderr + install.stdout);
    // What the pod starts with: the ConfigMap's file and the Secret's keys as its environment.
    const configMap = JSON.parse(
      await kubectlOk(server, ["get", "configmap", "tools-mcp-oidc-proxy", "-n", namespace, "-o", "json"]),
    ) as { data: Record<string, string> };
    const secret = JSON.parse(
      await kubectlOk(server, ["get", "secret", "tools-oidc", "-n", namespace, "-o", "json"]),
    ) as {
      data: Record<string, string>;
    };
    const env = Object.fromEntries(
      Object.entries(secret.data).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")]),
    );
    const result = configTest(configMap.data["config.yaml"] ?? "", env);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /configuration OK/);

    // A changed existing Secret rolls the pods at the next helm upgrade, as the README says.
    const before = (await podAnnotations(namespace, "tools-mcp-oidc-proxy"))["checksum/secret"];
    assert.ok(before, "the existing Secret is part of the pods' checksum");
    const rotated = Buffer.from("r".repeat(40)).toString("base64");
    await kubectlOk(server, [
      "patch",
      "secret",
      "tools-oidc",
      "-n",
      namespace,
      "-p",
      `{"data":{"SESSION_SECRET":"${rotated}"}}`,
    ]);
    await helmOk(["upgrade", "tools", chartDir("mcp-oidc-proxy"), "-n", namespace, "--reuse-values"]);
    const after = (await podAnnotations(namespace, "tools-mcp-oidc-proxy"))["checksum/secret"];
    assert.ok(after);
    assert.notEqual(after, before, "helm upgrade after a Secret change rolls the pods");
  });

  it("refuses to install the proxy chart with an existing Secret that holds no session secret", async () => {
    const namespace = "no-session-secret";
    await kubectlOk(server, ["create", "namespace", namespace]);
    await kubectlOk(server, [
      "create",
      "secret",
      "generic",
      "oidc-only",
      "-n",
      namespace,
      "--from-literal=OIDC_CLIENT_SECRET=x",
    ]);
    const values = ["-f", PROXY_DEFAULTS, "--set", "secrets.existingSecret=oidc-only"];
    for (const dryRun of [["--dry-run=server"], []]) {
      const result = await helmAgainst(server, [
        "install",
        "tools",
        chartDir("mcp-oidc-proxy"),
        "-n",
        namespace,
        ...values,
        ...dryRun,
      ]);
      assert.notEqual(result.status, 0, dryRun.join(" "));
      assert.match(
        result.stderr,
        /- secrets\.existingSecret: the Secret oidc-only in no-session-secret has no key SESSION_SECRET/,
      );
    }
  });

  // A new user's trial: a mistyped existingSecret installed with STATUS deployed, and the
  // pods waited for a Secret nobody would create.
  it("refuses to install the proxy chart with an existing Secret that does not exist; helm template still renders", async () => {
    const values = ["-f", PROXY_DEFAULTS, "--set", "secrets.existingSecret=doesnotexist"];
    const cases = [
      { namespace: "missing-secret", create: true, flags: ["--dry-run=server"] },
      { namespace: "missing-secret", create: false, flags: [] },
      { namespace: "missing-secret-new", create: false, flags: ["--create-namespace"] },
    ];
    await kubectlOk(server, ["create", "namespace", "missing-secret"]);
    for (const { namespace, flags } of cases) {
      const result = await helmAgainst(server, [
        "install",
        "tools",
        chartDir("mcp-oidc-proxy"),
        "-n",
        namespace,
        ...values,
        ...flags,
      ]);
      assert.notEqual(result.status, 0, `${namespace} ${flags.join(" ")}: ${result.stdout}`);
      assert.ok(
        result.stderr.includes(
          `- secrets.existingSecret: there is no Secret doesnotexist in ${namespace}; create it first`,
        ),
        result.stderr,
      );
    }
    const offline = helm(["template", "tools", "helm/mcp-oidc-proxy", "-n", "missing-secret", ...values]);
    assert.equal(offline.status, 0, `without a cluster the Secret cannot be looked up: ${offline.stderr}`);
  });

  it("installs the proxy chart, then upgrades it to the production values", async () => {
    await helmOk([
      "install",
      "tools",
      chartDir("mcp-oidc-proxy"),
      "-n",
      NAMESPACE,
      "-f",
      path.join(ROOT, "helm/mcp-oidc-proxy/ci/default-values.yaml"),
    ]);
    // The production values name an existing Secret: helm upgrade refuses one that is missing.
    await kubectlOk(server, [
      "create",
      "secret",
      "generic",
      "mcp-oidc-proxy-secrets",
      "-n",
      NAMESPACE,
      "--from-literal=OIDC_CLIENT_SECRET=x",
      `--from-literal=SESSION_SECRET=${"s".repeat(40)}`,
    ]);
    await helmOk([
      "upgrade",
      "tools",
      chartDir("mcp-oidc-proxy"),
      "-n",
      NAMESPACE,
      "-f",
      path.join(ROOT, "helm/mcp-oidc-proxy/ci/production-values.yaml"),
    ]);
    const hpa = await kubectlOk(server, ["get", "hpa", "-n", NAMESPACE, "-o", "name"]);
    assert.match(hpa, /horizontalpodautoscaler/, "the production values' autoscaler is installed by the upgrade");
  });
});
