// Reads the JSON-RPC body of an MCP POST, bounded, so the policy can judge it: the bytes are
// kept and sent upstream unchanged. What is judged always comes from the body; on 2026-07-28
// requests the routing headers (Mcp-Method, Mcp-Name, MCP-Protocol-Version) must agree with
// it, and a request without them is judged by its body alone (docs/decisions/016).
import type { IncomingMessage } from "node:http";
import { BodyTooLarge, readBody } from "../request-body.ts";
import { keySpellingProblem } from "./key-spelling.ts";
import { callOf, JUDGED_METHODS, MCP_NAME_FIELDS, type McpCall } from "./policy.ts";

/** JSON-RPC error codes the proxy answers with itself. */
export const JSONRPC_PARSE_ERROR = -32700;
export const JSONRPC_INVALID_REQUEST = -32600;
/** MCP 2026-07-28: routing headers disagree with the body. */
export const JSONRPC_HEADER_MISMATCH = -32020;

const PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion";
/** Revisions that negotiate with initialize and carry no per-request envelope. */
const HANDSHAKE_VERSIONS = new Set(["2024-10-07", "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]);

/** Whether an MCP-Protocol-Version header names a revision without the initialize handshake. */
export function modernHeader(headerVersion: string | string[] | undefined): boolean {
  return typeof headerVersion === "string" && !HANDSHAKE_VERSIONS.has(headerVersion);
}

export type JsonRpcId = string | number | null;

/** One message of the body: a request or notification (method set) or a response to the server. */
export interface McpMessage {
  /** Absent for notifications (and responses have no method). */
  id: JsonRpcId | undefined;
  method: string | undefined;
  call: McpCall;
  params: unknown;
}

export interface McpBody {
  bytes: Buffer;
  batch: boolean;
  messages: McpMessage[];
  /** A 2026-07-28 (or later) request: per-request envelope or version header. */
  modern: boolean;
}

/** Why the proxy answers itself; nothing was forwarded. */
export class JsonRpcRejection extends Error {
  readonly status: number;
  readonly code: number;
  readonly id: JsonRpcId;
  readonly decision: "invalid" | "mismatch";
  /** The message refused, when it could be read (for the audit trail). */
  readonly subject: McpMessage | undefined;

  constructor(status: number, code: number, message: string, subject?: McpMessage, id?: JsonRpcId) {
    super(message);
    this.status = status;
    this.code = code;
    this.subject = subject;
    this.id = subject?.id ?? id ?? null;
    this.decision = code === JSONRPC_HEADER_MISMATCH ? "mismatch" : "invalid";
  }
}

/** The client went away while sending: nobody to answer. */
export class ClientGone extends Error {}

function tooLarge(limit: number): JsonRpcRejection {
  return new JsonRpcRejection(413, JSONRPC_INVALID_REQUEST, `The request body exceeds ${limit} bytes`);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parse(bytes: Buffer): unknown {
  try {
    // Fatal decoding: bytes that are not UTF-8 could be read otherwise by the MCP server.
    return JSON.parse(utf8.decode(bytes));
  } catch {
    throw new JsonRpcRejection(400, JSONRPC_PARSE_ERROR, "Parse error: the body is not JSON");
  }
}

function idOf(value: unknown): JsonRpcId | undefined {
  return typeof value === "string" || typeof value === "number" || value === null ? value : undefined;
}

function messageOf(value: unknown): McpMessage {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JsonRpcRejection(400, JSONRPC_INVALID_REQUEST, "Invalid request: a message is not an object");
  }
  const record = value as Record<string, unknown>;
  const id = "id" in record ? idOf(record.id) : undefined;
  const spelling = keySpellingProblem(record, typeof record.method === "string" && JUDGED_METHODS.has(record.method));
  if (spelling) throw new JsonRpcRejection(400, JSONRPC_INVALID_REQUEST, `Invalid request: ${spelling}`, undefined, id);
  if (typeof record.method === "string") {
    return { id, method: record.method, call: callOf(record.method, record.params), params: record.params };
  }
  if ("result" in record || "error" in record)
    return { id, method: undefined, call: { method: "" }, params: undefined };
  throw new JsonRpcRejection(400, JSONRPC_INVALID_REQUEST, "Invalid request: a message has no method", undefined, id);
}

/** A header's value, decoded from the `=?base64?…?=` form MCP uses for non-ASCII names. */
export function decodeHeaderValue(value: string): string | undefined {
  const sentinel = /^=\?base64\?(.*)\?=$/.exec(value);
  if (!sentinel) return value;
  const payload = sentinel[1] as string;
  const decoded = Buffer.from(payload, "base64");
  // Only the canonical encoding: anything else could decode to a name the header did not show.
  if (decoded.toString("base64") !== payload) return undefined;
  try {
    return utf8.decode(decoded);
  } catch {
    return undefined;
  }
}

function versionOf(params: unknown): unknown {
  const meta = (params as { _meta?: unknown } | undefined)?._meta;
  return typeof meta === "object" && meta !== null
    ? (meta as Record<string, unknown>)[PROTOCOL_VERSION_META]
    : undefined;
}

function mismatch(what: string, subject: McpMessage | undefined): JsonRpcRejection {
  return new JsonRpcRejection(400, JSONRPC_HEADER_MISMATCH, `Header mismatch: ${what}`, subject);
}

/** Refuses a body the 2026-07-28 routing headers disagree with (HeaderMismatch, HTTP 400). */
function checkHeaders(req: IncomingMessage, body: McpBody): void {
  const headerMethod = req.headers["mcp-method"];
  const headerName = req.headers["mcp-name"];
  const headerVersion = req.headers["mcp-protocol-version"];
  if (headerMethod === undefined && headerName === undefined) {
    if (typeof headerVersion === "string" && !body.batch) {
      const bodyVersion = versionOf(body.messages[0]?.params);
      if (bodyVersion !== undefined && bodyVersion !== headerVersion)
        throw mismatch("MCP-Protocol-Version differs from the body's protocol version", body.messages[0]);
    }
    return;
  }
  // Routing headers describe one message; a batch cannot agree with them.
  if (body.batch) throw mismatch("routing headers on a batch", undefined);
  const message = body.messages[0] as McpMessage;
  if (typeof headerVersion === "string") {
    const bodyVersion = versionOf(message.params);
    if (bodyVersion !== undefined && bodyVersion !== headerVersion)
      throw mismatch("MCP-Protocol-Version differs from the body's protocol version", message);
  }
  if (headerMethod !== undefined && headerMethod !== message.method)
    throw mismatch("Mcp-Method differs from the body's method", message);
  const field = message.method === undefined ? undefined : MCP_NAME_FIELDS[message.method];
  if (headerName !== undefined && field !== undefined) {
    const bodyName = (message.params as Record<string, unknown> | undefined)?.[field];
    const decoded = typeof headerName === "string" ? decodeHeaderValue(headerName) : undefined;
    if (decoded === undefined || decoded !== bodyName)
      throw mismatch(`Mcp-Name differs from the body's ${field}`, message);
  }
}

/** Whether the body's declared length is already past `limit` (refused unread). */
export function declaredOver(req: IncomingMessage, limit: number): boolean {
  return Number(req.headers["content-length"] ?? Number.NaN) > limit;
}

/** How much of a body is read: its bytes, and the messages of a batch (docs/decisions/051). */
export interface McpBodyLimits {
  bytes: number;
  batch: number;
}

/**
 * Reads and judges the shape of an MCP POST body. Throws JsonRpcRejection (nothing is
 * forwarded) or ClientGone.
 */
export async function readMcpBody(req: IncomingMessage, limits: McpBodyLimits): Promise<McpBody> {
  const limit = limits.bytes;
  // The whole body, or a 413 rejection as soon as it passes `limit` bytes (declared or sent).
  if (declaredOver(req, limit)) throw tooLarge(limit);
  let bytes: Buffer;
  try {
    bytes = await readBody(req, limit);
  } catch (error) {
    throw error instanceof BodyTooLarge ? tooLarge(limit) : new ClientGone();
  }
  const value = parse(bytes);
  const batch = Array.isArray(value);
  if (batch && value.length === 0)
    throw new JsonRpcRejection(400, JSONRPC_INVALID_REQUEST, "Invalid request: empty batch");
  // Each message of a batch is judged and gets its audit line: their number bounds what one
  // request costs and writes. Refused before any is read.
  if (batch && value.length > limits.batch)
    throw new JsonRpcRejection(
      400,
      JSONRPC_INVALID_REQUEST,
      `Invalid request: a batch of ${value.length} messages; at most ${limits.batch} are accepted`,
    );
  const messages = (batch ? value : [value]).map(messageOf);
  const modern =
    modernHeader(req.headers["mcp-protocol-version"]) ||
    messages.some((message) => versionOf(message.params) !== undefined);
  const body: McpBody = { bytes, batch, messages, modern };
  checkHeaders(req, body);
  return body;
}

/** A JSON-RPC error message. */
export function jsonRpcError(id: JsonRpcId, code: number, message: string, data?: unknown): Record<string, unknown> {
  return { jsonrpc: "2.0", id, error: { code, message, ...(data === undefined ? {} : { data }) } };
}
