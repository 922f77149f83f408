// What the proxy logs when it cannot discover its provider, against a real oidc-provider, one
// behind a CA the proxy was not told of, and a port nobody listens on: a new user's trial saw
// only "fetch failed" for a refused issuer and an issuer mismatch that named neither issuer.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type DevIdentityProvider, startDevIdentityProvider } from "../../dev/identity-provider.ts";
import { UpstreamOidc } from "../../src/auth/upstream-oidc.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { OidcSettings } from "../../src/config/resolve.ts";
import { capturingLogger } from "../support/captured-log.ts";
import { makeLocalhostCertificates } from "../support/certificates.ts";
import { freePort } from "../support/ports.ts";

/** The first discovery attempt's warning, for a provider at `discoveryUrl`. */
async function discoveryWarning(discoveryUrl: string, env: Record<string, string> = {}): Promise<string> {
  const lines: string[] = [];
  const { config } = loadConfig({ env: { OIDC_DISCOVERY_URL: discoveryUrl, OIDC_CLIENT_ID: "proxy", ...env } });
  const upstream = new UpstreamOidc(config.oidc as OidcSettings, capturingLogger(lines, "warn"));
  upstream.start();
  await upstream.firstAttempt();
  upstream.stop();
  const warning = lines.map((line) => JSON.parse(line) as { message: string; error?: string }).at(0);
  assert.equal(warning?.message, "identity provider discovery failed; retrying", lines.join("\n"));
  return String(warning?.error);
}

describe("provider discovery failures", () => {
  let idp: DevIdentityProvider;
  before(async () => {
    idp = await startDevIdentityProvider({ clients: [] });
  });
  after(async () => {
    await idp.close();
  });

  it("names the refused address, not only fetch failed", async () => {
    const port = await freePort();
    const error = await discoveryWarning(`http://127.0.0.1:${port}`);
    assert.equal(
      error,
      `http://127.0.0.1:${port}/.well-known/openid-configuration: connection refused by 127.0.0.1:${port} (ECONNREFUSED)`,
    );
  });

  it("names a certificate the proxy does not trust, and the setting that trusts its CA", async () => {
    const certificates = makeLocalhostCertificates();
    const tlsIdp = await startDevIdentityProvider({
      clients: [],
      host: "localhost",
      tls: { key: certificates.key, cert: certificates.cert },
    });
    try {
      const error = await discoveryWarning(tlsIdp.issuer);
      const { port } = new URL(tlsIdp.issuer);
      assert.match(
        error,
        new RegExp(
          `^${tlsIdp.issuer}/\\.well-known/openid-configuration: TLS certificate of localhost:${port} not accepted: `,
        ),
      );
      assert.match(error, /oidc\.ca_file/);
    } finally {
      await tlsIdp.close();
    }
  });

  it("names the expected and the declared issuer when they differ", async () => {
    // The provider declares http://127.0.0.1:<port>; asked as localhost, it is another issuer.
    const asked = idp.issuer.replace("127.0.0.1", "localhost");
    const error = await discoveryWarning(asked);
    assert.ok(error.includes(`expected ${asked}`), error);
    assert.ok(error.includes(`the provider declares "${idp.issuer}"`), error);
  });
});
