// Logger factory: winston, JSON by default, each line stamped with the request id (and trace
// id, with tracing on) of the request being served (from the request scope). Secrets never
// reach it: callers log names and outcomes, never tokens, cookies or client secrets.
import winston from "winston";
import { currentScope } from "./request-scope.ts";

export type LogLevel = "error" | "warn" | "info" | "debug";
export type Logger = winston.Logger;

const withRequestScope = winston.format((info) => {
  const scope = currentScope();
  if (scope) {
    info.request_id ??= scope.requestId;
    if (scope.userId) info.user_id ??= scope.userId;
    // With tracing on, a log line leads to its trace (and back).
    if (scope.trace) info.trace_id ??= scope.trace.traceId;
  }
  return info;
});

export function createLogger(level: LogLevel, format: "json" | "pretty" = "json"): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(
      withRequestScope(),
      winston.format.timestamp(),
      winston.format.errors({ stack: false }),
      format === "json" ? winston.format.json() : winston.format.simple(),
    ),
    defaultMeta: { service: "mcp-oidc-proxy" },
    transports: [new winston.transports.Console({ stderrLevels: [] })],
  });
}
