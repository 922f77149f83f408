// The generated CRD in a real API server: structural, with defaults, and with CEL rules
// that refuse what the schema alone cannot — among them every value the proxy itself would
// refuse, so such a resource never rolls out. Samples and a user's own YAML go through kubectl.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { loadConfig } from "../../../proxy/src/config/load.ts";
import { PUBLIC_URL_PATTERN_SOURCE } from "../../../proxy/src/config/schema.ts";
import { renderCrd } from "../../scripts/generate-crd.ts";
import { PUBLIC_URL_ORIGIN, specSchema } from "../../src/api/v1alpha1/mcp-oidc-proxy.ts";
import { CRD_PATH, createMcpOidcProxy, installCrd, mcpOidcProxies } from "../support/crd.ts";
import { startTestApiServer, type TestApiServer } from "../support/kube-api-server.ts";
import { applyAndConverge, kubectl } from "../support/kubectl.ts";

const target = mcpOidcProxies("crd-test");

describe("McpOidcProxy CRD", () => {
  let server: TestApiServer;
  let objects: CustomObjectsApi;
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
    const created = (await createMcpOidcProxy(objects, "crd-test", "minimal", {
      upstream: { url: "http://mcp-server:3000" },
      provider: { issuer: "https://login.example.com", clientId: "mcp" },
    })) as {
      spec: Record<string, unknown> & { session: { store: string; ttl: string }; provider: { scopes: string[] } };
    };
    assert.equal(created.spec.replicas, 1);
    assert.equal(created.spec.authMode, "oidc");
    assert.equal(created.spec.session.store, "memory");
    assert.equal(created.spec.session.ttl, "24h");
    assert.deepEqual(created.spec.provider.scopes, ["openid", "profile", "email"]);
  });

  it("accepts every sample under deployments/kubernetes/samples through kubectl apply, in file order on a fresh cluster (mcp-dev did not exist)", async () => {
    const dir = path.resolve(import.meta.dirname, "../../../../deployments/kubernetes/samples");
    const samples = readdirSync(dir)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
    assert.ok(samples.length >= 3);
    // A fresh API server: only what the samples themselves create exists.
    const fresh = await startTestApiServer();
    try {
      await installCrd(fresh);
      for (const file of samples) {
        // For real first: a server dry run cannot see a Namespace an earlier file creates.
        const { converged } = await applyAndConverge(
          fresh,
          { file: path.join(dir, file) },
          { fieldManager: "samples-test", dryRunFirst: false },
        );
        assert.ok(converged, `${file}: re-applying changed it`);
      }
    } finally {
      await fresh.close();
    }
  });

  // kubectl reads a plain `off` as the boolean false; the API server cannot take a boolean
  // for a string field, so the README says to quote it.
  const userYaml = (mode: string) =>
    [
      "apiVersion: mcp-oidc-proxy.dev/v1alpha1",
      "kind: McpOidcProxy",
      "metadata: {name: user-yaml, namespace: crd-test}",
      "spec:",
      "  upstream: {url: http://mcp-server:3000}",
      "  provider: {issuer: https://login.example.com, clientId: mcp}",
      `  mcpAuth: {mode: ${mode}}`,
      "",
    ].join("\n");
  it('takes a user\'s mcpAuth mode "off" quoted, and refuses it plain (YAML 1.1 false), as the README says', async () => {
    const quoted = await kubectl(server, ["apply", "--dry-run=server", "-f", "-"], userYaml('"off"'));
    assert.equal(quoted.status, 0, quoted.stderr);
    const plain = await kubectl(server, ["apply", "--dry-run=server", "-f", "-"], userYaml("off"));
    assert.notEqual(plain.status, 0);
    assert.match(plain.stderr, /spec.mcpAuth.mode: Invalid value: "boolean"/);
  });

  const proxyYaml = (name: string, spec: string[]) =>
    [
      "apiVersion: mcp-oidc-proxy.dev/v1alpha1",
      "kind: McpOidcProxy",
      `metadata: {name: ${name}, namespace: crd-test}`,
      "spec:",
      "  authMode: bypass",
      ...spec.map((line) => `  ${line}`),
      "",
    ].join("\n");
  it("refuses a resource quantity Kubernetes cannot parse at kubectl apply (cpu: lots failed every apply of the Deployment), naming the field", async () => {
    const withCpu = (cpu: string) =>
      proxyYaml("quantities", ["upstream: {url: http://mcp-server:3000}", `resources: {requests: {cpu: ${cpu}}}`]);
    const bad = await kubectl(server, ["apply", "--dry-run=server", "-f", "-"], withCpu("lots"));
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /spec.resources.requests.cpu: Invalid value: "lots": .*should match/);
    for (const good of ["500m", "2", '"1.5"', '"1"', "128Mi", "1e3"]) {
      const result = await kubectl(server, ["apply", "--dry-run=server", "-f", "-"], withCpu(good));
      assert.equal(result.status, 0, `${good}: ${result.stderr}`);
    }
  });

  // Of the pattern's form, but Kubernetes reads an exponent as an int64: these passed the CRD
  // and ended in Stalled/ChildInvalid when the Deployment's apply could not convert them.
  it("refuses at kubectl apply a quantity whose exponent Kubernetes cannot read (1e1.5, 1e99999999999999999999), as the operator's schema does", async () => {
    const withCpu = (cpu: string) =>
      proxyYaml("quantities", ["upstream: {url: http://mcp-server:3000}", `resources: {requests: {cpu: "${cpu}"}}`]);
    for (const cpu of ["1e1.5", "1e99999999999999999999", "1E.5", "2e9223372036854775808"]) {
      const bad = await kubectl(server, ["apply", "--dry-run=server", "-f", "-"], withCpu(cpu));
      assert.notEqual(bad.status, 0, cpu);
      assert.match(
        bad.stderr,
        new RegExp(
          `spec.resources.requests\\[cpu\\]: Invalid value: "${cpu.replace(".", "\\.")}": must be a quantity such as .* that Kubernetes can read: an exponent is a whole number below 2\\^63`,
        ),
        cpu,
      );
    }
    for (const cpu of ["1e1.5", "1e99999999999999999999", "1e3", "1E", "1E6", "1e-3", "1Ei", "5e+2"]) {
      const spec = {
        upstream: { url: "http://mcp-server:3000" },
        authMode: "bypass",
        resources: { requests: { cpu } },
      };
      const verdicts = { apiServer: await accepted(spec), operator: specSchema.safeParse(spec).success };
      assert.equal(verdicts.apiServer, verdicts.operator, `${cpu}: ${JSON.stringify(verdicts)}`);
    }
  });

  it("refuses a negative or absurdly large resource quantity at kubectl apply, saying which and where", async () => {
    const withQuantities = (requests: string) =>
      proxyYaml("quantities", ["upstream: {url: http://mcp-server:3000}", `resources: {requests: {${requests}}}`]);
    const refusals: [string, RegExp][] = [
      ["memory: -1Gi", /spec.resources.requests\[memory\]: Invalid value: "-1Gi": must not be negative/],
      ["cpu: -1", /spec.resources.requests\[cpu\]: Invalid value: -1: must not be negative/],
      ["cpu: 1e400", /spec.resources.requests\[cpu\]: Invalid value: "1e400": must be at most 1Ei/],
      ["memory: 2Ei", /spec.resources.requests\[memory\]: Invalid value: "2Ei": must be at most 1Ei/],
      ["cpu: 2000000000000000000", /spec.resources.requests\[cpu\]: Invalid value: .*: must be at most 1Ei/],
    ];
    for (const [requests, message] of refusals) {
      const bad = await kubectl(server, ["apply", "-f", "-"], withQuantities(requests));
      assert.notEqual(bad.status, 0, requests);
      assert.match(bad.stderr, message, requests);
    }
    const good = await kubectl(server, ["apply", "-f", "-"], withQuantities("cpu: 250m, memory: 1Ei, storage: 0"));
    assert.equal(good.status, 0, good.stderr);
    await kubectl(server, ["delete", "-f", "-"], withQuantities("cpu: 250m"));
  });

  it("refuses an upstream Service of the resource's own name at kubectl apply (the proxy's Service would point at itself)", async () => {
    const pointingAt = (service: string) => proxyYaml("tools", [`upstream: {service: {name: ${service}, port: 3000}}`]);
    const self = await kubectl(server, ["apply", "--dry-run=server", "-f", "-"], pointingAt("tools"));
    assert.notEqual(self.status, 0);
    assert.match(self.stderr, /spec.upstream.service.name must not be the McpOidcProxy's own name/);
    const other = await kubectl(server, ["apply", "--dry-run=server", "-f", "-"], pointingAt("tools-server"));
    assert.equal(other.status, 0, other.stderr);
  });

  /** The API server's verdict on a resource, without storing it. */
  const accepted = async (spec: Record<string, unknown>, name = "verdict") => {
    const response = await server.request(
      "POST",
      `/apis/${target.group}/${target.version}/namespaces/crd-test/${target.plural}?dryRun=All`,
      {
        apiVersion: "mcp-oidc-proxy.dev/v1alpha1",
        kind: "McpOidcProxy",
        metadata: { name },
        spec,
      },
    );
    return response.status === 201;
  };
  /** The proxy's own verdict (what --config-test says) on a configuration from these variables. */
  const proxyLoads = (env: Record<string, string>) => {
    try {
      loadConfig({ env });
      return true;
    } catch {
      return false;
    }
  };
  /** The proxy's verdict on the same upstream URL. */
  const proxyAccepts = (url: string) => proxyLoads({ AUTH_MODE: "bypass", MCP_TARGET_URL: url });
  /** The API server, the operator's schema and the proxy agree on a spec and its proxy settings. */
  const assertSameVerdicts = async (spec: Record<string, unknown>, env: Record<string, string>, label: string) => {
    const proxy = proxyLoads(env);
    const verdicts = { apiServer: await accepted(spec), operator: specSchema.safeParse(spec).success, proxy };
    assert.deepEqual(verdicts, { apiServer: proxy, operator: proxy, proxy }, label);
  };
  it("refuses exactly the upstream URLs the proxy's --config-test refuses (http://, a space in the host)", async () => {
    const urls = [
      "http://mcp-server:3000",
      "https://mcp.example.com/mcp",
      "http://[::1]:3000/mcp",
      "http://10.0.0.1",
      "http://",
      "http://:3000",
      "http://exa mple.com:3000/x y",
      "http:// mcp-server",
      "http://mcp-server:99999",
      "ftp://mcp-server",
      "mcp-server:3000",
    ];
    for (const url of urls) {
      const verdicts = {
        apiServer: await accepted({ upstream: { url }, authMode: "bypass" }),
        proxy: proxyAccepts(url),
      };
      assert.equal(verdicts.apiServer, verdicts.proxy, `${url}: ${JSON.stringify(verdicts)}`);
    }
    assert.equal(proxyAccepts("http://"), false, "the proxy refuses some of them");
  });

  // A new user's trial: https://tools.example.com/team-a was accepted (refused only with
  // mcpAuth.mode proxy), and the proxy's redirect URI dropped the path.
  it("refuses exactly the public URLs the proxy's --config-test refuses (a path, query or fragment), in every mode", async () => {
    const urls = [
      "https://tools.example.com",
      "https://tools.example.com/",
      "http://10.0.0.1:8080",
      "http://[::1]:8080/",
      // Schemes and hosts are case-insensitive (a trial's HTTPS://… was refused as a path).
      "HTTPS://Tools.Example.com",
      "Http://10.0.0.1:8080/",
      "HTTPS://tools.example.com/team-a",
      "https://tools.example.com/team-a",
      "https://tools.example.com/team-a/",
      "https://tools.example.com?x=1",
      "https://tools.example.com/?x=1#frag",
      "https://tools.example.com#frag",
      "https://user@tools.example.com",
      // A path behind a backslash (URL parsers read it as a slash) and a host with a semicolon.
      "https://tools.example.com\\team-a",
      "https://tools.example.com;x",
    ];
    for (const publicUrl of urls) {
      const spec = { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass", publicUrl };
      await assertSameVerdicts(spec, { AUTH_MODE: "bypass", MCP_PUBLIC_URL: publicUrl }, publicUrl);
    }
    const upperCase = {
      upstream: { url: "http://mcp-server:3000" },
      authMode: "bypass",
      publicUrl: "HTTPS://Tools.Example.com",
    };
    assert.equal(await accepted(upperCase), true, "an upper-case scheme and host are taken");
    assert.equal(PUBLIC_URL_ORIGIN.pattern, PUBLIC_URL_PATTERN_SOURCE, "the proxy's pattern");
  });

  // The proxy refuses refresh tokens that outlive its registered clients (client_ttl, 30d by
  // default); the CRD rendered such a refreshTokenTtl and the pods exited 2.
  it("refuses exactly the refreshTokenTtl values the proxy refuses (longer than its client_ttl)", async () => {
    for (const refreshTokenTtl of ["14d", "30d", "720h", "2592000s", "31d", "721h", "2592001s", "1000000m"]) {
      const spec = {
        upstream: { url: "http://mcp-server:3000" },
        provider: { issuer: "https://id.example.com", clientId: "proxy" },
        mcpAuth: { mode: "proxy", refreshTokenTtl },
      };
      const env = { OIDC_DISCOVERY_URL: "https://id.example.com", OIDC_CLIENT_ID: "proxy", MCP_AUTH_MODE: "proxy" };
      await assertSameVerdicts(spec, { ...env, MCP_REFRESH_TOKEN_TTL: refreshTokenTtl }, refreshTokenTtl);
    }
  });

  /** The proxy's verdict on public paths and MCP policy rules, as the operator's ConfigMap gives them. */
  const proxyAcceptsAccess = (publicPaths: string[], rules: { name?: string; tools: string[] }[]) => {
    const dir = mkdtempSync(path.join(tmpdir(), "proxy-config-"));
    const file = path.join(dir, "config.yaml");
    writeFileSync(file, stringify({ access: { public_paths: publicPaths }, mcp_policy: { rules } }));
    try {
      loadConfig({ file, env: { AUTH_MODE: "bypass", MCP_TARGET_URL: "http://mcp-server:3000" } });
      return true;
    } catch {
      return false;
    }
  };
  it("refuses exactly the public paths and rule names the proxy's --config-test refuses (they were rolled out and crashed the pods)", async () => {
    const cases: [string[], { name?: string; tools: string[]; users?: string[]; groups?: string[] }[]][] = [
      // An empty condition list granted everyone in the proxy once; both refuse it now (decision 048).
      [[], [{ name: "r", tools: ["a"], groups: [] }]],
      [[], [{ name: "r", tools: ["a"], users: [] }]],
      [[], [{ name: "r", tools: ["a"], users: ["alice"], groups: ["admins"] }]],
      [["/health", "/docs/*"], []],
      [["nope"], []],
      [["docs/*"], []],
      [
        [],
        [
          { name: "r", tools: ["a"] },
          { name: "s", tools: ["b"] },
        ],
      ],
      [[], [{ tools: ["a"] }, { tools: ["b"] }]],
      [
        [],
        [
          { name: "r", tools: ["a"] },
          { name: "r", tools: ["b"] },
        ],
      ],
      [[], [{ name: "r", tools: ["a"] }, { tools: ["b"] }, { name: "r", tools: ["c"] }]],
    ];
    for (const [publicPaths, rules] of cases) {
      const verdicts = {
        apiServer: await accepted({
          upstream: { url: "http://mcp-server:3000" },
          authMode: "bypass",
          access: { publicPaths },
          mcpPolicy: { rules },
        }),
        proxy: proxyAcceptsAccess(publicPaths, rules),
      };
      assert.equal(
        verdicts.apiServer,
        verdicts.proxy,
        `${JSON.stringify({ publicPaths, rules })}: ${JSON.stringify(verdicts)}`,
      );
    }
    assert.equal(proxyAcceptsAccess(["nope"], []), false, "the proxy refuses some of them");
  });

  // The proxy refuses some globs at start (decision 047): the API server took them, and the
  // proxy's pods crash-looped. The API server now refuses their syntax; the spellings of
  // resource URIs the proxy never lets through are the operator's check (InvalidSpec).
  it("refuses the globs the proxy's --config-test refuses: the API server their syntax, the operator all of them", async () => {
    const cases: [kind: "tools" | "prompts" | "resources", glob: string, apiServerToo: boolean][] = [
      ["tools", "admin_*", true],
      ["tools", "db/**", true],
      ["tools", "**/x/*_*", true],
      ["tools", "a**b", true],
      ["tools", "***", true],
      ["tools", "x?y", true],
      ["prompts", "{a,b}", true],
      ["prompts", "a[1]", true],
      ["resources", "file:///docs/**", true],
      ["resources", "https://*.example.com/**", true],
      ["resources", "x://a?q={id}", true],
      ["resources", "file:///a**", true],
      ["resources", "file:///docs/%2E%2E/**", false],
      ["resources", "file:///docs/../**", false],
      ["resources", "file:///docs/.../**", false],
      ["resources", "file:///docs/..%3B/**", false],
      ["resources", "file:///docs/.well-known/**", true],
      ["resources", "file:///docs/. ./**", false],
      ["resources", "file:///docs/%252e%252e/**", false],
      ["resources", "file:///docs/..%00/**", false],
      ["resources", "file:///docs/\uff0e\uff0e/**", false],
      ["resources", "file:///docs/a%20b/**", true],
      ["resources", "file:///docs\\x", false],
    ];
    for (const [kind, glob, apiServerToo] of cases) {
      const rules = [{ name: "r", [kind]: [glob] }] as never[];
      const proxy = proxyAcceptsAccess([], rules);
      const spec = { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass", mcpPolicy: { rules } };
      const verdicts = { apiServer: await accepted(spec), operator: specSchema.safeParse(spec).success, proxy };
      const expected = { apiServer: apiServerToo ? proxy : true, operator: proxy, proxy };
      assert.deepEqual(verdicts, expected, `${kind} ${glob}`);
    }
  });

  it("refuses names whose children would carry a label over 63 characters or a Service name Kubernetes refuses", async () => {
    const spec = { upstream: { url: "http://mcp-server:3000" }, authMode: "bypass" };
    assert.equal(await accepted(spec, "a".repeat(63)), true);
    for (const name of ["a".repeat(64), "tools.team-a", "1tools"]) {
      assert.equal(await accepted(spec, name), false, name);
    }
  });

  it("refuses kubectl scale while autoscaling is enabled (it would be silently ignored), and allows it otherwise", async () => {
    const autoscaled = [
      "apiVersion: mcp-oidc-proxy.dev/v1alpha1",
      "kind: McpOidcProxy",
      "metadata: {name: autoscaled, namespace: crd-test}",
      "spec:",
      "  upstream: {url: http://mcp-server:3000}",
      "  authMode: bypass",
      "  session: {store: redis, redis: {url: redis://redis:6379}}",
      "  autoscaling: {enabled: true, minReplicas: 2, maxReplicas: 5}",
      "",
    ].join("\n");
    const dir = mkdtempSync(path.join(tmpdir(), "crd-scale-"));
    writeFileSync(path.join(dir, "autoscaled.yaml"), autoscaled);
    const applied = await kubectl(server, ["apply", "--server-side", "-f", path.join(dir, "autoscaled.yaml")]);
    assert.equal(applied.status, 0, applied.stderr);
    const scaled = await kubectl(server, ["scale", "-n", "crd-test", "mop/autoscaled", "--replicas=4"]);
    assert.notEqual(scaled.status, 0, "kubectl scale was accepted and would be ignored");
    assert.match(scaled.stderr, /spec.replicas cannot change while autoscaling is enabled/);
    const fixed = await kubectl(
      server,
      ["apply", "--server-side", "-f", "-"],
      autoscaled.replace("enabled: true", "enabled: false"),
    );
    assert.equal(fixed.status, 0, fixed.stderr);
    const rescaled = await kubectl(server, ["scale", "-n", "crd-test", "mop/autoscaled", "--replicas=1"]);
    assert.equal(rescaled.status, 0, rescaled.stderr);
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
      "an MCP policy rule that names no tools, resources or prompts",
      { upstream: { url: "http://a" }, authMode: "bypass", mcpPolicy: { rules: [{ groups: ["admins"] }] } },
      /a rule must name tools, resources or prompts/,
    ],
    [
      "an MCP policy tool glob the proxy refuses at start (its pods would crash-loop)",
      { upstream: { url: "http://a" }, authMode: "bypass", mcpPolicy: { rules: [{ tools: ["ok", "a**b"] }] } },
      /spec.mcpPolicy.rules\[0\].tools\[1\]: Invalid value: .*a\*\*b.*should match/,
    ],
    [
      "an MCP policy prompt glob with another dialect's syntax",
      { upstream: { url: "http://a" }, authMode: "bypass", mcpPolicy: { rules: [{ prompts: ["{a,b}"] }] } },
      /spec.mcpPolicy.rules\[0\].prompts\[0\]: Invalid value: .*\{a,b\}.*should match/,
    ],
    [
      "an MCP policy rule on scopes without bearer tokens",
      { upstream: { url: "http://a" }, authMode: "bypass", mcpPolicy: { rules: [{ tools: ["x"], scopes: ["s"] }] } },
      /mcpPolicy rules with clients or scopes need mcpAuth.mode provider or proxy/,
    ],
    [
      "a public URL with a path (the proxy serves at the root of its host)",
      { upstream: { url: "http://a" }, authMode: "bypass", publicUrl: "https://tools.example.com/team-a" },
      /spec.publicUrl: Invalid value: .*must be an origin such as https:\/\/tools.mcp.example.com, with no path, query or fragment/,
    ],
    ["an upstream URL without a host", { upstream: { url: "http://" }, authMode: "bypass" }, /spec.upstream.url/],
    [
      "an upstream URL with spaces",
      { upstream: { url: "http://exa mple.com:3000/x y" }, authMode: "bypass" },
      /spec.upstream.url/,
    ],
    [
      "an issuer without a host",
      { upstream: { url: "http://a" }, provider: { issuer: "https://", clientId: "mcp" } },
      /spec.provider.issuer/,
    ],
    [
      "a public URL with a space",
      { upstream: { url: "http://a" }, authMode: "bypass", publicUrl: "https://tools .example.com" },
      /spec.publicUrl/,
    ],
    [
      "a Redis URL without a host",
      { upstream: { url: "http://a" }, authMode: "bypass", session: { store: "redis", redis: { url: "redis://" } } },
      /spec.session.redis.url/,
    ],
    [
      "an image with a leading space",
      { upstream: { url: "http://a" }, authMode: "bypass", image: " ghcr.io/mcp-oidc-proxy/mcp-oidc-proxy:0.1.0" },
      /spec.image/,
    ],
    [
      "maxReplicas past int32 (shown as -1294967296)",
      {
        upstream: { url: "http://a" },
        authMode: "bypass",
        session: { store: "redis", redis: { url: "redis://r" } },
        autoscaling: { enabled: true, maxReplicas: 3_000_000_000 },
      },
      /spec.autoscaling.maxReplicas/,
    ],
    [
      "a user id of 300 KB (the ConfigMap was then refused as too long on every retry)",
      { upstream: { url: "http://a" }, authMode: "bypass", access: { allowedUsers: ["u".repeat(300_000)] } },
      /spec.access.allowedUsers\[0\]: Too long/,
    ],
    [
      "more than 256 allowed users",
      {
        upstream: { url: "http://a" },
        authMode: "bypass",
        access: { allowedUsers: Array.from({ length: 257 }, (_, i) => `u${i}`) },
      },
      /spec.access.allowedUsers: Too many/,
    ],
    [
      "replicas past int32",
      {
        upstream: { url: "http://a" },
        authMode: "bypass",
        session: { store: "redis", redis: { url: "redis://r" } },
        replicas: 3_000_000_000,
      },
      /spec.replicas/,
    ],
  ];
  for (const [name, spec, message] of invalid) {
    it(`refuses ${name}`, async () => {
      await assert.rejects(
        createMcpOidcProxy(objects, "crd-test", "invalid", spec),
        (error: Error & { code?: number; body?: string }) => {
          assert.equal(error.code, 422, String(error.body));
          assert.match(String(error.body), message);
          return true;
        },
      );
    });
  }
});
