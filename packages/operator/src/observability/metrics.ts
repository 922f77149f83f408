// The operator's metrics under controller-runtime's names, so the dashboards and alerts
// written for Go operators work unchanged.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ControllerObserver } from "../controller/controller.ts";
import type { WorkQueue } from "../runtime/work-queue.ts";

const CONTROLLER = "mcpoidcproxy";

export function createOperatorMetrics(queue: () => WorkQueue | undefined, leading: () => boolean) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const reconcileTotal = new Counter({
    name: "controller_runtime_reconcile_total",
    help: "Total number of reconciliations per controller",
    labelNames: ["controller", "result"],
    registers: [registry],
  });
  const reconcileErrors = new Counter({
    name: "controller_runtime_reconcile_errors_total",
    help: "Total number of reconciliation errors per controller",
    labelNames: ["controller"],
    registers: [registry],
  });
  const reconcileTerminal = new Counter({
    name: "controller_runtime_terminal_reconcile_errors_total",
    help: "Total number of terminal reconciliation errors per controller",
    labelNames: ["controller"],
    registers: [registry],
  });
  const reconcileTime = new Histogram({
    name: "controller_runtime_reconcile_time_seconds",
    help: "Length of time per reconciliation per controller",
    labelNames: ["controller"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: "workqueue_depth",
    help: "Current depth of workqueue",
    labelNames: ["name", "controller"],
    registers: [registry],
    collect() {
      this.set({ name: CONTROLLER, controller: CONTROLLER }, queue()?.depth ?? 0);
    },
  });
  new Gauge({
    name: "leader_election_master_status",
    help: "1 while this process is the leader",
    labelNames: ["name"],
    registers: [registry],
    collect() {
      this.set({ name: "mcp-oidc-operator" }, leading() ? 1 : 0);
    },
  });
  const observer: ControllerObserver = {
    reconciled(result, seconds) {
      const label = result === "terminal" ? "error" : result;
      reconcileTotal.inc({ controller: CONTROLLER, result: label });
      if (result === "error" || result === "terminal") reconcileErrors.inc({ controller: CONTROLLER });
      if (result === "terminal") reconcileTerminal.inc({ controller: CONTROLLER });
      reconcileTime.observe({ controller: CONTROLLER }, seconds);
    },
  };
  return { registry, observer };
}
