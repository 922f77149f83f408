import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { z } from "zod";
import { ConfigError, loadConfig } from "../../../src/config/load.ts";
import { resolveConfig } from "../../../src/config/resolve.ts";
import { configSchema } from "../../../src/config/schema.ts";
import { environmentBindings, flagBindings } from "../../../src/config/sources.ts";
import { makeLocalhostCertificates } from "../../support/certificates.ts";
import { OIDC, problemsOf } from "../../support/config-problems.ts";

type JsonSchema = { type?: string | string[]; anyOf?: JsonSchema[]; properties?: Record<string, JsonSchema> };

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-config-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe("configuration", () => {
  it("has working defaults: port 8080, target 127.0.0.1:3000, memory store, seed header names", () => {
    const { config } = loadConfig({ env: OIDC });
    assert.equal(config.server.port, 8080);
    assert.equal(config.target.host, "127.0.0.1");
    assert.equal(config.target.port, 3000);
    assert.equal(config.session.store, "memory");
    assert.equal(config.redis.prefix, "mcp:session:");
    assert.equal(config.headers.user_id, "X-User-ID");
    assert.equal(config.session.ttl, 24 * 3600 * 1000);
    assert.equal(config.target.sse_keepalive_interval, 25_000);
  });

  // A new user's trial: target.url "http://" was shown as (got "redacted"), though it holds
  // no credentials; an unparsable URL now shows with only its credentials hidden.
  // A new user's trial: an operator caConfigMapRef whose ca.crt was no PEM was accepted, and
  // every sign-in then failed at the provider's certificate.
  it("refuses an oidc.ca_file that holds no PEM certificate, and takes a PEM bundle", () => {
    const { caFile, caPem } = makeLocalhostCertificates();
    const dir = tempDir({
      "der.crt": "0\x82\x01\x0a not pem",
      "broken.crt": `${caPem.slice(0, 80)}\n-----END CERTIFICATE-----\n`,
    });
    for (const name of ["der.crt", "broken.crt"]) {
      const file = path.join(dir, name);
      const problems = problemsOf(() => loadConfig({ env: { ...OIDC, OIDC_CA_FILE: file } }));
      assert.ok(
        problems.includes(
          `oidc.ca_file: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA in PEM form (a DER file: openssl x509 -inform der -in ca.der -out ca.crt) [from environment variable OIDC_CA_FILE]`,
        ),
        problems.join("\n"),
      );
    }
    assert.equal(loadConfig({ env: { ...OIDC, OIDC_CA_FILE: caFile } }).config.oidc.ca_file, caFile);
  });

  it("names an unparsable URL as written, hiding only what may be credentials", () => {
    const shown = (url: string) =>
      problemsOf(() => loadConfig({ env: { AUTH_MODE: "bypass", MCP_TARGET_URL: url } })).find((p) =>
        p.startsWith("target.url:"),
      );
    assert.match(shown("http://") ?? "", /\(got "http:\/\/"\)/);
    assert.match(shown("http://exa mple.com:3000/x") ?? "", /\(got "http:\/\/exa mple\.com:3000\/x"\)/);
    const withCredentials = shown("http://us er:pass/word-1@exa mple.com/mcp?api_key=key-1&x") ?? "";
    assert.match(withCredentials, /\(got "http:\/\/redacted@exa mple\.com\/mcp\?api_key=redacted&x"\)/);
    for (const secret of ["us er", "pass", "word-1", "key-1"]) assert.ok(!withCredentials.includes(secret), secret);
  });

  it("never echoes a secret or a URL's credentials in its error messages", () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: {
          ...OIDC,
          MCP_TARGET_URL: "ftp://mcp-user:target-password-1@mcp.internal/mcp?key=target-key-1",
          REDIS_URL: "http://:redis-password-1@redis.internal:6379",
        },
        file: path.join(tempDir({ "c.yaml": "redis:\n  password: [redis-password-2]\n" }), "c.yaml"),
      }),
    );
    const text = problems.join("\n");
    assert.match(text, /target\.url: .*ftp:\/\/redacted:redacted@mcp\.internal\/mcp\?key=redacted/);
    assert.match(text, /redis\.url: .*http:\/\/:redacted@redis\.internal:6379/);
    assert.match(text, /redis\.password: .*\(got redacted\)/);
    for (const secret of ["mcp-user", "target-password-1", "target-key-1", "redis-password-1", "redis-password-2"]) {
      assert.ok(!text.includes(secret), `${secret} is not in: ${text}`);
    }
  });

  it("applies flags over environment over file over defaults", () => {
    const dir = tempDir({
      "config.yaml": "server:\n  port: 7000\n  host: 10.0.0.1\ntarget:\n  port: 4000\n  host: mcp.internal\n",
    });
    const { config } = loadConfig({
      file: path.join(dir, "config.yaml"),
      env: { ...OIDC, MCP_PORT: "7100", MCP_TARGET_PORT: "4100" },
      flags: { port: "7200" },
    });
    assert.equal(config.server.port, 7200); // flag
    assert.equal(config.target.port, 4100); // env
    assert.equal(config.server.host, "10.0.0.1"); // file
    assert.equal(config.target.host, "mcp.internal"); // file
    assert.equal(config.target.protocol, "http"); // default
  });

  it("layers configs/base.yaml under the environment's file", () => {
    const dir = tempDir({
      "base.yaml": "logging:\n  level: info\ntarget:\n  port: 3000\n",
      "staging.yaml": "logging:\n  level: debug\n",
    });
    const { config, files } = loadConfig({ directory: dir, environment: "staging", env: OIDC });
    assert.equal(config.environment, "staging");
    assert.equal(config.logging.level, "debug");
    assert.equal(config.target.port, 3000);
    assert.deepEqual(
      files.map((f) => path.basename(f)),
      ["base.yaml", "staging.yaml"],
    );
  });

  it("loads the repository's own configs/ layers for every environment", () => {
    const root = path.resolve(import.meta.dirname, "../../../../..");
    for (const environment of ["development", "staging", "production"]) {
      const { config } = loadConfig({
        directory: path.join(root, "configs"),
        environment,
        env: {
          ...OIDC,
          MCP_PUBLIC_URL: "https://mcp.example.com",
          SESSION_SECRET: "x".repeat(32),
          REDIS_URL: "redis://r:6379",
        },
      });
      assert.equal(config.environment, environment);
    }
  });

  it("names the field, the bad value and its source for every problem at once", () => {
    const dir = tempDir({ "bad.yaml": "server:\n  port: 70000\n  prot: 1\ntarget:\n  protocol: ftp\n" });
    const problems = problemsOf(() =>
      loadConfig({ file: path.join(dir, "bad.yaml"), env: { ...OIDC, SESSION_TTL: "forever" } }),
    );
    const text = problems.join("\n");
    assert.match(text, /server\.port: .*70000.*bad\.yaml/);
    assert.match(text, /server\.prot: unknown field/);
    assert.match(text, /target\.protocol: /);
    assert.match(text, /session\.ttl: "forever" is not a duration.*SESSION_TTL/);
    assert.equal(problems.length, 4);
  });

  it("names the rules across fields in the same run as the schema's problems (--config-test's first pass too)", () => {
    const env = { ...OIDC, MCP_PORT: "seventy", MCP_TARGET_URL: "http://a:1", MCP_TARGET_URLS: "http://b:1" };
    for (const fieldsOnly of [false, true]) {
      const problems = problemsOf(() => loadConfig({ env, fieldsOnly }));
      assert.ok(problems.some((p) => p.startsWith("server.port:")));
      assert.ok(problems.some((p) => p.startsWith("target.urls: set either target.url")));
    }
  });

  it("still names a rule that only mentions a refused field (metrics on server.port in production)", () => {
    const problems = problemsOf(() =>
      loadConfig({ env: { ...OIDC, MCP_ENV: "production", MCP_PORT: "eighty", SESSION_SECRET: "s".repeat(40) } }),
    );
    assert.ok(problems.some((p) => p.startsWith("server.port:")));
    assert.ok(problems.some((p) => p.startsWith("metrics.port: give metrics their own port in production")));
  });

  it("leaves out a rule about a field whose own value was refused (its default is not what the user wrote)", () => {
    const problems = problemsOf(() => loadConfig({ env: { MCP_ENV: "production", AUTH_MODE: "bypas" } }));
    assert.ok(problems.some((p) => p.startsWith("auth.mode:")));
    assert.ok(problems.some((p) => p.startsWith("server.public_url: required in production")));
    assert.ok(!problems.some((p) => p.includes("auth.mode") && !p.startsWith("auth.mode:")));
  });

  // A new user's trial: https://mcp.example.com/tools gave the redirect URI
  // https://mcp.example.com/callback (the path dropped), and the provider refused it.
  it("refuses a public URL with a path, query or fragment in every mode: the proxy serves at the root", () => {
    for (const publicUrl of [
      "https://mcp.example.com/tools",
      "https://mcp.example.com/tools/",
      "https://mcp.example.com?x=1",
      "https://mcp.example.com/#frag",
      // URL parsers read a backslash as a slash: a path all the same.
      "https://mcp.example.com\\tools",
      "https://mcp.example.com;x",
    ]) {
      for (const mcpAuth of ["off", "provider", "proxy"]) {
        const problems = problemsOf(() =>
          loadConfig({ env: { ...OIDC, MCP_AUTH_MODE: mcpAuth, MCP_PUBLIC_URL: publicUrl } }),
        );
        const problem = problems.find((p) => p.startsWith("server.public_url:"));
        assert.ok(problem, `${publicUrl} with mcp_auth ${mcpAuth}`);
        assert.ok(problem.includes(`got ${publicUrl}`), problem);
        assert.match(problem, /no path, query or fragment/);
        assert.ok(problem.endsWith(" [from environment variable MCP_PUBLIC_URL]"), problem);
      }
    }
    for (const publicUrl of ["https://mcp.example.com", "https://mcp.example.com/", "http://127.0.0.1:8080"]) {
      const { config } = loadConfig({ env: { ...OIDC, MCP_AUTH_MODE: "proxy", MCP_PUBLIC_URL: publicUrl } });
      assert.equal(config.server.public_url, publicUrl);
    }
    // Scheme and host are case-insensitive (RFC 3986): read in lower case, as every URL derived from them.
    const upper = loadConfig({ env: { ...OIDC, MCP_AUTH_MODE: "proxy", MCP_PUBLIC_URL: "HTTPS://MCP.Example.com/" } });
    assert.equal(upper.config.server.public_url, "https://mcp.example.com/");
    const problems = problemsOf(() =>
      loadConfig({ env: { ...OIDC, MCP_PUBLIC_URL: "HTTPS://mcp.example.com/Tools" } }),
    );
    assert.ok(
      problems.some((p) => p.includes("(got HTTPS://mcp.example.com/Tools)")),
      problems.join("\n"),
    );
  });

  it("reads server.trust_proxy from text as Express means it: true/false, a hop count, addresses; refuses a bad address", () => {
    const trust = (value: string) =>
      loadConfig({ env: { AUTH_MODE: "bypass", MCP_TRUST_PROXY: value } }).config.server.trust_proxy;
    assert.equal(trust("true"), true);
    assert.equal(trust("false"), false);
    assert.equal(trust("2"), 2);
    assert.equal(trust("1\n"), 1, "a ConfigMap block scalar's newline");
    assert.equal(trust("0"), false, "no hop trusted is not trusting");
    assert.deepEqual(trust("10.0.0.0/8, loopback"), ["10.0.0.0/8", "loopback"]);
    // proxy-addr reads these as 0.0.0.1 and 0.0.0.2.
    for (const bad of ["maybe", "10.0.0.0/33", "0x1", "1,2"]) {
      const problems = problemsOf(() => loadConfig({ env: { AUTH_MODE: "bypass", MCP_TRUST_PROXY: bad } }));
      const entry = bad.split(",")[0];
      assert.ok(
        problems.some((p) => p.startsWith(`server.trust_proxy: "${entry}" is not an IP address`)),
        bad,
      );
    }
  });

  it("refuses an audit file it could not append to, naming the field (the start would fail opening it)", () => {
    const dir = tempDir({});
    const audit = (output: string) => `mcp_policy:\n  audit:\n    enabled: true\n    output: ${output}\n`;
    writeFileSync(path.join(dir, "bad.yaml"), audit(path.join(dir, "missing", "audit.jsonl")));
    const problems = problemsOf(() => loadConfig({ file: path.join(dir, "bad.yaml"), env: { AUTH_MODE: "bypass" } }));
    assert.ok(
      problems.some((p) => p.startsWith("mcp_policy.audit.output: cannot append to")),
      problems.join("\n"),
    );
    writeFileSync(path.join(dir, "good.yaml"), audit(path.join(dir, "audit.jsonl")));
    loadConfig({ file: path.join(dir, "good.yaml"), env: { AUTH_MODE: "bypass" } });
  });

  it("names the variable and the format of a malformed VAULT_SECRETS entry", () => {
    const problems = problemsOf(() =>
      loadConfig({ env: { AUTH_MODE: "bypass", VAULT_SECRETS: "OIDC_CLIENT_SECRET=secret/data/mcp" } }),
    );
    assert.match(
      problems.join("\n"),
      /vault\.secrets\[0\]\.key: required: .*ENV=path#key.*\[from environment variable VAULT_SECRETS\]/,
    );
  });

  it("reports a YAML syntax error with the file name", () => {
    const dir = tempDir({ "broken.yaml": "server:\n  port: [1,\n" });
    const problems = problemsOf(() => loadConfig({ file: path.join(dir, "broken.yaml"), env: OIDC }));
    assert.match(problems[0] ?? "", /broken\.yaml: .* at line \d+, column \d+$/);
  });

  it("requires the provider settings in oidc mode", () => {
    const problems = problemsOf(() => loadConfig({ env: {} }));
    assert.ok(problems.some((p) => p.startsWith("oidc.discovery_url: required")));
    assert.ok(problems.some((p) => p.startsWith("oidc.client_id: required")));
  });

  it("reads several upstream endpoints from MCP_TARGET_URLS, and refuses them together with target.url", () => {
    const { config } = loadConfig({
      env: { AUTH_MODE: "bypass", MCP_TARGET_URLS: "http://10.0.0.1:3000, http://10.0.0.2:3000" },
    });
    assert.deepEqual(config.target.urls, ["http://10.0.0.1:3000", "http://10.0.0.2:3000"]);
    const both = problemsOf(() =>
      loadConfig({ env: { AUTH_MODE: "bypass", MCP_TARGET_URL: "http://a:1", MCP_TARGET_URLS: "http://b:1" } }),
    );
    assert.ok(both.some((p) => p.startsWith("target.urls: set either target.url")));
    const dns = problemsOf(() =>
      loadConfig({ env: { AUTH_MODE: "bypass", MCP_TARGET_DISCOVERY: "dns", MCP_TARGET_URLS: "http://b:1" } }),
    );
    assert.ok(dns.some((p) => p.startsWith("target.discovery: dns resolves")));
  });

  it("refuses bypass mode, a missing public URL and a missing secret in production", () => {
    const problems = problemsOf(() => loadConfig({ env: { MCP_ENV: "production", AUTH_MODE: "bypass" } }));
    assert.ok(problems.some((p) => p.startsWith("auth.mode:")));
    assert.ok(problems.some((p) => p.startsWith("server.public_url: required in production")));
    assert.ok(problems.some((p) => p.startsWith("session.secret: required in production")));
    assert.ok(problems.some((p) => p.startsWith("metrics.port: give metrics their own port in production")));
  });

  it("refuses a plain-http provider that is not on loopback, and short session secrets", () => {
    const problems = problemsOf(() =>
      loadConfig({ env: { ...OIDC, OIDC_DISCOVERY_URL: "http://id.example.com", SESSION_SECRET: "short" } }),
    );
    assert.ok(problems.some((p) => p.startsWith("oidc.discovery_url:") && p.includes("plain http")));
    assert.ok(problems.some((p) => p.startsWith("session.secret: each secret needs at least 32")));
  });

  it("reads secrets from files", () => {
    const dir = tempDir({ "client-secret": "s3cret\n", "session-secret": `${"k".repeat(40)}\n` });
    const { config } = loadConfig({
      env: {
        ...OIDC,
        OIDC_CLIENT_SECRET_FILE: path.join(dir, "client-secret"),
        SESSION_SECRET_FILE: path.join(dir, "session-secret"),
      },
    });
    assert.equal(config.oidc.client_secret, "s3cret");
    assert.deepEqual(config.session.secret, ["k".repeat(40)]);
  });

  it("requires a shared session secret with the redis store", () => {
    const problems = problemsOf(() => loadConfig({ env: { ...OIDC, SESSION_STORE: "redis" } }));
    assert.ok(problems.some((p) => p.startsWith("session.secret: required with the redis store")));
  });
});

