// `make run` (packages/proxy/dev/demo.ts, which the target runs): its three ports move with
// the variables the README names, and a port that is taken ends it with one line naming the
// port and the variable to set, not a stack trace. Run on free ports, never the fixed ones.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { describe, it } from "node:test";
import { freePort } from "../support/ports.ts";
import { finished } from "../support/process.ts";

const DEMO = path.resolve(import.meta.dirname, "../../dev/demo.ts");
const VARIABLES = ["DEMO_PROXY_PORT", "DEMO_IDP_PORT", "DEMO_MCP_PORT"] as const;
type Ports = Record<(typeof VARIABLES)[number], number>;

function startDemo(ports: Ports) {
  return spawn(process.execPath, [DEMO], {
    env: { PATH: process.env.PATH ?? "", ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function freePorts(): Promise<Ports> {
  return { DEMO_PROXY_PORT: await freePort(), DEMO_IDP_PORT: await freePort(), DEMO_MCP_PORT: await freePort() };
}

/** Holds a port as another program would: listening on the host the demo binds it on. */
async function occupy(host: string): Promise<net.Server & { port: number }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return Object.assign(server, { port: (server.address() as net.AddressInfo).port });
}

describe("make run", () => {
  it("serves on the ports DEMO_PROXY_PORT, DEMO_IDP_PORT and DEMO_MCP_PORT set", async () => {
    const ports = await freePorts();
    const demo = startDemo(ports);
    const exited = finished(demo);
    let stdout = "";
    await new Promise<void>((resolve) => {
      demo.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk;
        if (stdout.includes("Ctrl-C stops everything")) resolve();
      });
    });
    try {
      assert.match(stdout, new RegExp(`http://localhost:${ports.DEMO_PROXY_PORT}/mcp`));
      assert.match(stdout, new RegExp(`Identity provider: +http://localhost:${ports.DEMO_IDP_PORT}`));
      assert.match(stdout, new RegExp(`MCP server \\(unprotected\\): +http://127.0.0.1:${ports.DEMO_MCP_PORT}`));
      const health = await fetch(`http://127.0.0.1:${ports.DEMO_PROXY_PORT}/health`);
      assert.equal(health.status, 200);
    } finally {
      demo.kill("SIGTERM");
    }
    assert.equal((await exited).code, 0);
  });

  // A new user's trial: a port in use ended the demo with an unhandled EADDRINUSE stack trace.
  for (const [variable, host, what] of [
    ["DEMO_PROXY_PORT", "127.0.0.1", "the proxy"],
    ["DEMO_IDP_PORT", "localhost", "the identity provider"],
    ["DEMO_MCP_PORT", "127.0.0.1", "the MCP server"],
  ] as const) {
    it(`names the busy port and ${variable} in one line when ${what}'s port is taken`, async () => {
      const busy = await occupy(host);
      try {
        const result = await finished(startDemo({ ...(await freePorts()), [variable]: busy.port }));
        assert.equal(result.code, 1, result.stderr);
        // The development provider's warnings come first, as on every run; then the one line.
        const lines = result.stderr.trimEnd().split("\n");
        assert.equal(
          lines.at(-1),
          `make run: port ${busy.port} (${what}) is in use: stop what uses it or set ${variable}, e.g. ${variable}=${busy.port + 1} make run`,
        );
        assert.doesNotMatch(result.stderr, /EADDRINUSE|^\s+at /m, "no stack trace");
      } finally {
        busy.close();
      }
    });
  }

  it("refuses a port variable that is no port, naming it", async () => {
    const result = await finished(startDemo({ ...(await freePorts()), DEMO_MCP_PORT: Number.NaN }));
    assert.equal(result.code, 1);
    assert.equal(result.stderr, "make run: DEMO_MCP_PORT=NaN is not a port (1-65535)\n");
  });
});
