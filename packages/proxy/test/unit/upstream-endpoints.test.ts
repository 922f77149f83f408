// The upstream endpoints: target.urls as several endpoints, target.discovery dns re-resolved
// with a stand-in resolver (replicas come and go), choice among usable endpoints.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { configSchema } from "../../src/config/schema.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { UpstreamEndpoints } from "../../src/upstream/endpoints.ts";

const logger = createLogger("error", "json");

function endpointsFor(target: Record<string, unknown>, resolve?: (host: string) => Promise<string[]>) {
  const config = configSchema.parse({ target: { health_path: "", ...target } });
  const metrics = createMetrics({ countSessions: () => Promise.resolve(0) });
  return new UpstreamEndpoints({ target: config.target, metrics, logger, ...(resolve ? { resolve } : {}) });
}

describe("upstream endpoints", () => {
  it("target.url alone is the one endpoint, and pins nothing", async () => {
    const upstream = endpointsFor({ url: "http://127.0.0.1:3001/mcp" });
    assert.equal(upstream.pinsSessions, false);
    assert.deepEqual(
      upstream.list().map((e) => e.key),
      ["http://127.0.0.1:3001/mcp"],
    );
    await upstream.close();
  });

  it("target.urls: each request without a session takes the next endpoint when loads are equal", async () => {
    const upstream = endpointsFor({
      urls: ["http://127.0.0.1:3001", "http://127.0.0.1:3002", "http://127.0.0.1:3003"],
    });
    assert.equal(upstream.pinsSessions, true);
    const picked = Array.from({ length: 6 }, () => upstream.pick()?.key);
    assert.deepEqual(new Set(picked).size, 3);
    await upstream.close();
  });

  it("the least loaded endpoint is chosen, and one whose circuit is open is left out", async () => {
    const upstream = endpointsFor({ urls: ["http://127.0.0.1:3001", "http://127.0.0.1:3002"] });
    const [a, b] = upstream.list() as [
      NonNullable<ReturnType<typeof upstream.pick>>,
      NonNullable<ReturnType<typeof upstream.pick>>,
    ];
    a.inFlight = 3;
    assert.equal(upstream.pick(), b);
    assert.equal(upstream.pick(), b);
    for (let i = 0; i < 5; i++) b.breaker.recordFailure();
    assert.equal(upstream.pick(), a);
    assert.equal(upstream.owner(b.key), undefined, "a session pinned to a failing endpoint has no endpoint");
    assert.equal(upstream.owner(a.key), a);
    await upstream.close();
  });

  it("discovery dns: every address is an endpoint; re-resolution adds and drops them, a failed lookup keeps them", async () => {
    let answer: string[] | Error = ["10.0.0.1", "10.0.0.2"];
    const asked: string[] = [];
    const upstream = endpointsFor(
      { url: "http://mcp.team.svc.cluster.local:8080/mcp", discovery: "dns", dns_refresh_interval: "1h" },
      async (host) => {
        asked.push(host);
        if (answer instanceof Error) throw answer;
        return answer;
      },
    );
    assert.equal(upstream.pinsSessions, true);
    await upstream.start();
    assert.deepEqual(asked, ["mcp.team.svc.cluster.local"]);
    assert.deepEqual(
      upstream.list().map((e) => e.key),
      ["http://10.0.0.1:8080/mcp", "http://10.0.0.2:8080/mcp"],
    );
    const first = upstream.owner("http://10.0.0.1:8080/mcp");
    assert.equal(first?.host, "mcp.team.svc.cluster.local:8080", "the name is still sent as Host");

    answer = ["10.0.0.2", "fd00::3"];
    await upstream.refresh();
    assert.deepEqual(
      upstream.list().map((e) => e.key),
      ["http://10.0.0.2:8080/mcp", "http://[fd00::3]:8080/mcp"],
    );
    assert.equal(upstream.owner("http://10.0.0.1:8080/mcp"), undefined, "a vanished pod owns no session any more");

    answer = new Error("SERVFAIL");
    await upstream.refresh();
    assert.equal(upstream.list().length, 2, "a failed lookup changes nothing");
    await upstream.close();
  });
});
