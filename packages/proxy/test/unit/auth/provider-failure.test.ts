// How a provider call's failure is worded for the log (auth/provider-failure.ts), for the
// causes a loopback test cannot make for real: a DNS name that does not resolve, and a name
// with several addresses each refusing (undici's AggregateError). Refused ports, TLS and
// silence are tested for real in test/integration/{discovery,provider-call}-failures.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProviderUnreachable } from "../../../src/auth/provider-failure.ts";

const url = new URL("https://idp.example:8443/realms/x/protocol/openid-connect/token?client=ignored");

/** fetch's own failure: a TypeError "fetch failed" whose cause is the system error. */
function fetchFailed(cause: Error): TypeError {
  return new TypeError("fetch failed", { cause });
}

function systemError(message: string, fields: Record<string, unknown>): Error & Record<string, unknown> {
  return Object.assign(new Error(message), fields);
}

describe("provider call failures", () => {
  it("names a DNS name that is not found", () => {
    const cause = systemError("getaddrinfo ENOTFOUND idp.example", { code: "ENOTFOUND", hostname: "idp.example" });
    assert.equal(
      new ProviderUnreachable(url, fetchFailed(cause)).message,
      "https://idp.example:8443/realms/x/protocol/openid-connect/token: DNS name idp.example not found (ENOTFOUND)",
    );
  });

  it("names each address of a name that refused on all of them", () => {
    const refused = (address: string) =>
      systemError(`connect ECONNREFUSED ${address}:8443`, { code: "ECONNREFUSED", address, port: 8443 });
    const cause = Object.assign(new AggregateError([refused("::1"), refused("127.0.0.1")], ""), {
      code: "ECONNREFUSED",
    });
    assert.match(
      new ProviderUnreachable(url, fetchFailed(cause)).message,
      /: connection refused by ::1:8443, 127\.0\.0\.1:8443 \(ECONNREFUSED\)$/,
    );
  });

  it("keeps the query string out of the message, and an answer's own words as they are", () => {
    const message = new ProviderUnreachable(url, new Error("Expected 200 OK from the JSON Web Key Set HTTP response"))
      .message;
    assert.equal(
      message,
      "https://idp.example:8443/realms/x/protocol/openid-connect/token: Expected 200 OK from the JSON Web Key Set HTTP response",
    );
  });
});
