// The production bundle the container image runs (scripts/build-bundle.ts), started the way
// the image starts it: through deployments/docker/node-memory.sh with a 256 MiB limit, from a
// directory outside the repository with no node_modules anywhere above it, so every module
// it loads comes from the bundle and its lazily loaded chunks (the Redis client, the
// authorization server's oidc-provider). Signs a real MCP client in and proxies its calls.
// The installed command (bin/mcp-oidc-proxy.js) runs the same bundle, rebuilt when stale.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from "node:fs";
import http from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { BUNDLE, buildBundle } from "../../scripts/build-bundle.ts";
import { VERSION } from "../../src/version.ts";
import {
  type PackagedStack,
  signInThenStop,
  startPackagedStack,
  writePackagedConfig,
} from "../support/packaged-proxy.ts";
import { finished, logLine } from "../support/process.ts";
import { freePort, startRedis, type TestRedis } from "../support/redis-server.ts";

const ENTRYPOINT = path.resolve(import.meta.dirname, "../../../../deployments/docker/node-memory.sh");
const COMMAND = path.resolve(import.meta.dirname, "../../../../node_modules/.bin/mcp-oidc-proxy");

describe("production bundle (the container's command)", () => {
  let stack: PackagedStack;
  let redis: TestRedis;
  let dir: string;
  let bundle: string;
  let port: number;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "mcp-bundle-"));
    bundle = await buildBundle(path.join(dir, "dist"));
    port = await freePort();
    stack = await startPackagedStack("bundle", port);
    redis = await startRedis();
  });
  after(async () => {
    await stack.close();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs with Redis sessions and its own authorization server, with the heap sized from the limit", async () => {
    writePackagedConfig(dir, stack, "bundle", port, redis.url);
    const proxy = spawn(ENTRYPOINT, [process.execPath, bundle, "--config", "config.yaml"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", MCP_MEMORY_LIMIT: String(256 * 2 ** 20) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    await signInThenStop(proxy, port, () => {
      // The entrypoint exec'd node (same pid) with V8's limits for a 256 MiB container, and glibc's malloc tuned.
      const environ = readFileSync(`/proc/${proxy.pid}/environ`, "utf8").split("\0");
      assert.ok(environ.includes("NODE_OPTIONS=--max-old-space-size=128 --max-semi-space-size=4"), environ.join(" "));
      assert.ok(environ.includes("MALLOC_ARENA_MAX=2"), "two glibc malloc arenas");
      assert.ok(environ.includes("MALLOC_TRIM_THRESHOLD_=131072"), "a fixed trim threshold (decision 026)");
      assert.ok(environ.includes("MALLOC_MMAP_THRESHOLD_=32768"), "a fixed mmap threshold (decisions 026, 031)");
    });
  });

  // Decision 026: Node's own copy of undici (behind its fetch globals and node:http's
  // WebSocket getter) costs resident memory for what the undici package already does.
  it("loads Node's own undici neither for discovery nor for node:http (decision 026)", async () => {
    const report = `process.on("exit", () => process.stderr.write("node's undici loaded: " + process.moduleLoadList.includes("NativeModule internal/deps/undici/undici") + "\\n"))`;
    const readyPort = await freePort();
    const proxy = spawn(process.execPath, [`--import=data:text/javascript,${encodeURIComponent(report)}`, bundle], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? "",
        MCP_HOST: "127.0.0.1",
        MCP_PORT: String(readyPort),
        MCP_TARGET_URL: stack.mcp.url,
        OIDC_DISCOVERY_URL: stack.idp.issuer,
        OIDC_CLIENT_ID: "bundle",
        OIDC_CLIENT_SECRET: "bundle-secret",
        SESSION_SECRET: "bundle-session-secret-0123456789abcdef",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = finished(proxy);
    await logLine(proxy, "mcp-oidc-proxy listening");
    // Ready once discovery has answered (fetch, Headers and Response used).
    while ((await fetch(`http://127.0.0.1:${readyPort}/readyz`).catch(() => undefined))?.status !== 200) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    proxy.kill("SIGTERM");
    const { code, stderr } = await exited;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /node's undici loaded: false/);
  });

  // Decision 031: what only some requests use is neither inlined in the loaded source nor
  // loaded before a request needs it.
  it("reads dependencies' large JSON files from beside the chunks, and loads the WebSocket relay at the first upgrade", async () => {
    const chunkDir = path.join(dir, "dist", "chunks");
    const outputs = [bundle, ...readdirSync(chunkDir).map((name) => path.join(chunkDir, name))];
    const inlined = outputs.filter((file) =>
      readFileSync(file, "utf8").includes("application/1d-interleaved-parityfec"),
    );
    assert.deepEqual(
      inlined.map((file) => path.basename(file).replace(/-[0-9a-f]{8}\.json$/, ".json")),
      ["db.json", "db.json"],
      "mime-db's table (express's copy and koa's) only in JSON files",
    );
    // Which chunks and JSON files the process read, printed when asked (SIGUSR2) and at exit.
    const report = [
      'import { createRequire, registerHooks } from "node:module";',
      "const chunks = [];",
      "registerHooks({ load(url, context, next) { chunks.push(url.split('/').pop()); return next(url, context); } });",
      // Node's require cache is one for the process; createRequire needs a file path, not this data: URL.
      'const cache = createRequire("/").cache;',
      "const print = () => process.stderr.write('loaded: ' + JSON.stringify([...chunks, ...Object.keys(cache)].map((f) => f.split('/').pop())) + '\\n');",
      'process.on("SIGUSR2", print); process.on("exit", print);',
    ].join("\n");
    const proxyPort = await freePort();
    const proxy = spawn(process.execPath, [`--import=data:text/javascript,${encodeURIComponent(report)}`, bundle], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? "",
        MCP_HOST: "127.0.0.1",
        MCP_PORT: String(proxyPort),
        MCP_TARGET_URL: stack.mcp.url,
        AUTH_MODE: "bypass",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = finished(proxy);
    await logLine(proxy, "mcp-oidc-proxy listening");
    let stderr = "";
    proxy.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const loaded = async (): Promise<string[]> => {
      const before = stderr.length;
      proxy.kill("SIGUSR2");
      const line = () => /loaded: (.*)\n/.exec(stderr.slice(before))?.[1];
      while (line() === undefined) await new Promise((resolve) => proxy.stderr?.once("data", resolve));
      return JSON.parse(line() as string) as string[];
    };
    const atStart = await loaded();
    assert.ok(
      atStart.some((name) => /^db-[0-9a-f]{8}\.json$/.test(name)),
      "express's mime-db, read from its file",
    );
    assert.ok(!atStart.some((name) => /^(cp9|shiftjis|eucjp|big5)/.test(name)), "no code page of iconv-lite read");
    assert.ok(!atStart.some((name) => name.startsWith("websocket-")), "no WebSocket relay before an upgrade");
    const socket = await new Promise<Socket>((resolve, reject) => {
      const req = http.request(`http://127.0.0.1:${proxyPort}/ws`, {
        headers: { connection: "Upgrade", upgrade: "websocket" },
      });
      req.on("upgrade", (_res, upgraded: Socket) => resolve(upgraded));
      req.on("response", (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on("error", reject);
      req.end();
    });
    socket.write("hello through the bundle");
    const echoed = await new Promise<string>((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString())));
    socket.destroy();
    assert.equal(echoed, "hello through the bundle");
    assert.ok(
      (await loaded()).some((name) => name.startsWith("websocket-")),
      "the relay, loaded for the upgrade",
    );
    proxy.kill("SIGTERM");
    assert.equal((await exited).code, 0);
  });

  it("is what the installed command runs, rebuilt first when a source is newer", () => {
    // Touched, not changed: the launcher compares times, and the next start rebuilds the same bundle.
    const source = path.resolve(import.meta.dirname, "../../src/version.ts");
    const now = new Date();
    utimesSync(source, now, now);
    const result = spawnSync(COMMAND, ["--version"], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), VERSION);
    assert.ok(statSync(BUNDLE).mtimeMs >= statSync(source).mtimeMs, "the bundle was rebuilt before it ran");
  });
});
