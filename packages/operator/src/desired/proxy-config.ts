// The proxy's configuration file rendered from a McpOidcProxy, in the proxy's own format
// (configs/config.example.yaml). Secrets are not in it: they reach the pod as environment
// variables from Secret references (deploymentFor in children.ts).
import { stringify } from "yaml";
import type { McpOidcProxy } from "../api/v1alpha1/mcp-oidc-proxy.ts";

export const PROXY_PORT = 8080;
/** Where the provider's CA bundle is mounted in the pod (spec.provider.caConfigMapRef). */
export const PROVIDER_CA_DIR = "/etc/mcp-oidc-proxy-ca";
export const PROVIDER_CA_FILE = `${PROVIDER_CA_DIR}/ca.crt`;
export const METRICS_PORT = 9090;

/** The upstream URL: as given, or the Service's cluster DNS name. */
export function upstreamUrl(cr: McpOidcProxy): string {
  const { upstream } = cr.spec;
  if (upstream.url) return upstream.url;
  const service = upstream.service as NonNullable<typeof upstream.service>;
  return `${service.scheme}://${service.name}.${cr.metadata.namespace}.svc:${service.port}`;
}

/** Where clients reach the proxy: the public URL, else the proxy's own Service. */
export function proxyUrl(cr: McpOidcProxy): string {
  return cr.spec.publicUrl ?? `http://${cr.metadata.name}.${cr.metadata.namespace}.svc`;
}

/**
 * The proxy's Service DNS names (server.allowed_hosts): the proxy answers a Host other than
 * its public URL's with 421, and in-cluster clients reach it by any of these. (Probes use the
 * pod IP on health paths, which answer any Host.)
 */
export function serviceHosts(cr: McpOidcProxy): string[] {
  const { name, namespace } = cr.metadata;
  return [name, `${name}.${namespace}`, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`];
}

export function proxyConfig(cr: McpOidcProxy): Record<string, unknown> {
  const { spec } = cr;
  const bypass = spec.authMode === "bypass";
  return {
    // Production refuses bypass mode; a bypass resource is a development setup by definition.
    environment: bypass ? "development" : "production",
    server: { host: "0.0.0.0", port: PROXY_PORT, public_url: proxyUrl(cr), allowed_hosts: serviceHosts(cr) },
    target: {
      url: upstreamUrl(cr),
      health_path: spec.upstream.healthPath,
      // Every pod behind a headless Service is an endpoint; MCP sessions stay on theirs.
      ...(spec.upstream.service?.headless ? { discovery: "dns" } : {}),
    },
    auth: { mode: spec.authMode },
    ...(spec.provider
      ? {
          oidc: {
            discovery_url: spec.provider.issuer,
            client_id: spec.provider.clientId,
            scopes: spec.provider.scopes,
            groups_claim: spec.provider.groupsClaim,
            ...(spec.provider.caConfigMapRef ? { ca_file: PROVIDER_CA_FILE } : {}),
          },
        }
      : {}),
    session: { store: spec.session.store, ttl: spec.session.ttl },
    ...(spec.session.redis?.url ? { redis: { url: spec.session.redis.url } } : {}),
    ...(spec.mcpAuth ? { mcp_auth: mcpAuthConfig(spec.mcpAuth) } : {}),
    ...(spec.access
      ? {
          access: {
            public_paths: spec.access.publicPaths,
            required_groups: spec.access.requiredGroups,
            allowed_email_domains: spec.access.allowedEmailDomains,
            allowed_users: spec.access.allowedUsers,
          },
        }
      : {}),
    ...(spec.mcpPolicy ? { mcp_policy: mcpPolicyConfig(spec.mcpPolicy) } : {}),
    metrics: { enabled: true, port: METRICS_PORT },
    logging: { level: spec.logLevel, format: "json" },
  };
}

function mcpAuthConfig(mcpAuth: NonNullable<McpOidcProxy["spec"]["mcpAuth"]>): Record<string, unknown> {
  const server = {
    ...(mcpAuth.accessTokenTtl ? { access_token_ttl: mcpAuth.accessTokenTtl } : {}),
    ...(mcpAuth.refreshTokenTtl ? { refresh_token_ttl: mcpAuth.refreshTokenTtl } : {}),
    ...(mcpAuth.preapprovedClients ? { preapproved_clients: mcpAuth.preapprovedClients } : {}),
  };
  return {
    mode: mcpAuth.mode,
    required_scopes: mcpAuth.requiredScopes,
    ...(mcpAuth.pathScopes ? { path_scopes: mcpAuth.pathScopes } : {}),
    ...(mcpAuth.mode === "proxy" && Object.keys(server).length > 0 ? { server } : {}),
  };
}

function mcpPolicyConfig(policy: NonNullable<McpOidcProxy["spec"]["mcpPolicy"]>): Record<string, unknown> {
  return {
    rules: policy.rules.map((rule) => ({
      ...(rule.name ? { name: rule.name } : {}),
      tools: rule.tools,
      resources: rule.resources,
      prompts: rule.prompts,
      // Only the conditions the rule sets: the proxy refuses an empty one.
      ...(rule.users ? { users: rule.users } : {}),
      ...(rule.groups ? { groups: rule.groups } : {}),
      ...(rule.emailDomains ? { email_domains: rule.emailDomains } : {}),
      ...(rule.clients ? { clients: rule.clients } : {}),
      ...(rule.scopes ? { scopes: rule.scopes } : {}),
    })),
    ...(policy.maxBodySize ? { max_body_size: policy.maxBodySize } : {}),
    ...(policy.audit ? { audit: { enabled: policy.audit.enabled, output: "stdout" } } : {}),
  };
}

export function renderProxyConfig(cr: McpOidcProxy): string {
  return stringify(proxyConfig(cr));
}
