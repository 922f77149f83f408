// An MCP client speaking OAuth by hand against the proxy's authorization server, for the
// cases the SDK would never produce (wrong verifier, reused code, another resource) and for
// the benchmark. The person's part runs in the scripted browser.
import { createHash, randomBytes } from "node:crypto";
import { TestBrowser } from "./browser.ts";
import { CLIENT_REDIRECT } from "./mcp-oauth-client.ts";

type Json = Record<string, unknown>;

export class HandClient {
  readonly base: string;
  readonly browser = new TestBrowser();
  clientId = "";

  constructor(base: string) {
    this.base = base;
  }

  async register(metadata: Json = {}): Promise<Response> {
    const response = await fetch(`${this.base}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        client_name: "hand-written client",
        redirect_uris: [CLIENT_REDIRECT],
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"],
        ...metadata,
      }),
    });
    if (response.status === 201) this.clientId = ((await response.clone().json()) as { client_id: string }).client_id;
    return response;
  }

  /** Signs `user` in and returns the code (or the error) sent to the redirect URI. */
  async authorize(
    user: string,
    options: {
      verifier?: string;
      resource?: string;
      redirectUri?: string;
      consent?: "allow" | "deny";
      scope?: string;
    } = {},
  ): Promise<{ code?: string; error?: string; landing: string; verifier: string }> {
    const verifier = options.verifier ?? randomBytes(32).toString("base64url");
    const url = new URL(`${this.base}/oauth/authorize`);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: this.clientId,
      redirect_uri: options.redirectUri ?? CLIENT_REDIRECT,
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
      state: "state-123",
      scope: options.scope ?? "mcp:tools",
      resource: options.resource ?? this.base,
    }).toString();
    const redirect = options.redirectUri ?? CLIENT_REDIRECT;
    const page = await this.browser.signIn(url.href, user, redirect.split("?")[0], options.consent ?? "allow");
    const landing = new URL(page.url);
    const code = landing.searchParams.get("code") ?? undefined;
    const error = landing.searchParams.get("error") ?? undefined;
    if (landing.searchParams.get("state") !== "state-123" && (code || error)) throw new Error("state not echoed");
    return { ...(code ? { code } : {}), ...(error ? { error } : {}), landing: page.url, verifier };
  }

  token(params: Record<string, string>): Promise<Response> {
    return fetch(`${this.base}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: this.clientId, ...params }).toString(),
    });
  }

  exchange(code: string, verifier: string, extra: Record<string, string> = {}): Promise<Response> {
    return this.token({
      grant_type: "authorization_code",
      code,
      code_verifier: verifier,
      redirect_uri: CLIENT_REDIRECT,
      resource: this.base,
      ...extra,
    });
  }

  revoke(token: string): Promise<Response> {
    return fetch(`${this.base}/oauth/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: this.clientId, token }).toString(),
    });
  }
}
