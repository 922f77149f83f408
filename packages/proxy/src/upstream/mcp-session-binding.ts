// Which user (and OAuth client) each upstream MCP session belongs to. The MCP server hands
// out an Mcp-Session-Id in its answer to initialize; whoever holds that id could otherwise
// run tools inside someone else's session, or end it with DELETE. The record lives in the
// session store (memory or Redis), so every replica enforces it, keyed by a hash of the id
// (the id is a bearer value, never stored in the clear). It expires with the session TTL and
// is extended while in use. Anyone but the owner gets the 404 an MCP server gives for an
// unknown session, which tells MCP clients to initialize again (MCP spec, "Session Management").
// The older HTTP+SSE transport names its session in the stream's first event (`endpoint`,
// `/messages?sessionId=…` from the TypeScript SDK, `/messages/?session_id=…` from Python's):
// the proxy binds the whole address that event hands out (its path and every decoded query
// parameter), not one parameter name it guesses, and remembers the path as a message path;
// that event is read whole before the client sees any of it, however the upstream splits it.
// A request to a message path must carry an address handed to its sender; any other
// (another user's, one never handed out, one spelled differently) gets the 404.
// With several upstream endpoints the record also names the endpoint that handed the id out
// (it alone holds the session in memory): every replica sends the session's requests there.
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import { createParser } from "eventsource-parser";
import { BoundedMemo } from "../bounded-memo.ts";
import { ProxyError } from "../errors.ts";
import type { KeyValueStore } from "../session/key-value.ts";
import { TtlCache } from "../ttl-cache.ts";

/** Who may use a session: the user (issuer + subject) and, for bearer tokens, the client. */
export interface McpSessionOwner {
  provider: string;
  user: string;
  client?: string;
}

/** The stored record; `endpoint` pins the session to the upstream endpoint that created it. */
export interface McpSessionRecord extends McpSessionOwner {
  endpoint?: string;
  /** Epoch milliseconds when the record expires unless extended. */
  until: number;
}

export const MCP_SESSION_HEADER = "mcp-session-id";
const CACHE_LIMIT = 10_000;
const PATH_LIMIT = 1_000;
/** Sessions this replica counts for mcp_proxy_upstream_sessions (past it, the count restarts). */
const COUNT_LIMIT = 100_000;

/** Request targets whose HTTP+SSE address is remembered; longer ones are parsed each time. */
const ADDRESSES = { maxEntries: 1_000, maxKeyLength: 256 };

/** Whether a session may be used, and where it lives. */
export interface SessionAdmission {
  admitted: boolean;
  /** The endpoint the session is pinned to, when it is. */
  endpoint?: string;
  /** What the record is bound under (the session id, or an HTTP+SSE address): to release it. */
  bound?: string;
}

/** The answers that need no store: shared, settled, never changed. */
const ADMITTED: Promise<SessionAdmission> = Promise.resolve(Object.freeze({ admitted: true }));
const NOT_ADMITTED: Promise<SessionAdmission> = Promise.resolve(Object.freeze({ admitted: false }));

function sameOwner(record: McpSessionOwner, owner: McpSessionOwner): boolean {
  return record.provider === owner.provider && record.user === owner.user && record.client === owner.client;
}

/** The answer an MCP server (the official SDKs) gives to an unknown session id. */
export function writeSessionNotFound(res: ServerResponse): void {
  const body = JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null });
  res.writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * An HTTP+SSE message address as an MCP server reads it: the path decoded (percent-encoding,
 * case, repeated and trailing slashes do not make another path: Express routes ignore case
 * and a trailing slash, Starlette decodes) and the decoded query parameters as a set (a
 * name spelled `%73essionId` is `sessionId`; order does not matter, a repeated or added
 * parameter makes another address). `key` names the address; `path` the message path.
 */
export function legacyAddressOf(url: string): { path: string; key: string } | undefined {
  // A request target is a path: "//host/x" is that path, never a URL naming another host.
  const parsed = url.startsWith("/") ? URL.parse(`http://request${url}`) : URL.parse(url, "http://request/");
  if (!parsed) return undefined;
  let path = parsed.pathname;
  try {
    path = decodeURIComponent(path);
  } catch {
    // Not valid percent-encoding: no server decodes it either; the raw text is the path.
  }
  path = path
    .toLowerCase()
    .replace(/\/+/g, "/")
    .replace(/(.)\/$/, "$1");
  const parameters = [...parsed.searchParams].sort(([a, x], [b, y]) => (a === b ? compare(x, y) : compare(a, b)));
  return { path, key: `legacy ${JSON.stringify([path, parameters])}` };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The address (`data`) of the `endpoint` event the HTTP+SSE transport opens its stream with. */
export function endpointOf(chunk: Buffer): string | undefined {
  const reader = new FirstEvent();
  reader.feed(chunk);
  return reader.endpoint;
}

/** A stream's opening bytes read for its first event past this size: the stream is cut (fail closed). */
const FIRST_EVENT_LIMIT = 64 * 1024;

/**
 * Reads a stream's opening chunks until its first event is whole: an upstream may send the
 * `endpoint` event in several writes, or comments before it. `endpoint` is its address (the
 * first endpoint event of what was read) once `read`.
 */
class FirstEvent {
  read = false;
  endpoint: string | undefined;
  #size = 0;
  readonly #decoder = new TextDecoder();
  readonly #parser = createParser({
    onEvent: (event) => {
      this.read = true;
      if (this.endpoint === undefined && event.event === "endpoint") this.endpoint = event.data.trim();
    },
  });

  feed(chunk: Buffer): void {
    this.#size += chunk.length;
    this.#parser.feed(this.#decoder.decode(chunk, { stream: true }));
  }

  get tooLong(): boolean {
    return !this.read && this.#size > FIRST_EVENT_LIMIT;
  }
}

