// The trivial upstream of the benchmark: answers an MCP tools/list POST with a fixed JSON-RPC
// result, and GET /sse with a stream of timestamped events. Run as its own process.
import http from "node:http";

const body = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  result: { tools: [{ name: "echo", inputSchema: { type: "object" } }] },
});
const server = http.createServer((req, res) => {
  if (req.url === "/sse") {
    res.writeHead(200, { "content-type": "text/event-stream" });
    const timer = setInterval(() => res.write(`data: ${process.hrtime.bigint()}\n\n`), 20);
    res.on("close", () => clearInterval(timer));
    return;
  }
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`);
});