describe("one reading of values from every source", () => {
  it("reads booleans, numbers and lists alike from a file, the environment and flags (the schema coerces them)", () => {
    const dir = tempDir({ "c.yaml": "metrics:\n  enabled: 'off'\noidc:\n  scopes: openid, email\n" });
    const { config } = loadConfig({
      file: path.join(dir, "c.yaml"),
      env: {
        ...OIDC,
        OIDC_INSECURE_ALLOW_UNVERIFIED_EMAIL: "YES",
        ACCESS_ALLOWED_USERS: " a , b ,",
        METRICS_PORT: "9090",
      },
      flags: { targetPort: "4000" },
    });
    assert.equal(config.metrics.enabled, false);
    assert.deepEqual(config.oidc.scopes, ["openid", "email"]);
    assert.equal(config.oidc.insecure_allow_unverified_email, true);
    assert.deepEqual(config.access.allowed_users, ["a", "b"]);
    assert.equal(config.metrics.port, 9090);
    assert.equal(config.target.port, 4000);
  });

  it("reads every boolean and number an environment variable sets from its text (the schema coerces, not sources.ts)", () => {
    const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
    const fieldAt = (path: string) =>
      path.split(".").reduce<JsonSchema | undefined>((n, k) => n?.properties?.[k], schema);
    const types = (field: JsonSchema | undefined): string[] =>
      [field?.type ?? [], ...(field?.anyOf ?? []).flatMap((option) => types(option))].flat();
    for (const [name, binding] of Object.entries(environmentBindings)) {
      const kinds = types(fieldAt(binding.path));
      // A list is also written as text ("a,b"): the schema splits it.
      if (kinds.includes("array") && binding.kind === undefined)
        assert.ok(kinds.includes("string"), `${name}: a list field must accept text`);
      const sample = kinds.includes("boolean") ? "true" : kinds.includes("integer") ? "1" : undefined;
      if (sample === undefined) continue;
      const problems = (() => {
        try {
          loadConfig({ env: { ...OIDC, [name]: sample } });
          return [];
        } catch (error) {
          return error instanceof ConfigError ? error.problems.filter((p) => p.startsWith(`${binding.path}:`)) : [];
        }
      })();
      assert.deepEqual(problems, [], `${name}=${sample}`);
    }
  });

  it("names the field and the variable of a value that is not a boolean or a number", () => {
    const problems = problemsOf(() =>
      loadConfig({ env: { ...OIDC, METRICS_ENABLED: "maybe", MCP_MAX_STREAMS_PER_USER: "many" } }),
    );
    assert.ok(
      problems.some((p) =>
        /^metrics\.enabled: must be true or false.*\[from environment variable METRICS_ENABLED\]/.test(p),
      ),
      problems.join("\n"),
    );
    assert.ok(
      problems.some((p) =>
        /^target\.max_streams_per_user: .*\[from environment variable MCP_MAX_STREAMS_PER_USER\]/.test(p),
      ),
      problems.join("\n"),
    );
  });

  it("derives each flag from the environment binding of the same setting", () => {
    assert.equal(flagBindings.publicUrl?.env, "MCP_PUBLIC_URL");
    assert.equal(flagBindings.publicUrl?.path, "server.public_url");
    for (const binding of Object.values(flagBindings)) {
      assert.equal(environmentBindings[binding.env]?.flag, binding.flag);
    }
    const problems = problemsOf(() => loadConfig({ env: OIDC, flags: { port: "x" } }));
    assert.ok(
      problems.some((p) => p.startsWith("server.port:") && p.endsWith("[from flag --port]")),
      problems.join("\n"),
    );
  });
});

