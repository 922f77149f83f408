// A real OpenID provider for the demo and the tests: oidc-provider (by the author of
// openid-client) with its development sign-in page, which accepts any user name. Known
// users get the claims below; any other name becomes <name>@example.com in "mcp-users".
import { once } from "node:events";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { JWK } from "jose";
import Provider, { type ClientMetadata, type Configuration } from "oidc-provider";

export interface DevUser {
  email: string;
  name: string;
  groups: string[];
  email_verified?: boolean;
}

export const DEV_USERS: Record<string, DevUser> = {
  alice: { email: "alice@example.com", name: "Alice Example", groups: ["mcp-users", "admins"] },
  bob: { email: "bob@other.example", name: "Bob Other", groups: [] },
};

export interface DevIdentityProvider {
  issuer: string;
  provider: Provider;
  close(): Promise<void>;
}

export interface DevIdentityProviderOptions {
  port?: number;
  host?: string;
  clients: ClientMetadata[];
  /** Serve https with this key and certificate (PEM) instead of http. */
  tls?: { key: string; cert: string };
  /** Access token lifetime in seconds (short in refresh tests). */
  accessTokenTtl?: number;
  users?: Record<string, DevUser>;
  /** Private signing keys (JWKs); the first signs. Default: oidc-provider's development keys. */
  signingKeys?: JWK[];
  /**
   * Act as the authorization server of MCP clients too: dynamic client registration and
   * RFC 8707 resource indicators, with JWT access tokens for any resource carrying `scope`.
   */
  mcpResourceScope?: string;
  /**
   * Keep scope claims (e-mail, name, groups) out of the ID token: they are then only in the
   * userinfo response, as with providers that follow OpenID Connect Core §5.4 strictly.
   */
  claimsOnlyInUserinfo?: boolean;
  /** Never send email_verified (as Entra ID by default). */
  omitEmailVerified?: boolean;
}

export async function startDevIdentityProvider(options: DevIdentityProviderOptions): Promise<DevIdentityProvider> {
  const host = options.host ?? "127.0.0.1";
  const users = options.users ?? DEV_USERS;
  const server = options.tls ? https.createServer(options.tls) : http.createServer();
  // once() rejects on "error": a busy port fails the start instead of crashing the process.
  await once(server.listen(options.port ?? 0, host), "listening");
  const { port } = server.address() as AddressInfo;
  const issuer = `${options.tls ? "https" : "http"}://${host}:${port}`;

  const verifiedClaim = (user: DevUser) =>
    options.omitEmailVerified ? {} : { email_verified: user.email_verified ?? true };
  const configuration: Configuration = {
    clients: options.clients,
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name", "preferred_username", "groups"],
    },
    ...(options.mcpResourceScope
      ? { scopes: ["openid", "offline_access", "profile", "email", options.mcpResourceScope] }
      : {}),
    // Scope claims go into the ID token too, as most company providers do (unless the test
    // wants them in userinfo only: oidc-provider's own default).
    conformIdTokenClaims: options.claimsOnlyInUserinfo === true,
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      revocation: { enabled: true },
      ...(options.mcpResourceScope
        ? {
            registration: { enabled: true },
            resourceIndicators: {
              enabled: true,
              defaultResource: (_ctx: unknown, _client: unknown, oneOf?: readonly string[]) => oneOf?.[0],
              useGrantedResource: () => true,
              getResourceServerInfo: (_ctx: unknown, resource: string) => ({
                scope: options.mcpResourceScope as string,
                audience: resource,
                accessTokenTTL: 3600,
                accessTokenFormat: "jwt" as const,
                jwt: { sign: { alg: "RS256" as const } },
              }),
            },
          }
        : {}),
    },
    pkce: { required: () => true },
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      IdToken: 3600,
      RefreshToken: 86400,
      Session: 86400,
      Interaction: 600,
      Grant: 86400,
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    ...(options.signingKeys ? { jwks: { keys: options.signingKeys as never[] } } : {}),
    // Access tokens carry who the user is, as Keycloak's and Auth0's do with mappers/rules.
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== "AccessToken" || !token.accountId) return undefined;
      const user = users[token.accountId] ?? {
        email: `${token.accountId}@example.com`,
        name: token.accountId,
        groups: ["mcp-users"],
      };
      return { email: user.email, ...verifiedClaim(user), name: user.name, groups: user.groups };
    },
    cookies: { keys: ["dev-identity-provider-cookie-key-not-secret"] },
    async findAccount(_ctx, id) {
      const user = users[id] ?? { email: `${id}@example.com`, name: id, groups: ["mcp-users"] };
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: user.email,
            ...verifiedClaim(user),
            name: user.name,
            preferred_username: id,
            groups: user.groups,
          };
        },
      };
    },
  };
  const provider = new Provider(issuer, configuration);
  // The development sign-in page warns on every start; the demo and tests know what it is.
  provider.on("server_error", (_ctx, error) => process.stderr.write(`identity provider error: ${error.message}\n`));
  server.on("request", provider.callback());
  return {
    issuer,
    provider,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
