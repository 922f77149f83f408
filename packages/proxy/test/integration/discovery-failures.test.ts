// What the proxy logs when it cannot discover its provider, against a real oidc-provider and a
// port nobody listens on: a new user's trial saw only "fetch failed" for a refused issuer and
// an issuer mismatch that named neither issuer.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type DevIdentityProvider, startDevIdentityProvider } from "../../dev/identity-provider.ts";
import { UpstreamOidc } from "../../src/auth/upstream-oidc.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { OidcSettings } from "../../src/config/resolve.ts";
import { capturingLogger } from "../support/captured-log.ts";
import { freePort } from "../support/ports.ts";

/** The first discovery attempt's warning, for a provider at `discoveryUrl`. */
async function discoveryWarning(discoveryUrl: string): Promise<string> {
  const lines: string[] = [];
  const { config } = loadConfig({ env: { OIDC_DISCOVERY_URL: discoveryUrl, OIDC_CLIENT_ID: "proxy" } });
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
    assert.match(error, new RegExp(`^fetch failed \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)$`));
  });

  it("names the expected and the declared issuer when they differ", async () => {
    // The provider declares http://127.0.0.1:<port>; asked as localhost, it is another issuer.
    const asked = idp.issuer.replace("127.0.0.1", "localhost");
    const error = await discoveryWarning(asked);
    assert.ok(error.includes(`expected ${asked}`), error);
    assert.ok(error.includes(`the provider declares "${idp.issuer}"`), error);
  });
});