describe("resolved configuration", () => {
  it("gives oidc mode its provider settings and computes public base, resource and audiences once", () => {
    const { config } = loadConfig({
      env: {
        ...OIDC,
        MCP_PUBLIC_URL: "https://mcp.example.com/",
        MCP_AUTH_MODE: "provider",
        MCP_ALLOWED_ORIGINS: "https://app.example.com/x",
      },
    });
    const resolved = resolveConfig(config);
    assert.equal(resolved.publicBase, "https://mcp.example.com");
    assert.equal(resolved.resource, "https://mcp.example.com");
    assert.deepEqual([...(resolved.fixedOrigins ?? [])], ["https://mcp.example.com", "https://app.example.com"]);
    assert.equal(resolved.auth.mode, "oidc");
    if (resolved.auth.mode !== "oidc") return;
    assert.equal(resolved.auth.oidc.client_id, "proxy");
    assert.equal(resolved.auth.mcp.mode, "provider");
    if (resolved.auth.mcp.mode === "provider") {
      assert.deepEqual([...resolved.auth.mcp.audiences], ["https://mcp.example.com", "https://mcp.example.com/"]);
    }
  });

  it("follows the request's origin when no public URL is configured, and has the bypass user in bypass mode", () => {
    const resolved = resolveConfig(loadConfig({ env: { AUTH_MODE: "bypass", MCP_PORT: "0" } }).config);
    assert.equal(resolved.fixedOrigins, undefined);
    assert.equal(resolved.publicBase, "http://localhost:0");
    assert.equal(resolved.auth.mode === "bypass" && resolved.auth.user.id, "developer");
  });
});

