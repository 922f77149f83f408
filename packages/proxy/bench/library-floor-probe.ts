// The probe library-floor.ts measures: a node:http server that loads the libraries named in
// FLOOR_PARTS and uses each as little as the proxy must (an undici pool and the global fetch, a
// Redis connection, an Express app, a zod schema, a winston logger, prom-client's default
// metrics…), then collects start-up's garbage as the proxy does and prints "ready". What it
// then holds is the least any program built on those libraries holds: the proxy's floor.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { collectStartupGarbage } from "../src/startup-garbage.ts";

const parts = new Set((process.env.FLOOR_PARTS ?? "").split(",").filter(Boolean));
const answer = (_req: IncomingMessage, res: ServerResponse) => res.end("{}");

async function listen(): Promise<number> {
  const server = createServer(answer).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return (server.address() as AddressInfo).port;
}

/** A CommonJS package imported from the bundle: its exports are the namespace's default. */
function commonJs<T extends object>(namespace: T): T {
  return (namespace as { default?: T }).default ?? namespace;
}

const uses: Record<string, (upstream: string) => Promise<unknown>> = {
  async undici(upstream) {
    const undici = commonJs(await import("undici"));
    undici.install();
    const pool = new undici.Pool(upstream, { connections: 4 });
    await (await pool.request({ path: "/", method: "GET" })).body.text();
    return (await fetch(upstream)).text();
  },
  async redis() {
    const { createClient } = commonJs(await import("@redis/client"));
    const client = createClient({ url: process.env.FLOOR_REDIS_URL ?? "redis://127.0.0.1:6379" });
    await client.connect();
    return client.set("floor", "1");
  },
  async express() {
    const express = (await import("express")).default;
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.get("/healthz", (_req, res) => res.send("ok"));
    return app;
  },
  async zod() {
    const { z } = await import("zod");
    const schema = z.object({ url: z.url(), port: z.number().int().default(8080), paths: z.array(z.string()) });
    return schema.parse({ url: "http://127.0.0.1/", paths: ["/mcp"] });
  },
  async winston() {
    const winston = (await import("winston")).default;
    const logger = winston.createLogger({
      format: winston.format.json(),
      transports: [new winston.transports.Console()],
    });
    return logger.info("floor");
  },
  async "prom-client"() {
    const prom = commonJs(await import("prom-client"));
    const registry = new prom.Registry();
    prom.collectDefaultMetrics({ register: registry });
    new prom.Histogram({ name: "floor_seconds", help: "floor", registers: [registry] }).observe(0.001);
    return registry.metrics();
  },
  async yaml() {
    return commonJs(await import("yaml")).parse("target:\n  url: http://127.0.0.1/\n");
  },
  async commander() {
    const { Command } = commonJs(await import("commander"));
    return new Command().option("--config <file>").parse([], { from: "user" });
  },
  async jose() {
    const jose = await import("jose");
    return jose.createRemoteJWKSet(new URL("http://127.0.0.1/jwks"));
  },
  async "openid-client"() {
    return import("openid-client");
  },
  async "express-session"() {
    await import("connect-redis");
    return import("express-session");
  },
};

const upstream = `http://127.0.0.1:${await listen()}`;
for (const part of parts) {
  const use = uses[part];
  if (!use) throw new Error(`no such part: ${part}`);
  await use(upstream);
}
await listen();
collectStartupGarbage();
process.stdout.write("ready\n");
