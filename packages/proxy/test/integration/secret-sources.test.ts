// Secrets from outside stores, fetched at startup as the seed describes (`secrets: - env:`):
// AWS Secrets Manager (moto's server speaks its API) and HashiCorp Vault (a stand-in for its
// HTTP API: no Vault or OpenBao server could be built here, see docs/decisions/007). The
// proxy command starts with its client secret and session secret only in those stores and
// signs a user in at the real provider, which accepts the client secret only if it arrived
// intact.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { loadConfigWithSecrets } from "../../src/secrets/resolve.ts";
import { TestBrowser } from "../support/browser.ts";
import { freePort } from "../support/ports.ts";
import { finished, logLine } from "../support/process.ts";
import { CLIENT_SECRET, SESSION_SECRET, type Stack, startStack } from "../support/stack.ts";
import { startVaultStandIn, type VaultStandIn } from "../support/vault-stand-in.ts";

const ROOT = path.resolve(import.meta.dirname, "../../../..");
const BIN = path.join(ROOT, "node_modules/.bin/mcp-oidc-proxy");
const AWS_ENV = { AWS_REGION: "eu-central-1", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };

/** Starts a server command on a free port and resolves once it answers HTTP there. */
async function startServer(command: string, args: (port: number) => string[], ready: string) {
  const port = await freePort();
  const child = spawn(command, args(port), { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}`);
    const answered = await fetch(`${url}${ready}`).then(
      () => true,
      () => false,
    );
    if (answered) return { url, child };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error(`${command} did not start`);
}

/** The proxy command with the stack's environment, minus the secrets, plus `extra`. */
function proxyWithout(stack: Stack, extra: Record<string, string>, args: string[] = []): ChildProcess {
  const { OIDC_CLIENT_SECRET: _client, SESSION_SECRET: _session, ...env } = stack.envFor(0);
  return spawn(BIN, args, {
    env: { PATH: process.env.PATH ?? "", ...env, LOG_LEVEL: "info", ...extra },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Runs the proxy command until a user signed in through it, then stops it; its exit and output. */
async function signInThroughCommand(stack: Stack, extra: Record<string, string>) {
  const proxy = proxyWithout(stack, extra);
  const exited = finished(proxy);
  let status = 0;
  try {
    await logLine(proxy, "mcp-oidc-proxy listening");
    status = (await new TestBrowser().signIn(`http://127.0.0.1:${stack.ports[0]}/`, "alice")).status;
  } finally {
    proxy.kill("SIGTERM");
  }
  return { status, ...(await exited) };
}