describe("token cache TTL", () => {
  it("honours mcp_auth.token_cache_ttl in both modes; defaults to 30s (provider) and session.cache_ttl (proxy)", () => {
    const resolved = (env: Record<string, string>) => resolveConfig(loadConfig({ env: { ...OIDC, ...env } }).config);
    for (const mode of ["provider", "proxy"]) {
      assert.equal(resolved({ MCP_AUTH_MODE: mode, MCP_TOKEN_CACHE_TTL: "5m" }).tokenCacheTtlMs, 300_000, mode);
    }
    assert.equal(resolved({ MCP_AUTH_MODE: "provider" }).tokenCacheTtlMs, 30_000);
    assert.equal(resolved({ MCP_AUTH_MODE: "proxy", SESSION_CACHE_TTL: "7s" }).tokenCacheTtlMs, 7_000);
  });
});

describe("configs/config.example.yaml", () => {
  it("is a valid configuration once the provider is named", () => {
    const root = path.resolve(import.meta.dirname, "../../../../..");
    const { config } = loadConfig({ file: path.join(root, "configs/config.example.yaml"), env: OIDC });
    assert.equal(config.server.port, 8080);
    assert.equal(config.redis.prefix, "mcp:session:");
  });

  it("documents every environment variable the proxy reads", () => {
    const root = path.resolve(import.meta.dirname, "../../../../..");
    const example = readFileSync(path.join(root, "configs/config.example.yaml"), "utf8");
    const missing = Object.keys(environmentBindings).filter((name) => !example.includes(name));
    assert.deepEqual(missing, []);
  });
});

