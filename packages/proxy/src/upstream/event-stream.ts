// Event streams (SSE) relayed to clients: told not to be buffered by anything in between,
// and kept alive with ": ping" comments when idle, so load balancers (60 s) and HTTP
// clients (undici: 300 s) do not cut a quiet but live stream. A ping is written only at an
// event boundary, never inside an event the upstream is still sending.
import type { IncomingMessage, ServerResponse } from "node:http";

export function isEventStream(headers: IncomingMessage["headers"]): boolean {
  return (headers["content-type"] ?? "").toLowerCase().startsWith("text/event-stream");
}

/** Headers for the client side of a stream: no buffering in nginx, no caching, no transforms. */
export function markUnbuffered(headers: IncomingMessage["headers"]): void {
  headers["x-accel-buffering"] = "no";
  headers["cache-control"] = "no-cache, no-transform";
  delete headers["content-length"];
}

const PING = ": ping\n\n";

function endsAtEventBoundary(chunk: Buffer): boolean {
  const n = chunk.length;
  if (n >= 2 && chunk[n - 1] === 0x0a && chunk[n - 2] === 0x0a) return true; // \n\n
  if (n >= 2 && chunk[n - 1] === 0x0d && chunk[n - 2] === 0x0d) return true; // \r\r
  return n >= 4 && chunk[n - 1] === 0x0a && chunk[n - 2] === 0x0d && chunk[n - 3] === 0x0a; // \r\n\r\n
}

/** Starts pinging `res` while `upstream` is quiet; stops by itself when either side ends. */
export function keepStreamAlive(upstream: IncomingMessage, res: ServerResponse, intervalMs: number): void {
  if (intervalMs <= 0) return;
  let atBoundary = true;
  const timer = setTimeout(function ping() {
    if (atBoundary && !res.writableEnded && !res.destroyed) res.write(PING);
    timer.refresh();
  }, intervalMs);
  timer.unref();
  upstream.on("data", (chunk: Buffer) => {
    atBoundary = endsAtEventBoundary(chunk);
    timer.refresh();
  });
  const stop = () => clearTimeout(timer);
  upstream.once("close", stop);
  res.once("close", stop);
}
