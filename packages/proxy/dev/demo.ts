// `make run`: a complete local demo with embedded defaults. A development OpenID provider,
// a demo MCP server and the proxy (memory sessions) in one process, on fixed local ports
// (8080, 9400, 3000; DEMO_PROXY_PORT, DEMO_IDP_PORT, DEMO_MCP_PORT move them). A port
// that is taken or invalid ends the demo with one line naming it and its variable.
import { loadConfig } from "../src/config/load.ts";
import { startProxy } from "../src/proxy-server.ts";
import { startDevIdentityProvider } from "./identity-provider.ts";
import { startDemoMcpServer } from "./mcp-server.ts";

function fail(message: string): never {
  process.stderr.write(`make run: ${message}\n`);
  process.exit(1);
}

function demoPort(variable: string, fallback: number): number {
  const value = process.env[variable] ?? String(fallback);
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`${variable}=${value} is not a port (1-65535)`);
  return port;
}

/** Starts one part; a busy port is the user's to move, so it is told as such, not as a crash. */
async function onPort<T>(start: () => Promise<T>, port: number, variable: string, what: string): Promise<T> {
  try {
    return await start();
  } catch (error) {
    // The proxy wraps Node's error in its ListenError (lifecycle.ts); the others throw it as is.
    const errno = (error instanceof Error && error.cause ? error.cause : error) as NodeJS.ErrnoException;
    if (errno.code !== "EADDRINUSE") throw error;
    const other = port === 65535 ? port - 1 : port + 1;
    return fail(
      `port ${port} (${what}) is in use: stop what uses it or set ${variable}, e.g. ${variable}=${other} make run`,
    );
  }
}

const proxyPort = demoPort("DEMO_PROXY_PORT", 8080);
const idpPort = demoPort("DEMO_IDP_PORT", 9400);
const mcpPort = demoPort("DEMO_MCP_PORT", 3000);
const publicUrl = `http://localhost:${proxyPort}`;

const idp = await onPort(
  () =>
    startDevIdentityProvider({
      host: "localhost",
      port: idpPort,
      clients: [
        {
          client_id: "mcp-oidc-proxy-demo",
          client_secret: "demo-secret-not-for-production",
          redirect_uris: [`${publicUrl}/callback`],
          post_logout_redirect_uris: [`${publicUrl}/`],
          grant_types: ["authorization_code", "refresh_token"],
        },
      ],
    }),
  idpPort,
  "DEMO_IDP_PORT",
  "the identity provider",
);
const mcp = await onPort(() => startDemoMcpServer({ port: mcpPort }), mcpPort, "DEMO_MCP_PORT", "the MCP server");
// Configured the way a user would: through the documented environment variables.
const { config } = loadConfig({
  // The MCP policy: admin_report only for admins (alice), not for bob.
  file: new URL("./demo-policy.yaml", import.meta.url).pathname,
  env: {
    MCP_HOST: "127.0.0.1",
    MCP_PORT: String(proxyPort),
    MCP_PUBLIC_URL: publicUrl,
    MCP_TARGET_URL: mcp.url,
    OIDC_DISCOVERY_URL: idp.issuer,
    OIDC_CLIENT_ID: "mcp-oidc-proxy-demo",
    OIDC_CLIENT_SECRET: "demo-secret-not-for-production",
    OIDC_POST_LOGOUT_REDIRECT_URL: `${publicUrl}/`,
    // MCP clients (Inspector, IDEs, desktop assistants) register and sign in at the proxy.
    MCP_AUTH_MODE: "proxy",
    LOG_FORMAT: "pretty",
    ...process.env,
  },
});
const proxy = await onPort(() => startProxy(config), proxyPort, "DEMO_PROXY_PORT", "the proxy");

process.stdout.write(`
  mcp-oidc-proxy demo is running.

  Open ${publicUrl}/ in a browser and sign in with any user name
  (try "alice": groups mcp-users, admins). Any password works.
  The MCP policy (dev/demo-policy.yaml) lets only admins call admin_report: alice sees
  and calls it, bob neither sees nor calls it. Each MCP request is audited on stdout.

  MCP endpoint (Streamable HTTP): ${publicUrl}/mcp
    Point an MCP client at it (e.g. npx @modelcontextprotocol/inspector): it registers
    at the proxy, you sign in at the provider and allow the client, then it calls tools.
  Identity provider:              ${idp.issuer}
  MCP server (unprotected):       ${mcp.url}
  Health / metrics:               ${publicUrl}/health  ${publicUrl}/metrics

  Ctrl-C stops everything.
`);

const stop = async () => {
  await proxy.shutdown();
  await mcp.close();
  await idp.close();
  process.exit(0);
};
process.once("SIGINT", () => void stop());
process.once("SIGTERM", () => void stop());