describe("MCP authorization settings", () => {
  it("refuses the proxy's authorization server without sign-in", () => {
    const bypass = problemsOf(() => loadConfig({ env: { AUTH_MODE: "bypass", MCP_AUTH_MODE: "proxy" } }));
    assert.ok(bypass.some((p) => p.startsWith('mcp_auth.mode: "proxy"')));
  });

  // A trial's leftover: client_ttl 1d with 14d refresh tokens loaded, and a client idle for
  // two days was forgotten while its refresh token still lived.
  it("refuses a client_ttl shorter than refresh_token_ttl, naming both, and takes 0 (kept) or longer", () => {
    const load = (env: Record<string, string>) => loadConfig({ env: { ...OIDC, MCP_AUTH_MODE: "proxy", ...env } });
    const problems = problemsOf(() => load({ MCP_CLIENT_TTL: "1d" }));
    assert.ok(
      problems.includes(
        "mcp_auth.server.client_ttl: must be at least mcp_auth.server.refresh_token_ttl (14d) or 0 (got 1d): a client forgotten after its last use would strand the refresh tokens it still holds (env MCP_CLIENT_TTL)",
      ),
      problems.join("\n"),
    );
    assert.ok(problemsOf(() => load({ MCP_REFRESH_TOKEN_TTL: "60d" })).some((p) => p.includes("(got 30d)")));
    for (const env of [{ MCP_CLIENT_TTL: "0s" }, { MCP_CLIENT_TTL: "14d" }, { MCP_REFRESH_TOKEN_TTL: "1d" }]) {
      assert.ok(load(env).config, JSON.stringify(env));
    }
  });

  it("reads the authorization server's settings from the environment", () => {
    const { config } = loadConfig({
      env: { ...OIDC, MCP_AUTH_MODE: "proxy", MCP_ACCESS_TOKEN_TTL: "5m", MCP_PREAPPROVED_CLIENTS: "a,b" },
    });
    assert.equal(config.mcp_auth.server.access_token_ttl, 300_000);
    assert.deepEqual(config.mcp_auth.server.preapproved_clients, ["a", "b"]);
    assert.equal(config.mcp_auth.server.client_metadata_documents, true);
    assert.equal(config.mcp_auth.server.client_metadata_private_addresses, false);
  });
});

