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

/** Ticks per keep-alive interval: a stream is pinged after 4 idle ticks, idle for 3/4 to 1 interval. */
const TICKS_PER_INTERVAL = 4;

/**
 * One timer for every open stream of a forwarder, instead of a Timeout per stream: each tick
 * (a quarter of the interval) pings the streams that relayed nothing for the last four ticks.
 * A stream is then never silent for longer than the interval, and an idle one is pinged once
 * per interval, as with a timer of its own.
 */
export class StreamPinger {
  readonly #tickMs: number;
  readonly #streams = new Set<KeepAlive>();
  #timer: NodeJS.Timeout | undefined;
  /** Ticks so far: what a stream's last relay is stamped with. */
  tick = 0;

  constructor(intervalMs: number) {
    this.#tickMs = Math.max(1, Math.floor(intervalMs / TICKS_PER_INTERVAL));
  }

  add(stream: KeepAlive): void {
    this.#streams.add(stream);
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#ping(), this.#tickMs);
    this.#timer.unref();
  }

  delete(stream: KeepAlive): void {
    this.#streams.delete(stream);
    if (this.#streams.size > 0 || !this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #ping(): void {
    const tick = ++this.tick;
    for (const stream of this.#streams) {
      if (tick - stream.lastTick >= TICKS_PER_INTERVAL) stream.ping(tick);
    }
  }
}

/** One stream's keep-alive: when it last relayed, and whether that ended at an event boundary. */
export class KeepAlive {
  readonly #res: ServerResponse;
  readonly #pinger: StreamPinger;
  lastTick: number;
  #atBoundary = true;

  constructor(res: ServerResponse, pinger: StreamPinger) {
    this.#res = res;
    this.#pinger = pinger;
    this.lastTick = pinger.tick;
    pinger.add(this);
  }

  /** Called for every chunk relayed from the upstream. */
  relayed(chunk: Buffer): void {
    this.#atBoundary = endsAtEventBoundary(chunk);
    this.lastTick = this.#pinger.tick;
  }

  /** A ping goes out only between events, never inside one the upstream is still sending. */
  ping(tick: number): void {
    this.lastTick = tick;
    const res = this.#res;
    if (this.#atBoundary && !res.writableEnded && !res.destroyed) res.write(PING);
  }

  stop(): void {
    this.#pinger.delete(this);
  }
}
