// fetch toward the identity provider, for discovery, token, refresh and userinfo calls
// (openid-client) and JWKS (jose) alike. With oidc.ca_file it trusts that CA bundle besides
// the system's (a company Keycloak behind an internal CA). A call that gets no answer rejects
// with a ProviderUnreachable naming why (refused, DNS, TLS, timeout), not fetch's bare
// "fetch failed": the one place every provider call's failure is worded (provider-failure.ts).
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { Agent, fetch as undiciFetch } from "undici";
import { ProviderUnreachable } from "./provider-failure.ts";

export type ProviderFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** fetch with oidc.ca_file's CA bundle trusted, or the platform's fetch without one. */
function transportFor(caFile: string | undefined): ProviderFetch {
  if (!caFile) return (url, init) => fetch(url, init);
  const ca = [...rootCertificates, readFileSync(caFile, "utf8")];
  const dispatcher = new Agent({ connect: { ca } });
  return (url, init) =>
    undiciFetch(url, { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher }) as unknown as Promise<Response>;
}

export function providerFetch(caFile: string | undefined): ProviderFetch {
  const transport = transportFor(caFile);
  return (url, init) =>
    transport(url, init).catch((error: unknown) => {
      throw new ProviderUnreachable(new URL(url), error);
    });
}
