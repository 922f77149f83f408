// Event streams (SSE) relayed to clients: told not to be buffered by anything in between,
// and kept alive with ": ping" comments when idle, so load balancers (60 s) and HTTP
// clients (undici: 300 s) do not cut a quiet but live stream. A ping is written only at an
// event boundary, never inside an event the upstream is still sending.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from "node:http";

export function isEventStream(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): boolean {
  const type = headers["content-type"];
  return typeof type === "string" && type.toLowerCase().startsWith("text/event-stream");
}

/** Headers for the client side of a stream: no buffering in nginx, no caching, no transforms. */
export function markUnbuffered(headers: OutgoingHttpHeaders): void {
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

/** Writes a ping when the stream it keeps alive is idle and at an event boundary. */
function ping(keepAlive: KeepAlive): void {
  keepAlive.ping();
}

/**
 * Pings a response whenever nothing was relayed for `intervalMs`; its owner stops it when the
 * response closes. One Timeout per stream, refreshed (not re-created) per relayed chunk, and
 * no closure: an open stream's keep-alive is this object and its timer.
 */
export class KeepAlive {
  readonly #res: ServerResponse;
  readonly #timer: NodeJS.Timeout;
  #atBoundary = true;

  constructor(res: ServerResponse, intervalMs: number) {
    this.#res = res;
    this.#timer = setTimeout(ping, intervalMs, this);
    this.#timer.unref();
  }

  /** Called for every chunk relayed from the upstream. */
  relayed(chunk: Buffer): void {
    this.#atBoundary = endsAtEventBoundary(chunk);
    this.#timer.refresh();
  }

  ping(): void {
    const res = this.#res;
    if (this.#atBoundary && !res.writableEnded && !res.destroyed) res.write(PING);
    this.#timer.refresh();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
