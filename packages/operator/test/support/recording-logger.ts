// A logger for the operator's parts (controller, reconciler, leader elector) that keeps what
// they log, so a test asserts the lines a user would read. One shape for every test that
// used to write its own recorder.
export interface LogLine {
  level: "info" | "warn" | "error";
  message: string;
  meta?: Record<string, unknown>;
}

export interface RecordingLogger {
  lines: LogLine[];
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
  /** The lines of these levels as "level: message". */
  text(levels?: LogLine["level"][]): string[];
}

export function recordingLogger(): RecordingLogger {
  const lines: LogLine[] = [];
  const record = (level: LogLine["level"]) => (message: string, meta?: Record<string, unknown>) => {
    lines.push({ level, message, ...(meta ? { meta } : {}) });
  };
  return {
    lines,
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
    text: (levels = ["info", "warn", "error"]) =>
      lines.filter((line) => levels.includes(line.level)).map((line) => `${line.level}: ${line.message}`),
  };
}
