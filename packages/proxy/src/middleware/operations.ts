// Health and metrics endpoints. Mounted before everything else: probes need no session,
// no Origin check and stay out of the access log.
import express, { type Router } from "express";
import type { ProxyMetrics } from "../observability/metrics.ts";
import type { OwnedPaths } from "../own-paths.ts";
import type { BackendStatus } from "../upstream/health-probe.ts";

export interface OperationsState {
  version: string;
  startedAt: number;
  backendStatus: () => BackendStatus;
  /** Reasons the proxy cannot serve yet (provider not discovered, store down, shutting down). */
  notReadyReasons: () => Promise<string[]>;
}

const PATHS = { health: "/health", liveness: "/healthz", readiness: "/readyz" } as const;

/** Probe and scrape paths: they answer any Host and stay out of the access log. */
export function operationsPaths(metricsPath: string | undefined): OwnedPaths {
  return { exact: [...Object.values(PATHS), ...(metricsPath ? [metricsPath] : [])] };
}

export function operationsRouter(
  state: OperationsState,
  metrics: ProxyMetrics,
  metricsPath: string | undefined,
): Router {
  const router = express.Router();
  router.get(PATHS.health, async (_req, res) => {
    const reasons = await state.notReadyReasons();
    const backend = state.backendStatus();
    res.status(reasons.length === 0 ? 200 : 503).json({
      status: reasons.length > 0 ? "unhealthy" : backend === "unreachable" ? "degraded" : "healthy",
      version: state.version,
      uptime: Math.round((Date.now() - state.startedAt) / 1000),
      backend_status: backend,
      ...(reasons.length > 0 ? { reasons } : {}),
    });
  });
  router.get(PATHS.liveness, (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get(PATHS.readiness, async (_req, res) => {
    const reasons = await state.notReadyReasons();
    res
      .status(reasons.length === 0 ? 200 : 503)
      .json(reasons.length === 0 ? { status: "ready" } : { status: "not_ready", reasons });
  });
  if (metricsPath) router.get(metricsPath, metricsHandler(metrics));
  return router;
}

export function metricsHandler(metrics: ProxyMetrics): express.RequestHandler {
  return async (_req, res) => {
    res.setHeader("content-type", metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  };
}
