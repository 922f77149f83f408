// An MCP client that signs in the way real ones do: the official SDK's OAuth support
// (discovery from the 401, dynamic registration, PKCE, token exchange) with an in-memory
// OAuthClientProvider. The person's part, signing in at the authorization URL, is done by
// the scripted browser.
import { type OAuthClientProvider, UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { TestBrowser } from "./browser.ts";

/** Where the client says the browser should come back to; nothing listens there. */
export const CLIENT_REDIRECT = "http://127.0.0.1:33418/callback";

export class InMemoryOAuthClient implements OAuthClientProvider {
  client?: OAuthClientInformationMixed;
  savedTokens?: OAuthTokens;
  verifier = "";
  authorizationUrl?: URL;

  get redirectUrl() {
    return CLIENT_REDIRECT;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "integration-test MCP client",
      redirect_uris: [CLIENT_REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }

  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.savedTokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.savedTokens = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/** What answers the authorization URL as a person: the scripted browser, or Chromium (chromium.ts). */
export interface SignsIn {
  /** Follows `url`, signing `user` in and approving, until the browser is sent to `stopAt`: where it landed. */
  signIn(url: string, user: string, stopAt: string): Promise<{ url: string; text: string }>;
}

/**
 * Connects to `mcpUrl` as `user`: the first attempt is refused (401) and yields an
 * authorization URL; the browser signs in there; the code finishes the flow; the second
 * attempt connects with the token.
 */
export async function connectWithOAuth(
  mcpUrl: string,
  user: string,
  oauth = new InMemoryOAuthClient(),
  browser: SignsIn = new TestBrowser(),
) {
  const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: oauth });
  await new Client({ name: "oauth-test", version: "1.0.0" }).connect(first).then(
    () => {
      throw new Error("connected without signing in");
    },
    (error: Error) => {
      if (!(error instanceof UnauthorizedError)) throw error;
    },
  );
  if (!oauth.authorizationUrl) throw new Error("the client was never sent to authorize");
  const landing = await browser.signIn(oauth.authorizationUrl.href, user, String(oauth.redirectUrl));
  const code = new URL(landing.url).searchParams.get("code");
  if (!code) throw new Error(`no authorization code: ${landing.url} ${landing.text.slice(0, 200)}`);
  await first.finishAuth(code);
  const client = new Client({ name: "oauth-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: oauth });
  await client.connect(transport);
  return { client, oauth };
}

/** An MCP initialize request as a hand-written client sends it (JSON and event streams accepted), with `headers` besides. */
export function initializeRequest(headers: Record<string, string> = {}) {
  return {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "curl", version: "1" } },
    }),
  };
}

/** An MCP initialize sent with a bearer token; the status tells whether the proxy let it through. */
export function initializeWithToken(url: string, token: string): Promise<Response> {
  return fetch(url, initializeRequest({ authorization: `Bearer ${token}` }));
}

/** The status of a JSON-RPC request sent with a bearer token inside an MCP session (the body is discarded). */
export async function statusInSession(url: string, token: string, sessionId: string, method: string): Promise<number> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-session-id": sessionId,
      "mcp-protocol-version": "2025-06-18",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method }),
  });
  await response.body?.cancel();
  return response.status;
}
