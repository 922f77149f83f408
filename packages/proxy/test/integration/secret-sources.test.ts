// Secrets from outside stores, fetched at startup as the seed describes (`secrets: - env:`):
// AWS Secrets Manager (moto's server speaks its API) and HashiCorp Vault (a real Vault dev
// server, built from the Go module proxy). The proxy command starts with its client secret
// and session secret only in those stores and signs a user in at the real provider, which
// accepts the client secret only if it arrived intact.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { loadConfigWithSecrets } from "../../src/secrets/resolve.ts";
import { TestBrowser } from "../support/browser.ts";
import { finished, logLine } from "../support/process.ts";
import { freePort } from "../support/redis-server.ts";
import { CLIENT_SECRET, SESSION_SECRET, type Stack, startStack } from "../support/stack.ts";

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
function proxyWithout(stack: Stack, extra: Record<string, string>): ChildProcess {
  const { OIDC_CLIENT_SECRET: _client, SESSION_SECRET: _session, ...env } = stack.envFor(0);
  return spawn(BIN, [], {
    env: { PATH: process.env.PATH ?? "", ...env, LOG_LEVEL: "info", ...extra },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function signInThrough(proxy: ChildProcess, url: string): Promise<number> {
  await logLine(proxy, "mcp-oidc-proxy listening");
  const page = await new TestBrowser().signIn(`${url}/`, "alice");
  return page.status;
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
    const proxy = proxyWithout(stack, awsEnv("OIDC_CLIENT_SECRET=mcp/oidc#client_secret,SESSION_SECRET=mcp/session"));
    const exited = finished(proxy);
    try {
      assert.equal(await signInThrough(proxy, `http://127.0.0.1:${stack.ports[0]}`), 200);
    } finally {
      proxy.kill("SIGTERM");
    }
    const { code, stdout, stderr } = await exited;
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
