// The container files: the Dockerfile and shell scripts pass their linters, the compose file
// is wired as the seed says, and the command the image runs (its entrypoint running the
// production bundle, built here as the image's build stage builds it) accepts both
// configurations it is run with (the image's default and the compose setup), and its health
// check asks the port the proxy listens on. No Docker engine runs here.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { buildBundle } from "../../scripts/build-bundle.ts";
import { freePort } from "../support/ports.ts";
import { finished, logLine } from "../support/process.ts";

const ROOT = path.resolve(import.meta.dirname, "../../../..");
const DOCKER = path.join(ROOT, "deployments/docker");
const HADOLINT = path.join(ROOT, ".tools/hadolint/bin/hadolint");

/** The exec-form array of a Dockerfile instruction. */
function instruction(dockerfile: string, name: string): string[] {
  const line = dockerfile.split("\n").find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} in the Dockerfile`);
  return JSON.parse(line.slice(name.length + 1)) as string[];
}

/** Where the image's build stage puts the bundle, and where this test built it. */
const IMAGE_BUNDLE_DIR = "/app/packages/proxy/dist";
let bundleDir = "";

/** Runs the image's entrypoint + arguments here, with the image's paths mapped to the repository and the bundle. */
function runEntrypoint(args: string[], configFile: string, env: Record<string, string>) {
  const dockerfile = readFileSync(path.join(DOCKER, "Dockerfile"), "utf8");
  const [entrypoint, command, bundle, ...rest] = [...instruction(dockerfile, "ENTRYPOINT"), ...args];
  assert.equal(command, "node");
  assert.ok(bundle?.startsWith(`${IMAGE_BUNDLE_DIR}/`), `${bundle} is the bundle the build stage writes`);
  const local = (entrypoint as string).replace("/app/", `${ROOT}/`);
  const mapped = rest.map((arg) => (arg === "/etc/mcp-proxy/config.yaml" ? configFile : arg));
  return spawnSync(local, [process.execPath, (bundle as string).replace(IMAGE_BUNDLE_DIR, bundleDir), ...mapped], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
  });
}

/** The image's entrypoint + arguments started here (as runEntrypoint maps them), left running. */
function startEntrypoint(args: string[], configFile: string, env: Record<string, string>) {
  const dockerfile = readFileSync(path.join(DOCKER, "Dockerfile"), "utf8");
  const [entrypoint, , bundle, ...rest] = [...instruction(dockerfile, "ENTRYPOINT"), ...args];
  const local = (entrypoint as string).replace("/app/", `${ROOT}/`);
  const mapped = rest.map((arg) => (arg === "/etc/mcp-proxy/config.yaml" ? configFile : arg));
  return spawn(local, [process.execPath, (bundle as string).replace(IMAGE_BUNDLE_DIR, bundleDir), ...mapped], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", ...env },
  });
}

describe("container", () => {
  before(async () => {
    bundleDir = mkdtempSync(path.join(tmpdir(), "mcp-image-bundle-"));
    await buildBundle(bundleDir);
  });
  after(() => rmSync(bundleDir, { recursive: true, force: true }));

  it("has Dockerfiles (proxy, operator) hadolint finds nothing wrong with", () => {
    execFileSync(HADOLINT, [path.join(DOCKER, "Dockerfile"), path.join(DOCKER, "operator.Dockerfile")], {
      encoding: "utf8",
    });
  });

  it("builds the operator image that install.yaml runs, from a command that starts", () => {
    const dockerfile = readFileSync(path.join(DOCKER, "operator.Dockerfile"), "utf8");
    assert.match(dockerfile, /^USER 10001:10001$/m);
    // Through the entrypoint the proxy's image uses: the heap sized from the limit (decision 023).
    const [entrypoint, command, ...rest] = instruction(dockerfile, "ENTRYPOINT");
    const script = rest.pop() as string;
    assert.equal(entrypoint, "/app/deployments/docker/node-memory.sh");
    assert.match(dockerfile, /^COPY deployments\/docker\/node-memory\.sh deployments\/docker\/node-memory\.sh$/m);
    assert.equal(command, "node");
    // Interpreted only, WebAssembly kept (undici's HTTP/1.1 parser), as the launcher runs it (decision 023).
    const v8Flags = ["--no-opt", "--no-maglev", "--no-sparkplug", "--optimize-for-size"];
    assert.deepEqual(rest, v8Flags);
    const launcher = readFileSync(path.join(ROOT, "packages/operator/bin/mcp-oidc-operator.js"), "utf8");
    assert.equal(launcher.split("\n")[0], `#!/usr/bin/env -S node --max-semi-space-size=1 ${v8Flags.join(" ")}`);
    const wasm = spawnSync(process.execPath, [...rest, "-p", "typeof WebAssembly"], { encoding: "utf8" });
    assert.equal(wasm.stdout.trim(), "object");
    const result = spawnSync(
      path.join(DOCKER, "node-memory.sh"),
      [process.execPath, ...rest, script.replace("/app/", `${ROOT}/`), "--help"],
      { encoding: "utf8", env: { PATH: process.env.PATH ?? "", MCP_MEMORY_LIMIT: String(256 * 2 ** 20) } },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /--lease-namespace/);
    const install = readFileSync(path.join(ROOT, "deployments/kubernetes/operator/install.yaml"), "utf8");
    assert.match(install, /image: ghcr\.io\/mcp-oidc-proxy\/mcp-oidc-operator:0\.1\.0/);
    assert.match(install, /- --lease-namespace\n\s+- mcp-system/);
  });

  it("runs as a non-root user, exposes 8080 and 9090, and checks its health", () => {
    const dockerfile = readFileSync(path.join(DOCKER, "Dockerfile"), "utf8");
    assert.match(dockerfile, /^USER 10001:10001$/m);
    assert.match(dockerfile, /^EXPOSE 8080 9090$/m);
    assert.match(dockerfile, /^HEALTHCHECK [^\n]*\\\n\s+CMD [^\n]*\/healthz/m);
    assert.match(dockerfile, /^COPY configs\/config.example.yaml \/etc\/mcp-proxy\/config.yaml$/m);
  });

  // A new user's trial: the check asked 127.0.0.1:8080 whatever MCP_PORT said, so a proxy on
  // another port was reported unhealthy (and one on 8080 healthy in its place).
  it("checks the health of the port MCP_PORT sets, as the container runs it", async () => {
    const dockerfile = readFileSync(path.join(DOCKER, "Dockerfile"), "utf8");
    const healthcheck = /^HEALTHCHECK [^\n]*\\\n\s+CMD (\[[^\n]*\])$/m.exec(dockerfile)?.[1];
    assert.ok(healthcheck, "an exec-form HEALTHCHECK CMD");
    const [command, ...args] = JSON.parse(healthcheck) as string[];
    assert.equal(command, "node");
    const check = (port: number) =>
      spawnSync(process.execPath, args, {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", MCP_PORT: String(port) },
      });
    const port = await freePort();
    const proxy = startEntrypoint(instruction(dockerfile, "CMD"), path.join(ROOT, "configs/config.example.yaml"), {
      MCP_PORT: String(port),
      AUTH_MODE: "bypass",
    });
    const exited = finished(proxy);
    try {
      await logLine(proxy, "mcp-oidc-proxy listening");
      const healthy = check(port);
      assert.equal(healthy.status, 0, healthy.stderr);
      assert.equal(check(await freePort()).status, 1, "nothing listens there: unhealthy");
    } finally {
      proxy.kill("SIGTERM");
      await exited;
    }
  });

  it("has shell scripts shellcheck finds nothing wrong with", () => {
    const scripts = readdirSync(path.join(ROOT, "scripts")).filter((f) => f.endsWith(".sh"));
    execFileSync("shellcheck", [
      ...scripts.map((f) => path.join(ROOT, "scripts", f)),
      path.join(ROOT, ".ci/run"),
      path.join(DOCKER, "node-memory.sh"),
    ]);
  });

  it("sizes V8's heap from the container's memory limit, and leaves each flag NODE_OPTIONS sets", () => {
    const nodeOptions = (env: Record<string, string>) =>
      spawnSync(path.join(DOCKER, "node-memory.sh"), [process.execPath, "-p", "process.env.NODE_OPTIONS ?? ''"], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", ...env },
      }).stdout.trim();
    const mib = (n: number) => String(n * 2 ** 20);
    assert.equal(nodeOptions({ MCP_MEMORY_LIMIT: mib(512) }), "--max-old-space-size=256 --max-semi-space-size=8");
    assert.equal(
      nodeOptions({ MCP_MEMORY_LIMIT: mib(256), NODE_OPTIONS: "--no-warnings" }),
      "--no-warnings --max-old-space-size=128 --max-semi-space-size=4",
    );
    assert.equal(
      nodeOptions({ MCP_MEMORY_LIMIT: mib(256), NODE_OPTIONS: "--max-old-space-size=200" }),
      "--max-old-space-size=200 --max-semi-space-size=4",
    );
    // The operator's image keeps its 1 MiB young generation; the old generation still follows the limit.
    assert.equal(
      nodeOptions({ MCP_MEMORY_LIMIT: mib(256), NODE_OPTIONS: "--max-semi-space-size=1" }),
      "--max-semi-space-size=1 --max-old-space-size=128",
    );
    assert.equal(
      nodeOptions({ MCP_MEMORY_LIMIT: mib(256), NODE_OPTIONS: "--max-old-space-size=200 --max-semi-space-size=2" }),
      "--max-old-space-size=200 --max-semi-space-size=2",
    );
    // cgroup v1's "no limit" is a huge number: Node's own defaults then.
    assert.equal(nodeOptions({ MCP_MEMORY_LIMIT: "9223372036854771712" }), "");
  });

  it("wires the compose file as the seed does: the proxy, Redis for sessions, the seed's variables", () => {
    const compose = parse(readFileSync(path.join(DOCKER, "docker-compose.yaml"), "utf8")) as {
      services: Record<
        string,
        { environment?: string[]; ports?: string[]; depends_on?: Record<string, unknown>; image: string }
      >;
      volumes: Record<string, unknown>;
    };
    const proxy = compose.services["mcp-proxy"];
    assert.ok(proxy && compose.services.redis, "services mcp-proxy and redis");
    const names = (proxy.environment ?? []).map((e) => e.split("=")[0]);
    for (const name of [
      "MCP_TARGET_HOST",
      "MCP_TARGET_PORT",
      "OIDC_DISCOVERY_URL",
      "OIDC_CLIENT_ID",
      "OIDC_CLIENT_SECRET",
      "SESSION_STORE",
      "REDIS_URL",
    ]) {
      assert.ok(names.includes(name), name);
    }
    assert.ok(proxy.environment?.includes("REDIS_URL=redis://redis:6379"));
    assert.ok(proxy.ports?.includes("8080:8080"));
    assert.ok(proxy.depends_on?.redis);
    assert.ok("redis_data" in compose.volumes);
  });

  it("runs a command that accepts the image's default configuration", () => {
    const dockerfile = readFileSync(path.join(DOCKER, "Dockerfile"), "utf8");
    const result = runEntrypoint(
      [...instruction(dockerfile, "CMD"), "--config-test"],
      path.join(ROOT, "configs/config.example.yaml"),
      {
        OIDC_DISCOVERY_URL: "https://login.example.com",
        OIDC_CLIENT_ID: "mcp",
      },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /configuration OK/);
  });

  it("runs a command that accepts the compose setup's configuration and environment", () => {
    const compose = parse(readFileSync(path.join(DOCKER, "docker-compose.yaml"), "utf8")) as {
      services: Record<string, { environment: string[] }>;
    };
    const example: Record<string, string> = {
      MCP_PUBLIC_URL: "https://mcp.example.com",
      OIDC_DISCOVERY_URL: "https://your-domain.auth0.com/.well-known/openid-configuration",
      OIDC_CLIENT_ID: "client",
      OIDC_CLIENT_SECRET: "secret",
      SESSION_SECRET: "x".repeat(40),
    };
    // ${VAR} and ${VAR:-default} resolved as docker compose would, from the example .env.
    const env = Object.fromEntries(
      (compose.services["mcp-proxy"]?.environment ?? []).map((entry) => {
        const [name, value = ""] = entry.split(/=(.*)/s) as [string, string];
        return [name, value.replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_, v: string, d?: string) => example[v] ?? d ?? "")];
      }),
    );
    const result = runEntrypoint(
      ["--config", "/etc/mcp-proxy/config.yaml", "--config-test"],
      path.join(DOCKER, "config.yaml"),
      env,
    );
    assert.equal(result.status, 0, result.stderr);
  });
});
