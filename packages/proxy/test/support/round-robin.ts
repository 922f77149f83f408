// A load balancer for tests: each request goes to the next proxy instance in turn, as a
// Kubernetes Service without session affinity may send it, so consecutive steps of one
// flow land on different instances. It records which instance answered which path.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RoundRobin {
  url: string;
  /** [instance index, method, path] of every request, in order. */
  log: [number, string, string][];
  close(): Promise<void>;
}

export async function startRoundRobin(port: number, targets: () => string[]): Promise<RoundRobin> {
  let next = 0;
  const log: [number, string, string][] = [];
  const server = http.createServer((req, res) => {
    const all = targets();
    const index = next++ % all.length;
    const target = new URL(req.url ?? "/", all[index]);
    log.push([index, req.method ?? "GET", target.pathname]);
    const upstream = http.request(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    log,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