describe("secrets from AWS Secrets Manager", () => {
  let moto: { url: string; child: ChildProcess };
  let stack: Stack;
  const savedEnv = { ...process.env };

  before(async () => {
    // The SDK in this process (the in-process check below) finds its credentials here.
    Object.assign(process.env, AWS_ENV);
    moto = await startServer(
      path.join(ROOT, ".tools/python/bin/moto_server"),
      (p) => ["-H", "127.0.0.1", "-p", String(p)],
      "/moto-api/",
    );
    const client = new SecretsManagerClient({
      endpoint: moto.url,
      region: AWS_ENV.AWS_REGION,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    await client.send(
      new CreateSecretCommand({ Name: "mcp/oidc", SecretString: JSON.stringify({ client_secret: CLIENT_SECRET }) }),
    );
    await client.send(new CreateSecretCommand({ Name: "mcp/session", SecretString: SESSION_SECRET }));
    client.destroy();
    stack = await startStack();
    // The stack's own proxy stands aside: the command below takes its port.
    await stack.proxies[0]?.shutdown();
  });
  after(async () => {
    process.env = savedEnv;
    await stack.close();
    moto.child.kill();
  });

  const awsEnv = (secrets: string) => ({
    ...AWS_ENV,
    AWS_SECRETS_MANAGER_ENDPOINT: moto.url,
    AWS_SECRETS: secrets,
  });

  it("fills the configuration from a JSON key and a plain secret", async () => {
    const { OIDC_CLIENT_SECRET: _c, SESSION_SECRET: _s, ...env } = stack.envFor(0);
    const { loaded } = await loadConfigWithSecrets({
      env: { ...env, ...awsEnv("OIDC_CLIENT_SECRET=mcp/oidc#client_secret,SESSION_SECRET=mcp/session") },
    });
    assert.equal(loaded.config.oidc.client_secret, CLIENT_SECRET);
    assert.deepEqual(loaded.config.session.secret, [SESSION_SECRET]);
  });

  it("starts the proxy command with them, and a user signs in at the provider", async () => {
    const { status, code, stdout, stderr } = await signInThroughCommand(
      stack,
      awsEnv("OIDC_CLIENT_SECRET=mcp/oidc#client_secret,SESSION_SECRET=mcp/session"),
    );
    assert.equal(status, 200);
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stdout + stderr, new RegExp(CLIENT_SECRET), "the secret is never logged");
  });

  it("stops at startup, naming the secret, when one is missing (exit 1, no value printed)", async () => {
    const proxy = proxyWithout(stack, awsEnv("OIDC_CLIENT_SECRET=mcp/oidc#client_secret,SESSION_SECRET=mcp/nothing"));
    const { code, stderr } = await finished(proxy);
    assert.equal(code, 1);
    assert.match(stderr, /cannot fetch secrets: AWS Secrets Manager: mcp\/nothing: ResourceNotFoundException/);
    assert.doesNotMatch(stderr, new RegExp(CLIENT_SECRET));
  });
});

describe("secrets from HashiCorp Vault (API stand-in)", () => {
  let vault: VaultStandIn;
  let stack: Stack;
  const rootToken = "test-root-token";
  const serviceAccountToken = "eyJhbGciOiJSUzI1NiJ9.service-account.token";
  const secrets =
    "OIDC_CLIENT_SECRET=secret/data/mcp-proxy/oidc#client_secret,SESSION_SECRET=secret/data/mcp-proxy/oidc#session_secret";

  before(async () => {
    vault = await startVaultStandIn({
      rootToken,
      kv2: { "mcp-proxy/oidc": { client_secret: CLIENT_SECRET, session_secret: SESSION_SECRET } },
      kubernetes: { jwt: serviceAccountToken, role: "mcp-proxy" },
    });
    stack = await startStack();
    await stack.proxies[0]?.shutdown();
  });
  after(async () => {
    await stack.close();
    await vault.close();
  });

  it("starts the proxy command with secrets read from KV v2 with a token, and a user signs in", async () => {
    const { status, code, stdout, stderr } = await signInThroughCommand(stack, {
      VAULT_ADDR: vault.url,
      VAULT_TOKEN: rootToken,
      VAULT_SECRETS: secrets,
    });
    assert.equal(status, 200);
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stdout + stderr, new RegExp(`${CLIENT_SECRET}|${rootToken}`), "no secret or token logged");
    const reads = vault.requests.filter((r) => r.path === "/v1/secret/data/mcp-proxy/oidc");
    assert.equal(reads.length, 1, "one read per path, however many keys");
  });

  it("logs in with the pod's service account token (Kubernetes auth)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "vault-sa-"));
    const tokenFile = path.join(dir, "token");
    writeFileSync(tokenFile, `${serviceAccountToken}\n`);
    const { OIDC_CLIENT_SECRET: _secret, ...stackEnv } = stack.envFor(0);
    const env = {
      ...stackEnv,
      VAULT_ADDR: vault.url,
      VAULT_AUTH_METHOD: "kubernetes",
      VAULT_ROLE: "mcp-proxy",
      VAULT_NAMESPACE: "team-a",
      VAULT_SECRETS: secrets,
    };
    const { loaded } = await loadConfigWithSecrets({
      env,
      file: writeConfig(dir, `vault:\n  service_account_token_file: ${tokenFile}\n`),
    });
    assert.equal(loaded.config.oidc.client_secret, CLIENT_SECRET);
    const login = vault.requests.find((r) => r.path === "/v1/auth/kubernetes/login");
    assert.equal(login?.headers["x-vault-namespace"], "team-a");
  });

  // A new user's trial: no token file (a pod without automountServiceAccountToken) crashed
  // --config-test and the start with a stack trace (ENOENT), not the promised one line.
  it("stops with one line naming the file when the service account token or the CA file cannot be read (exit 1)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "vault-files-"));
    const missing = path.join(dir, "serviceaccount/token");
    const base = { VAULT_ADDR: vault.url, VAULT_SECRETS: secrets };
    const cases = [
      {
        env: { ...base, VAULT_AUTH_METHOD: "kubernetes", VAULT_ROLE: "mcp-proxy" },
        file: writeConfig(dir, `vault:\n  service_account_token_file: ${missing}\n`),
        message: `cannot fetch secrets: Vault: cannot read vault.service_account_token_file ${missing} (ENOENT)`,
      },
      {
        env: { ...base, VAULT_TOKEN: rootToken, VAULT_CACERT: path.join(dir, "ca.crt") },
        file: undefined,
        message: `cannot fetch secrets: Vault: cannot read vault.ca_file ${path.join(dir, "ca.crt")} (ENOENT)`,
      },
    ];
    for (const { env, file, message } of cases) {
      for (const args of [["--config-test"], []]) {
        const proxy = proxyWithout(stack, env, [...(file ? ["--config", file] : []), ...args]);
        const { code, stderr } = await finished(proxy);
        assert.equal(code, 1, stderr);
        assert.ok(stderr.startsWith(`mcp-oidc-proxy: ${message}`), stderr);
        assert.equal(stderr.trim().split("\n").length, 1, `one line, no stack trace: ${stderr}`);
      }
    }
  });

  it("stops at startup when Vault refuses the token (exit 1)", async () => {
    const proxy = proxyWithout(stack, { VAULT_ADDR: vault.url, VAULT_TOKEN: "not-a-token", VAULT_SECRETS: secrets });
    const { code, stderr } = await finished(proxy);
    assert.equal(code, 1);
    assert.match(
      stderr,
      /cannot fetch secrets: Vault answered 403 for secret\/data\/mcp-proxy\/oidc: permission denied/,
    );
  });
});

function writeConfig(dir: string, text: string): string {
  const file = path.join(dir, "config.yaml");
  writeFileSync(file, text);
  return file;
}
