// A proxy's life after assembly: its listeners (the main one and, on its own port, the
// metrics one), reloads of what can change without a restart (SIGHUP), and the graceful
// shutdown that ends event streams and upgraded connections, drains open requests up to the deadline and then closes
// the parts in order.
import http, { type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import express from "express";
import { answerClientErrors } from "./client-errors.ts";
import type { Config } from "./config/schema.ts";
import { ConnectionDrain } from "./connection-drain.ts";
import { metricsHandler } from "./middleware/operations.ts";
import type { Logger } from "./observability/logger.ts";
import type { ProxyMetrics } from "./observability/metrics.ts";

/** An address the proxy cannot listen on (busy, not its own, not permitted): a startup error the command states in one line. */
export class ListenError extends Error {
  constructor(setting: string, host: string, port: number, cause: NodeJS.ErrnoException) {
    // Node's message is "listen EADDRINUSE: address already in use 127.0.0.1:8080".
    const reason = cause.message.replace(/^listen \w+: /, "").replace(` ${host}:${port}`, "");
    super(`cannot listen on ${host}:${port} (${setting}): ${reason}`, { cause });
    this.name = "ListenError";
  }
}

function listen(server: Server, port: number, host: string, setting: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => reject(new ListenError(setting, host, port, error));
    server.once("error", failed);
    server.listen(port, host, () => {
      server.off("error", failed);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Slow clients are cut: headers must arrive within headers_timeout, the whole request (body
 * included) within request_timeout (408). Once a request is in, its response (an event
 * stream) may last as long as it likes. Node checks at connectionsCheckingInterval, so that
 * follows the smallest timeout.
 */
function serverTimeouts(server: Config["server"]): http.ServerOptions {
  const smallest = Math.min(server.headers_timeout, server.request_timeout || server.headers_timeout);
  return {
    headersTimeout: server.headers_timeout,
    requestTimeout: server.request_timeout,
    keepAliveTimeout: 65_000,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(smallest / 4))),
  };
}

export interface Listeners {
  server: Server;
  drain: ConnectionDrain;
  /** Where the proxy listens, e.g. http://127.0.0.1:41234 */
  url: string;
  metricsServer: Server | undefined;
  metricsUrl: string | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** The metrics listener on its own port (metrics.port), when configured. */
async function startMetricsListener(config: Config, metrics: ProxyMetrics) {
  if (!config.metrics.enabled || config.metrics.port === 0) return { metricsServer: undefined, metricsUrl: undefined };
  const metricsApp = express();
  metricsApp.get(config.metrics.path, metricsHandler(metrics));
  const metricsServer = http.createServer(serverTimeouts(config.server), metricsApp);
  const address = await listen(metricsServer, config.metrics.port, config.server.host, "metrics.port");
  return { metricsServer, metricsUrl: `http://${address.address}:${address.port}${config.metrics.path}` };
}

export async function startListeners(
  config: Config,
  handler: Handler,
  onUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void,
  metrics: ProxyMetrics,
): Promise<Listeners> {
  const server = http.createServer(serverTimeouts(config.server), handler);
  // With a listener, Node leaves "Expect: 100-continue" to the handler: the proxy answers
  // 100 Continue only once the request is authenticated (a refused client never uploads).
  server.on("checkContinue", handler);
  answerClientErrors(server);
  const drain = new ConnectionDrain(server);
  server.on("upgrade", onUpgrade);
  const address = await listen(server, config.server.port, config.server.host, "server.port");
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  return { server, drain, url, ...(await startMetricsListener(config, metrics)) };
}

/**
 * What a section of the configuration does when a reload changes it; returns the names of
 * what it applied (a section may apply only some of its fields, e.g. logging.level).
 */
export type Reloadable = { [Section in keyof Config]?: (next: Config, current: Config) => string[] };

/**
 * reload(next): applies the sections in `reloadable` that changed, in their order, and names
 * the other sections that changed (they wait for a restart).
 */
export function createReload(initial: Config, reloadable: Reloadable) {
  let current = initial;
  return (next: Config): { applied: string[]; needRestart: string[] } => {
    const applied: string[] = [];
    const updated: Record<string, unknown> = { ...current };
    const changed = (section: keyof Config) => JSON.stringify(next[section]) !== JSON.stringify(current[section]);
    for (const [section, apply] of Object.entries(reloadable) as [
      keyof Config,
      NonNullable<Reloadable[keyof Config]>,
    ][]) {
      if (!changed(section)) continue;
      applied.push(...apply(next, current));
      updated[section] = next[section];
    }
    const needRestart = (Object.keys(next) as (keyof Config)[]).filter(
      (section) => !(section in reloadable) && changed(section),
    );
    current = updated as Config;
    return { applied, needRestart };
  };
}

export interface ShutdownParts {
  listeners: Listeners;
  /** Event streams open now: ended at once (they never end by themselves). */
  openStreams: Iterable<ServerResponse>;
  /** Upgraded connections (WebSockets) open now: ended at once too, for the same reason. */
  openUpgrades: Iterable<{ end(): void }>;
  timeoutMs: number;
  logger: Logger;
  /** Called in order once every connection is closed. */
  closers: (() => void | Promise<void>)[];
}

/** Stops accepting, ends streams and upgrades, waits for open requests up to the deadline, then closes the parts. */
export async function drainAndClose(parts: ShutdownParts): Promise<void> {
  const { server, drain, metricsServer } = parts.listeners;
  parts.logger.info("shutting down: no new connections, draining open requests");
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  metricsServer?.close();
  metricsServer?.closeAllConnections();
  // Clients of ended streams reconnect elsewhere (with Last-Event-ID), as WebSocket clients
  // do after their connection is cut (no clean end can be written into another protocol's
  // frames: forwarder.ts). Ordinary requests get until the deadline.
  for (const res of parts.openStreams) res.end();
  for (const upgrade of [...parts.openUpgrades]) upgrade.end();
  drain.closeIdle();
  const sweeper = setInterval(() => drain.closeIdle(), 50);
  const deadline = setTimeout(() => {
    parts.logger.warn("shutdown deadline reached; closing remaining connections", { open: drain.closeIdle() });
    drain.closeAll();
  }, parts.timeoutMs);
  deadline.unref();
  await closed;
  clearInterval(sweeper);
  clearTimeout(deadline);
  for (const close of parts.closers) await close();
  parts.logger.info("shutdown complete");
}
