// Dynamic client registration is open to anyone on the network, so nothing in a registration
// may make the proxy connect somewhere. oidc-provider fetches a sector_identifier_uri while
// it registers (its own fetch, outside the guard of client ID metadata documents): a
// registration naming https://127.0.0.1:<port>/ made the proxy open a connection there
// (server-side request forgery). A listener on 127.0.0.1 that counts connections must see none.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { CLIENT_REDIRECT } from "../support/mcp-oauth-client.ts";
import { type Stack, startStack } from "../support/stack.ts";

describe("registration fields that would make the authorization server fetch", () => {
  let stack: Stack;
  let base: string;
  let listener: net.Server;
  let port: number;
  let connections = 0;

  before(async () => {
    stack = await startStack({ env: { MCP_AUTH_MODE: "proxy" } });
    base = `http://127.0.0.1:${stack.ports[0]}`;
    listener = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    listener.listen(0, "127.0.0.1");
    await once(listener, "listening");
    port = (listener.address() as net.AddressInfo).port;
  });
  after(async () => {
    listener.close();
    await stack.close();
  });

  /** Connections accepted since the last call: one of our own, queued last and awaited, so none are missed. */
  async function connectionsSoFar(): Promise<number> {
    const accepted = once(listener, "connection");
    net.connect(port, "127.0.0.1").on("error", () => undefined);
    await accepted;
    const seen = connections - 1;
    connections = 0;
    return seen;
  }

  const register = (fields: Record<string, unknown>) =>
    fetch(`${base}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [CLIENT_REDIRECT], token_endpoint_auth_method: "none", ...fields }),
    });

  it("SSRF through sector_identifier_uri: refused with 400 invalid_client_metadata, no connection made", async () => {
    for (const fields of [
      { sector_identifier_uri: `https://127.0.0.1:${port}/s` },
      { sector_identifier_uri: `https://localhost:${port}/s` },
      { sector_identifier_uri: `https://localhost:${port}/s`, subject_type: "pairwise" },
    ]) {
      const response = await register(fields);
      assert.equal(response.status, 400, JSON.stringify(fields));
      const body = (await response.json()) as { error: string };
      assert.equal(body.error, "invalid_client_metadata");
    }
    assert.equal(await connectionsSoFar(), 0);
  });

  it("a client with a jwks_uri cannot make it fetched: private_key_jwt is refused, other uses fetch nothing", async () => {
    const keyed = await register({
      token_endpoint_auth_method: "private_key_jwt",
      jwks_uri: `https://127.0.0.1:${port}/j`,
    });
    assert.equal(keyed.status, 400);
    await keyed.body?.cancel();
    for (const fields of [
      { jwks_uri: `https://localhost:${port}/j` },
      { request_uris: [`https://localhost:${port}/r`] },
      { logo_uri: `https://localhost:${port}/l`, client_uri: `https://localhost:${port}/c` },
    ]) {
      const response = await register(fields);
      await response.body?.cancel();
    }
    assert.equal(await connectionsSoFar(), 0);
  });
});
