// A stand-in for HashiCorp Vault's HTTP API, for the secret-source tests: a real Vault (or
// OpenBao) server could not be built here from the module proxy (see the issue note and
// docs/decisions/007). It answers as Vault's documentation specifies: KV v2 reads
// ({data: {data, metadata}}), KV v1 reads ({data}), Kubernetes auth logins, 403 with
// {errors} for a bad token, and records what it was sent.
import http, { type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface VaultStandIn {
  url: string;
  requests: { method: string; path: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startVaultStandIn(options: {
  rootToken: string;
  /** KV v2 secrets under secret/ by name. */
  kv2: Record<string, Record<string, string>>;
  /** Kubernetes auth: the service account token and role it accepts. */
  kubernetes?: { jwt: string; role: string };
}): Promise<VaultStandIn> {
  const requests: VaultStandIn["requests"] = [];
  const loginToken = "s.kubernetes-login-token";
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://vault");
    requests.push({ method: req.method ?? "GET", path: url.pathname, headers: req.headers });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "POST" && url.pathname === "/v1/auth/kubernetes/login") {
      const { role, jwt } = JSON.parse(Buffer.concat(chunks).toString() || "{}") as { role?: string; jwt?: string };
      if (!options.kubernetes || role !== options.kubernetes.role || jwt !== options.kubernetes.jwt) {
        return answer(403, { errors: ["permission denied"] });
      }
      return answer(200, { auth: { client_token: loginToken, lease_duration: 3600, renewable: true } });
    }
    const token = req.headers["x-vault-token"];
    if (token !== options.rootToken && token !== loginToken) return answer(403, { errors: ["permission denied"] });
    const kv2 = /^\/v1\/secret\/data\/(.+)$/.exec(url.pathname)?.[1];
    if (req.method === "GET" && kv2 !== undefined) {
      const data = options.kv2[kv2];
      if (!data) return answer(404, { errors: [] });
      return answer(200, { data: { data, metadata: { version: 1, destroyed: false } } });
    }
    return answer(404, { errors: [] });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