export class McpSessionBinding {
  readonly #store: KeyValueStore;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Records read lately on this replica: a busy session costs no store round trip per request. */
  readonly #cache: TtlCache<McpSessionRecord>;
  /** HTTP+SSE message paths seen in `endpoint` events (here or, via the store, elsewhere). */
  readonly #messagePaths = new Set<string>();
  /** Paths the store said no endpoint event announced, remembered as long as a session is. */
  readonly #otherPaths: TtlCache<true>;
  /** Addresses of request targets (pure: legacyAddressOf's result), so the hot path parses each once. */
  readonly #addresses = new BoundedMemo(legacyAddressOf, ADDRESSES);
  /** Sessions pinned through this replica: key → endpoint and expiry (for the metric only). */
  readonly #pinned = new Map<string, { endpoint: string; until: number }>();

  constructor(options: { store: KeyValueStore; ttlMs: number; cacheTtlMs: number; now?: () => number }) {
    this.#store = options.store;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#cache = new TtlCache({ ttlMs: options.cacheTtlMs, maxEntries: CACHE_LIMIT, now: this.#now });
    this.#otherPaths = new TtlCache({ ttlMs: options.cacheTtlMs, maxEntries: CACHE_LIMIT, now: this.#now });
  }

  /** True when `sessionId` was created by `owner`; extends the record when it is half used up. */
  async admits(sessionId: string, owner: McpSessionOwner): Promise<boolean> {
    return (await this.#check(sessionId, owner)).admitted;
  }

  /** As admits, with the endpoint the session is pinned to. */
  admission(sessionId: string, owner: McpSessionOwner): Promise<SessionAdmission> {
    return this.#check(sessionId, owner);
  }

  /**
   * For a request without Mcp-Session-Id: true unless it goes to an HTTP+SSE message path
   * (one an `endpoint` event announced, on any replica) with an address not handed to `owner`.
   */
  async admitsLegacy(url: string, owner: McpSessionOwner): Promise<boolean> {
    return (await this.legacyAdmission(url, owner)).admitted;
  }

  /**
   * As admitsLegacy, with the endpoint the HTTP+SSE session is pinned to. Most requests go to
   * a path known not to be a message path: answered from memory, with no promise of its own.
   */
  legacyAdmission(url: string, owner: McpSessionOwner): Promise<SessionAdmission> {
    const address = this.#addressOf(url);
    if (!address) return NOT_ADMITTED;
    if (this.#knownPlain(address.path)) return ADMITTED;
    return this.#legacyCheck(address, owner);
  }

  /**
   * Whether a request without Mcp-Session-Id is admitted from memory alone: it goes to a path
   * known not to be an HTTP+SSE message path (as legacyAdmission answers it without the store).
   */
  admitsLegacyAtOnce(url: string): boolean {
    const address = this.#addressOf(url);
    return address !== undefined && this.#knownPlain(address.path);
  }

  #knownPlain(path: string): boolean {
    return !this.#messagePaths.has(path) && this.#otherPaths.get(path) === true;
  }

  async #legacyCheck(address: { path: string; key: string }, owner: McpSessionOwner): Promise<SessionAdmission> {
    if (!(await this.#isMessagePath(address.path))) return { admitted: true };
    return this.#check(address.key, owner);
  }

  /** legacyAddressOf, remembered for the request targets clients send again and again (bounded). */
  #addressOf(url: string): { path: string; key: string } | undefined {
    return this.#addresses.get(url);
  }

  /**
   * Binds the address of an HTTP+SSE stream's `endpoint` event, before the client sees it:
   * given the stream's chunks until its first event is whole (resolves true then). Rejects
   * (the stream is cut) when that event does not come within FIRST_EVENT_LIMIT bytes.
   */
  beforeFirstEvent(owner: McpSessionOwner, pinTo?: string): (chunk: Buffer) => Promise<boolean> {
    const first = new FirstEvent();
    return async (chunk) => {
      first.feed(chunk);
      if (first.tooLong) throw new Error("an event stream's first event is too long to be read");
      if (!first.read) return false;
      const address = first.endpoint === undefined ? undefined : legacyAddressOf(first.endpoint);
      if (!address) return true;
      await this.#guard(() => this.#store.set(this.#pathKey(address.path), "1", Math.ceil(this.#ttlMs / 1000)));
      this.#rememberPath(address.path);
      await this.bind(address.key, owner, pinTo);
      return true;
    };
  }

  async bind(sessionId: string, owner: McpSessionOwner, endpoint?: string): Promise<void> {
    const record: McpSessionRecord = {
      provider: owner.provider,
      user: owner.user,
      ...(owner.client !== undefined ? { client: owner.client } : {}),
      ...(endpoint !== undefined ? { endpoint } : {}),
      until: this.#now() + this.#ttlMs,
    };
    const key = this.#key(sessionId);
    await this.#write(key, record);
    if (endpoint !== undefined) {
      if (this.#pinned.size >= COUNT_LIMIT) this.#pinned.clear();
      this.#pinned.set(key, { endpoint, until: record.until });
    }
  }

  async release(sessionId: string): Promise<void> {
    const key = this.#key(sessionId);
    this.#cache.delete(key);
    this.#pinned.delete(key);
    await this.#guard(() => this.#store.delete(key));
  }

  /** Sessions pinned through this replica and not yet ended or expired, by endpoint. */
  pinnedCounts(): Map<string, number> {
    const now = this.#now();
    const counts = new Map<string, number>();
    for (const [key, { endpoint, until }] of this.#pinned) {
      if (until <= now) this.#pinned.delete(key);
      else counts.set(endpoint, (counts.get(endpoint) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * What to do once the MCP server answered a request of `owner`: bind the session id it
   * handed out (initialize), forget one it ended (DELETE) or no longer knows (404). Most
   * answers need neither: then undefined, at once, so the answer is relayed without waiting
   * for a promise (and without pausing the upstream connection meanwhile).
   */
  afterResponse(
    owner: McpSessionOwner,
    method: string | undefined,
    requested: string | undefined,
    endpoint?: string,
  ): (status: number, headers: IncomingHttpHeaders) => Promise<void> | undefined {
    return (status, headers) => {
      const issued = headers[MCP_SESSION_HEADER];
      if (typeof issued === "string" && issued !== requested && status < 300) return this.bind(issued, owner, endpoint);
      if (requested !== undefined && (status === 404 || (method === "DELETE" && status < 300)))
        return this.release(requested);
      return undefined;
    };
  }

  async #check(sessionId: string, owner: McpSessionOwner): Promise<SessionAdmission> {
    const key = this.#key(sessionId);
    const now = this.#now();
    const cached = this.#cache.get(key);
    const fresh = cached !== undefined;
    const record = cached ?? (await this.#read(key));
    if (!record || record.until <= now) return { admitted: false };
    if (!sameOwner(record, owner)) return { admitted: false };
    if (record.until - now < this.#ttlMs / 2) {
      const until = now + this.#ttlMs;
      await this.#write(key, { ...record, until });
      const pinned = this.#pinned.get(key);
      if (pinned) pinned.until = until;
    } else if (!fresh) this.#cache.set(key, record);
    return {
      admitted: true,
      bound: sessionId,
      ...(record.endpoint !== undefined ? { endpoint: record.endpoint } : {}),
    };
  }

  /**
   * Message paths are remembered for good on the replica (a handful per MCP server); the
   * store's record, renewed with every stream, tells the other replicas. Any other path is
   * remembered as not one for session.cache_ttl, so a proxied request costs no store round
   * trip: a path another replica announced holds here within that time, the same delay any
   * change to a session (sign-out, revocation) has across replicas; 0 asks every time.
   */
  async #isMessagePath(path: string): Promise<boolean> {
    if (this.#messagePaths.has(path)) return true;
    if (this.#otherPaths.get(path)) return false;
    if ((await this.#guard(() => this.#store.get(this.#pathKey(path)))) === undefined) {
      this.#otherPaths.set(path, true);
      return false;
    }
    this.#rememberPath(path);
    return true;
  }

  #rememberPath(path: string): void {
    if (this.#messagePaths.size >= PATH_LIMIT) this.#messagePaths.clear();
    this.#messagePaths.add(path);
    this.#otherPaths.delete(path);
  }

  #pathKey(path: string): string {
    return `mcp-legacy-path:${createHash("sha256").update(path).digest("base64url")}`;
  }

  #key(sessionId: string): string {
    return `mcp-session:${createHash("sha256").update(sessionId).digest("base64url")}`;
  }

  async #read(key: string): Promise<McpSessionRecord | undefined> {
    const raw = await this.#guard(() => this.#store.get(key));
    return raw === undefined ? undefined : (JSON.parse(raw) as McpSessionRecord);
  }

  async #write(key: string, record: McpSessionRecord): Promise<void> {
    await this.#guard(() => this.#store.set(key, JSON.stringify(record), Math.ceil(this.#ttlMs / 1000)));
    this.#cache.set(key, record);
  }

  /** Fail closed: without the store no session can be told apart from a stolen one. */
  async #guard<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new ProxyError("INTERNAL_ERROR", 503, "The session store is unavailable; try again shortly", {
        cause: error,
      });
    }
  }
}
