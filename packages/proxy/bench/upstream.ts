// The trivial upstream of the benchmark: answers an MCP tools/list POST with a fixed JSON-RPC
// result, GET /sse with a stream of timestamped events and GET /sse?quiet with one event then
// silence, and GET /sse?tick with one event then one a second (the held streams of the
// streams rows: events relayed per second can be compared with what was sent). Run as its own process.
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
  // A stream that says hello and then stays quiet, as most MCP GET streams do.
  if (req.url === "/sse?quiet") {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: open\n\n");
    return;
  }
  if (req.url === "/sse?tick") {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: open\n\n");
    const timer = setInterval(() => res.write("data: tick\n\n"), 1000);
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
