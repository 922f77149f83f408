// The audit trail of MCP requests: a JSON line per JSON-RPC request or notification a
// client sent (who, what, the decision and the rule that made it, what the MCP server
// answered and what the client got, the duration), written when it ended ("done") and, for
// one that is forwarded, also before ("admitted", docs/decisions/051), and one per request
// the guard refused without reading (a body on another method than POST, a WebSocket
// upgrade), to its own sink
// (stdout or an append-only file) apart from the application log, so it can be shipped to a
// SIEM on its own. Arguments are never written; with a key configured, a keyed hash
// (HMAC-SHA256) of them lets equal calls be correlated without revealing them.
// A file that cannot be written (a failed write, or deleted: its lines would go nowhere) puts
// the trail out of order: MCP POSTs are refused (503) and the replica is not ready until the
// file's path can be opened again and a line written to it, tried at most once a second
// (docs/decisions/049, 051). What a client chose (a name, a method, an id) is kept to a
// bounded length, so no request can write much more than its share (docs/decisions/051).
import { createHash, createHmac } from "node:crypto";
import { closeSync, fstatSync, openSync, writeSync } from "node:fs";

export type AuditDecision = "allow" | "deny" | "mismatch" | "invalid";

export interface AuditRecord {
  time: string;
  /**
   * "admitted": written before the request is forwarded (no statuses yet; a line that cannot
   * be written refuses the request, docs/decisions/051); "done": when the request ended.
   */
  stage: "admitted" | "done";
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
  /** subscriptions/listen: how many distinct URIs it names (`name` is the first), and their set's SHA-256. */
  uris?: number;
  uris_sha256?: string;
  /** The fields cut to their limit ("…" at their end), each with its length and hash before. */
  cut?: Record<string, CutText>;
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

/**
 * Longest text kept of a tool or prompt name or resource URI (docs/decisions/051): tool names
 * are 128 characters at most by the MCP schema's advice; URIs can be longer, a kilobyte holds
 * nearly all real ones.
 */
export const AUDIT_NAME_LIMIT = 1024;
/** Of the other texts a client chooses (method, string id, OAuth client id) and of the reason. */
export const AUDIT_FIELD_LIMIT = 256;

/** How a cut field was before it was cut: its length, and a short hash of the whole. */
export interface CutText {
  characters: number;
  sha256: string;
}

/**
 * A text cut to `limit` characters (ending "…") and what it was; a shorter one unchanged. What
 * it was goes in the line's `cut` field, which only the proxy writes: a marker inside the text
 * could be sent by a client as part of a name (a review of decision 051).
 */
export function bounded(value: string, limit: number): { text: string; cut?: CutText } {
  if (value.length <= limit) return { text: value };
  // Not half of a surrogate pair.
  const end = /[\ud800-\udbff]/.test(value.charAt(limit - 1)) ? limit - 1 : limit;
  const sha256 = createHash("sha256").update(value).digest("hex").slice(0, 16);
  return { text: `${value.slice(0, end)}…`, cut: { characters: value.length, sha256 } };
}

/** The record with every text a client chooses bounded (the rest is the proxy's or the IdP's). */
function boundedRecord(record: AuditRecord): AuditRecord {
  const cut: Record<string, CutText> = {};
  const bound = <T extends string | null>(field: string, value: T, limit: number): T => {
    if (value === null) return value;
    const result = bounded(value, limit);
    if (result.cut) cut[field] = result.cut;
    return result.text as T;
  };
  const id = record.jsonrpc_id;
  const out: AuditRecord = {
    ...record,
    client_id: bound("client_id", record.client_id, AUDIT_FIELD_LIMIT),
    method: bound("method", record.method, AUDIT_FIELD_LIMIT),
    name: bound("name", record.name, AUDIT_NAME_LIMIT),
    jsonrpc_id: typeof id === "string" ? bound("jsonrpc_id", id, AUDIT_FIELD_LIMIT) : id,
    reason: bound("reason", record.reason, AUDIT_FIELD_LIMIT),
  };
  return Object.keys(cut).length > 0 ? { ...out, cut } : out;
}

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
  /** A failed write left part of its line in the file: the next line starts on a new one. */
  #partial = false;

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
   * is ending. Returns whether the line was written (stdout: handed to it).
   */
  write(record: AuditRecord): boolean {
    const line = `${JSON.stringify(boundedRecord(record))}\n`;
    if (this.#path === undefined) {
      process.stdout.write(line);
      return true;
    }
    if (this.#fd === undefined) return false;
    try {
      this.#append(line);
      return true;
    } catch (error) {
      this.#fail(`cannot write ${this.#path} (${errorText(error)})`);
      return false;
    }
  }

  /** Closes the file (after SIGHUP a new AuditLog reopens it: log rotation). */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /**
   * The whole line or an error: a write may take only part of it (a nearly full disk, a file
   * size limit), and the rest is written after it; the error of the write that takes nothing.
   */
  #append(line: string): void {
    const bytes = Buffer.from(line);
    const fd = this.#fd as number;
    let offset = 0;
    if (this.#partial) {
      writeSync(fd, "\n");
      this.#partial = false;
    }
    try {
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      this.#partial = offset > 0;
      throw error;
    }
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

  /**
   * In order again only once a line is written (opening a file on a full disk succeeds):
   * the line that says the trail resumes, and after what gap. Else the file is let go again.
   */
  #reopen(): void {
    this.#triedAt = this.#now();
    const gap = this.#problem;
    try {
      this.#fd = openSync(this.#path as string, "a", 0o600);
    } catch (error) {
      this.#problem = `cannot open ${this.#path} (${errorText(error)})`;
      return;
    }
    try {
      this.#append(`${JSON.stringify({ time: new Date().toISOString(), event: "audit_resumed", gap })}\n`);
    } catch (error) {
      this.close();
      this.#problem = `cannot write ${this.#path} (${errorText(error)})`;
      return;
    }
    this.#problem = undefined;
    this.#onProblem?.(undefined);
  }
}
