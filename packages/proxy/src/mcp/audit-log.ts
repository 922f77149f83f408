// The audit trail of MCP requests: one JSON line per JSON-RPC request or notification a
// client sent (who, what, the decision and the rule that made it, the upstream status, the
// duration), to its own sink (stdout or an append-only file) apart from the application log,
// so it can be shipped to a SIEM on its own. Arguments are never written; with a key
// configured, a keyed hash (HMAC-SHA256) of them lets equal calls be correlated without
// revealing them.
import { createHmac } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";

export type AuditDecision = "allow" | "deny" | "mismatch" | "invalid";

export interface AuditRecord {
  time: string;
  request_id: string;
  user: string | null;
  provider: string | null;
  client_id: string | null;
  method: string | null;
  name: string | null;
  jsonrpc_id: string | number | null;
  decision: AuditDecision;
  rule: string | null;
  reason: string;
  upstream_status: number | null;
  duration_ms: number;
  arguments_hmac?: string;
}

export interface AuditOptions {
  /** "stdout", or the path of a file appended to. */
  output: string;
  /** Key of the arguments' HMAC; no hash without one. */
  argumentsKey?: string | undefined;
}

export class AuditLog {
  /** The file's descriptor; undefined for stdout. */
  #fd: number | undefined;
  readonly #key: string | undefined;

  constructor(options: AuditOptions) {
    // Opened at once: an unwritable path fails the start (or the reload), not a request.
    this.#fd = options.output === "stdout" ? undefined : openSync(options.output, "a", 0o600);
    this.#key = options.argumentsKey;
  }

  /** The keyed hash of a call's arguments, when a key is configured and there are arguments. */
  argumentsHash(params: unknown): string | undefined {
    const args = (params as { arguments?: unknown } | undefined)?.arguments;
    if (this.#key === undefined || args === undefined) return undefined;
    return createHmac("sha256", this.#key).update(JSON.stringify(args)).digest("base64url");
  }

  /**
   * One line, written at once (a few microseconds to the page cache): the record is there
   * as soon as the request ended, and none is lost when the process stops.
   */
  write(record: AuditRecord): void {
    const line = `${JSON.stringify(record)}\n`;
    if (this.#fd === undefined) process.stdout.write(line);
    else writeSync(this.#fd, line);
  }

  /** Closes the file (after SIGHUP a new AuditLog reopens it: log rotation). */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
