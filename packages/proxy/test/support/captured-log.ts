// A proxy logger whose JSON lines a test reads, in the order written: for what the proxy
// logs (access lines, failures and the trace or request they name) and what it must never
// log (codes, tokens, secrets).
import { Writable } from "node:stream";
import winston from "winston";
import { createLogger, type Logger, type LogLevel } from "../../src/observability/logger.ts";

/** A logger at `level` whose JSON lines land in `lines`. */
export function capturingLogger(lines: string[], level: LogLevel): Logger {
  const logger = createLogger(level);
  logger.clear().add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    }),
  );
  return logger;
}
