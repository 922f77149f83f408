// `make run`: a complete local demo with embedded defaults. A development OpenID provider,
// a demo MCP server and the proxy (memory sessions) in one process, on fixed local ports.
import { loadConfig } from "../src/config/load.ts";
import { startProxy } from "../src/proxy-server.ts";
import { startDevIdentityProvider } from "./identity-provider.ts";
import { startDemoMcpServer } from "./mcp-server.ts";

const proxyPort = Number(process.env.DEMO_PROXY_PORT ?? 8080);
const idpPort = Number(process.env.DEMO_IDP_PORT ?? 9400);
const mcpPort = Number(process.env.DEMO_MCP_PORT ?? 3000);
const publicUrl = `http://localhost:${proxyPort}`;

const idp = await startDevIdentityProvider({
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
});
const mcp = await startDemoMcpServer({ port: mcpPort });
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
const proxy = await startProxy(config);

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
