// deployments/monitoring: promtool accepts the scrape config and rules and proves every
// alert fires; every metric the alerts and the Grafana dashboard use is one the proxy
// really exports (read from a running proxy's /metrics).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { startDemoMcpServer } from "../../dev/mcp-server.ts";
import { loadConfig } from "../../src/config/load.ts";
import { startProxy } from "../../src/proxy-server.ts";

const DIR = path.resolve(import.meta.dirname, "../../../../deployments/monitoring");
const promtool = (...args: string[]) => execFileSync("promtool", args, { cwd: DIR, encoding: "utf8" });

/** mcp_proxy_* series names an expression uses, histogram suffixes folded into the metric. */
function proxyMetricsIn(text: string): Set<string> {
  return new Set([...text.matchAll(/\bmcp_proxy_[a-z_]+/g)].map(([name]) => name.replace(/_(bucket|sum|count)$/, "")));
}

describe("monitoring", () => {
  it("has a valid scrape config and rules, and every alert fires in its unit test", () => {
    assert.match(promtool("check", "config", "prometheus.yaml"), /SUCCESS/);
    assert.match(promtool("check", "rules", "alerts.yaml"), /SUCCESS: 7 rules found/);
    assert.match(promtool("test", "rules", "alerts.test.yaml"), /SUCCESS/);
  });

  it("keeps the seed's HighErrorRate and BackendDown expressions", () => {
    const rules = readFileSync(path.join(DIR, "alerts.yaml"), "utf8");
    assert.match(rules, /expr: rate\(mcp_proxy_requests_total\{status=~"5\.\."\}\[5m\]\) > 0\.05\n\s+for: 5m/);
    // The unlabeled series is the seed's: one replica of several down is BackendEndpointDown.
    assert.match(rules, /expr: mcp_proxy_backend_up == 0\n\s+for: 1m/);
  });

  it("uses only metrics the proxy exports, in the dashboard and the alerts", async () => {
    const dashboard = JSON.parse(readFileSync(path.join(DIR, "grafana-dashboard.json"), "utf8")) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(" | ");
    for (const seedPanel of [
      "request rate",
      "response time",
      "error rate",
      "active sessions",
      "backend availability",
    ]) {
      assert.ok(titles.includes(seedPanel), `panel "${seedPanel}"`);
    }
    const used = proxyMetricsIn(
      [
        ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
        readFileSync(path.join(DIR, "alerts.yaml"), "utf8"),
      ].join("\n"),
    );
    assert.ok(used.size >= 7);

    const mcp = await startDemoMcpServer();
    const proxy = await startProxy(
      loadConfig({
        env: { MCP_HOST: "127.0.0.1", MCP_PORT: "0", MCP_TARGET_URL: mcp.url, AUTH_MODE: "bypass", LOG_LEVEL: "error" },
      }).config,
    );
    try {
      await (await fetch(`${proxy.url}/mcp`, { method: "POST", body: "{}" })).body?.cancel();
      const exported = await (await fetch(`${proxy.url}/metrics`)).text();
      for (const name of used) assert.match(exported, new RegExp(`^# TYPE ${name} `, "m"), `${name} is exported`);
    } finally {
      await proxy.shutdown();
      await mcp.close();
    }
  });
});
