// The baseline: the least a Node proxy can do. node:http server + undici Pool, no framework,
// no auth. What the real proxy costs is measured against this, in the same run. Its pool opens
// as many connections as there are requests, as the proxy's does (endpoints.ts): the streams
// row holds thousands at once through it.
import http from "node:http";
import { Pool } from "undici";

const upstream = new Pool(`http://127.0.0.1:${process.argv[2]}`, { connections: null, pipelining: 1 });
const server = http.createServer(async (req, res) => {
  try {
    const { statusCode, headers, body } = await upstream.request({
      path: req.url ?? "/",
      method: (req.method ?? "GET") as "GET",
      headers: req.headers,
      body: req.method === "GET" || req.method === "HEAD" ? null : req,
    });
    res.writeHead(statusCode, headers as http.OutgoingHttpHeaders);
    for await (const chunk of body) res.write(chunk);
    res.end();
  } catch {
    res.writeHead(502).end();
  }
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[3] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`);
});
