// The audit trail of MCP requests: one JSON line per JSON-RPC request or notification a
// client sent (who, what, the decision and the rule that made it, what the MCP server
// answered and what the client got, the duration), and one per request the guard refused
// without reading (a body on another method than POST, a WebSocket upgrade), to its own sink
// (stdout or an append-only file) apart from the application log, so it can be shipped to a
// SIEM on its own. Arguments are never written; with a key configured, a keyed hash
// (HMAC-SHA256) of them lets equal calls be correlated without revealing them.
// A file that cannot be written (a failed write, or deleted: its lines would go nowhere) puts
// the trail out of order: MCP POSTs are refused (503) and the replica is not ready until the
// file's path can be opened again, tried at most once a second (docs/decisions/049).
import { createHmac } from "node:crypto";
import { closeSync, fstatSync, openSync, writeSync } from "node:fs";

export type AuditDecision = "allow" | "deny" | "mismatch" | "invalid";

export interface AuditRecord {
  time: string;
  request_id: string;
  user: string | null;
  provider: string | null;
  client_id: string | null;
  /** The HTTP method of a request refused unread (no JSON-RPC method known). */
  http_method?: string;
  method: string | null;
  name: string | null;
  jsonrpc_id: string | number | null;
  decision: AuditDecision;
  rule: string | null;
  reason: string;
  /** What the MCP server answered; null when nothing was forwarded (or it never answered). */
  upstream_status: number | null;
  /** What the client got: differs from upstream_status where the proxy refused the answer (502). */
  status: number | null;
  duration_ms: number;
  arguments_hmac?: string;
}

export interface AuditOptions {
  /** "stdout", or the path of a file appended to. */
  output: string;
  /** Key of the arguments' HMAC; no hash without one. */
  argumentsKey?: string | undefined;
  /** Told when the file turns unwritable (the problem) and writable again (undefined). */
  onProblem?: (problem: string | undefined) => void;
  now?: () => number;
}

/** Reopening an unwritable file is tried at most this often. */
const REOPEN_INTERVAL_MS = 1_000;

function errorText(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

export class AuditLog {
  /** The file's descriptor; undefined for stdout or while it cannot be opened. */
  #fd: number | undefined;
  readonly #path: string | undefined;
  readonly #key: string | undefined;
  readonly #onProblem: ((problem: string | undefined) => void) | undefined;
  readonly #now: () => number;
  #problem: string | undefined;
  #triedAt = 0;

  constructor(options: AuditOptions) {
    this.#path = options.output === "stdout" ? undefined : options.output;
    // Opened at once: an unwritable path fails the start (or the reload), not a request.
    this.#fd = this.#path === undefined ? undefined : openSync(this.#path, "a", 0o600);
    this.#key = options.argumentsKey;
    this.#onProblem = options.onProblem;
    this.#now = options.now ?? Date.now;
    this.#onProblem?.(undefined);
  }

  /** The keyed hash of a call's arguments, when a key is configured and there are arguments. */
  argumentsHash(params: unknown): string | undefined {
    const args = (params as { arguments?: unknown } | undefined)?.arguments;
    if (this.#key === undefined || args === undefined) return undefined;
    return createHmac("sha256", this.#key).update(JSON.stringify(args)).digest("base64url");
  }

  /**
   * Why the trail cannot be written now, or undefined: asked before an MCP POST is judged
   * (refused while there is one) and by the readiness probe. The file is checked (deleted?
   * one fstat, ~1.5 µs: here and not again for each line, the POST's lines follow within its
   * request) and, while out of order, reopened at its path when that was last tried a second ago.
   */
  problem(): string | undefined {
    if (this.#path === undefined) return undefined;
    if (this.#problem === undefined) this.#checkOpen();
    else if (this.#now() - this.#triedAt >= REOPEN_INTERVAL_MS) this.#reopen();
    return this.#problem;
  }

  /**
   * One line, written at once (a few microseconds to the page cache): the record is there
   * as soon as the request ended, and none is lost when the process stops. A line that
   * cannot be written puts the trail out of order; it never throws into the request that
   * is ending.
   */
  write(record: AuditRecord): void {
    const line = `${JSON.stringify(record)}\n`;
    if (this.#path === undefined) {
      process.stdout.write(line);
      return;
    }
    if (this.#fd === undefined) return;
    try {
      writeSync(this.#fd, line);
    } catch (error) {
      this.#fail(`cannot write ${this.#path} (${errorText(error)})`);
    }
  }

  /** Closes the file (after SIGHUP a new AuditLog reopens it: log rotation). */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** Out of order when the open file was deleted. */
  #checkOpen(): void {
    if (this.#fd === undefined) return;
    try {
      if (fstatSync(this.#fd).nlink === 0) this.#fail(`${this.#path} was deleted`);
    } catch (error) {
      this.#fail(`cannot check ${this.#path} (${errorText(error)})`);
    }
  }

  #fail(problem: string): void {
    this.close();
    this.#problem = problem;
    this.#triedAt = this.#now();
    this.#onProblem?.(problem);
  }

  #reopen(): void {
    this.#triedAt = this.#now();
    try {
      this.#fd = openSync(this.#path as string, "a", 0o600);
    } catch (error) {
      this.#problem = `cannot open ${this.#path} (${errorText(error)})`;
      return;
    }
    this.#problem = undefined;
    this.#onProblem?.(undefined);
  }
}
