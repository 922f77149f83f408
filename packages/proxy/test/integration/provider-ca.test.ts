// A provider behind a private CA (an internal company Keycloak): trusted only through
// oidc.ca_file, never by turning verification off.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { startProxy } from "../../src/proxy-server.ts";
import { TestBrowser } from "../support/browser.ts";
import { makeLocalhostCertificates, type TestCertificates } from "../support/certificates.ts";
import { type Stack, startStack } from "../support/stack.ts";

describe("provider behind a private CA", () => {
  let certificates: TestCertificates;
  let stack: Stack;
  before(async () => {
    certificates = makeLocalhostCertificates();
    stack = await startStack({
      idp: { tls: { key: certificates.key, cert: certificates.cert } },
      env: { OIDC_CA_FILE: certificates.caFile },
    });
  });
  after(() => stack.close());

  it("signs in over https when the CA is configured", async () => {
    assert.match(stack.idp.issuer, /^https:/);
    const browser = new TestBrowser({ ca: certificates.caPem });
    const page = await browser.signIn(`http://127.0.0.1:${stack.ports[0]}/`, "alice");
    assert.equal(page.status, 200);
    assert.match(page.text, /alice@example\.com/);
  });

  it("is not ready, and signs nobody in, without the CA", async () => {
    const { OIDC_CA_FILE: _, ...env } = stack.envFor(0);
    const untrusting = await startProxy(loadConfig({ env: { ...env, MCP_PORT: "0" } }).config);
    try {
      const ready = await fetch(`${untrusting.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(await ready.text(), /identity provider not discovered/);
      const page = await new TestBrowser({ ca: certificates.caPem }).navigate(`${untrusting.url}/`);
      assert.equal(page.status, 503);
      // A person's page load gets the short HTML error page.
      assert.match(page.text, /data-error-code="OIDC_ERROR"/);
    } finally {
      await untrusting.shutdown();
    }
  });
});