describe("secret sources", () => {
  it("reads Vault and AWS secret lists from the environment (ENV=source#key, comma separated)", () => {
    const { config } = loadConfig({
      env: {
        ...OIDC,
        VAULT_ADDR: "https://vault.example.com",
        VAULT_TOKEN: "t",
        VAULT_SECRETS: "OIDC_CLIENT_SECRET=secret/data/mcp/oidc#client_secret, SESSION_SECRET=secret/data/mcp/s#v",
        AWS_SECRETS: "REDIS_PASSWORD=arn:aws:secretsmanager:eu-central-1:1:secret:redis-AbC#password,X_TOKEN=plain",
      },
      fieldsOnly: true,
    });
    assert.deepEqual(config.vault.secrets, [
      { env: "OIDC_CLIENT_SECRET", path: "secret/data/mcp/oidc", key: "client_secret" },
      { env: "SESSION_SECRET", path: "secret/data/mcp/s", key: "v" },
    ]);
    assert.deepEqual(config.aws_secrets_manager.secrets, [
      { env: "REDIS_PASSWORD", secret_id: "arn:aws:secretsmanager:eu-central-1:1:secret:redis-AbC", key: "password" },
      { env: "X_TOKEN", secret_id: "plain" },
    ]);
  });

  it("names what is missing to reach Vault, and a malformed entry", () => {
    const problems = problemsOf(() =>
      loadConfig({ env: { ...OIDC, VAULT_SECRETS: "OIDC_CLIENT_SECRET=secret/data/x#k" } }),
    );
    assert.ok(problems.some((p) => p.startsWith("vault.address: required")));
    assert.ok(problems.some((p) => p.startsWith("vault.token: required")));
    const malformed = problemsOf(() =>
      loadConfig({ env: { ...OIDC, VAULT_SECRETS: "OIDC_CLIENT_SECRET=secret/data/x#k,lowercase=secret/data/y#k" } }),
    );
    assert.ok(malformed.some((p) => p.startsWith("vault.secrets[1].env: must be an environment variable name")));
    const kubernetes = problemsOf(() =>
      loadConfig({
        env: { ...OIDC, VAULT_ADDR: "https://v", VAULT_AUTH_METHOD: "kubernetes", VAULT_SECRETS: "A=p#k" },
      }),
    );
    assert.ok(kubernetes.some((p) => p.startsWith("vault.role: required")));
  });
});
