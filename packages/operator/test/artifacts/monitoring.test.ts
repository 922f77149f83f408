// The operator alerts in deployments/monitoring/alerts.yaml use metrics the operator exports.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { createOperatorMetrics } from "../../src/observability/metrics.ts";

describe("operator alerts", () => {
  it("name only metrics the operator exports", async () => {
    const rules = readFileSync(
      path.resolve(import.meta.dirname, "../../../../deployments/monitoring/alerts.yaml"),
      "utf8",
    );
    const used = new Set(
      [...rules.matchAll(/\b(controller_runtime_[a-z_]+|workqueue_[a-z_]+|leader_election_[a-z_]+)/g)].map((m) => m[1]),
    );
    assert.ok(used.size >= 2);
    const exported = await createOperatorMetrics(
      () => undefined,
      () => true,
    ).registry.metrics();
    for (const name of used) assert.match(exported, new RegExp(`^# TYPE ${name} `, "m"), `${name} is exported`);
  });
});
