// fetch toward the identity provider. With oidc.ca_file it trusts that CA bundle besides the
// system's (a company Keycloak behind an internal CA); used for discovery, token and
// refresh calls (openid-client) and JWKS (jose) alike.
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { Agent, fetch as undiciFetch } from "undici";

export type ProviderFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

export function providerFetch(caFile: string | undefined): ProviderFetch | undefined {
  if (!caFile) return undefined;
  const ca = [...rootCertificates, readFileSync(caFile, "utf8")];
  const dispatcher = new Agent({ connect: { ca } });
  return (url, init) =>
    undiciFetch(url, { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher }) as unknown as Promise<Response>;
}
