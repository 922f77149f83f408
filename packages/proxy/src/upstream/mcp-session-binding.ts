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
// A request to a message path, or to any path below one (the Python SDK mounts its handler
// as a Starlette prefix Mount: "/messages/x" reaches "/messages/"), must carry an address
// handed to its sender; any other (another user's, one never handed out, one spelled
// differently) gets the 404. Each long parameter of that address (a session id) is bound on
// its own too: a request elsewhere whose query carries one handed to somebody else gets the
// 404 as well, wherever it is aimed (a server may read it on other paths). A value handed to
// two owners is no session's and binds nobody.
// requestAdmission is the one answer for every request and upgrade: the Mcp-Session-Id it
// names, its address when that is a message path, and the session parameters of its query.
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
  /** A session parameter handed to two owners: no session's, it binds nobody. */
  shared?: true;
  /** Epoch milliseconds when the record expires unless extended. */
  until: number;
}

export const MCP_SESSION_HEADER = "mcp-session-id";
/**
 * Parameters of an endpoint address bound on their own from this length: a session id is an
 * unguessable value, a shorter one (a version, a flag) is taken for a setting any user sends.
 */
const SESSION_PARAMETER_LENGTH = 16;
/**
 * What one request may cost the store: past this many parameters of that length a query is
 * refused (no client sends so many), and paths are matched below message paths up to this
 * many segments deep (deeper message paths match exactly, as before).
 */
const SESSION_PARAMETER_LIMIT = 16;
const MESSAGE_PATH_DEPTH = 8;
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
  /**
   * The request goes to an HTTP+SSE message path (or below one): its client reads answers
   * only from its GET stream, so what the proxy refuses must be told in the POST's status.
   */
  legacy?: true;
}

/** The answers that need no store: shared, settled, never changed. */
const ADMITTED: Promise<SessionAdmission> = Promise.resolve(Object.freeze({ admitted: true }));
const NOT_ADMITTED: Promise<SessionAdmission> = Promise.resolve(Object.freeze({ admitted: false }));

function sameOwner(record: McpSessionOwner, owner: McpSessionOwner): boolean {
  return record.provider === owner.provider && record.user === owner.user && record.client === owner.client;
}

/**
 * The owner of sessions opened by anonymous requests (on public paths): every anonymous
 * request may use them, no identified one (an identified user's calls would otherwise land in
 * a session anyone can read on a public path), and an anonymous request may use no other
 * (docs/decisions/049). No user has an empty provider: this owner is nobody's.
 */
export const ANONYMOUS_OWNER: McpSessionOwner = Object.freeze({ provider: "", user: "" });

/** Who may use the MCP sessions a request opens or names: its user and, for bearer tokens, the OAuth client. */
export function sessionOwner(user: { provider: string; id: string }, clientId: string | undefined): McpSessionOwner {
  return clientId
    ? { provider: user.provider, user: user.id, client: clientId }
    : { provider: user.provider, user: user.id };
}

/** The body of the answer an MCP server (the official SDKs) gives to an unknown session id. */
export const SESSION_NOT_FOUND = JSON.stringify({
  jsonrpc: "2.0",
  error: { code: -32001, message: "Session not found" },
  id: null,
});

/** The answer an MCP server (the official SDKs) gives to an unknown session id. */
export function writeSessionNotFound(res: ServerResponse): void {
  res.writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(SESSION_NOT_FOUND) });
  res.end(SESSION_NOT_FOUND);
}

/** A request target as the binding reads it (legacyAddressOf). */
interface Address {
  /** The decoded path. */
  path: string;
  /** The path and the paths above it, segment-wise, longest first ("/" only for "/" itself). */
  ancestry: string[];
  /** What the address is bound under. */
  key: string;
  /** What each session parameter of the query would be bound under. */
  parameters: string[];
}

/**
 * An HTTP+SSE message address as an MCP server reads it: the path decoded (percent-encoding,
 * case, repeated and trailing slashes do not make another path: Express routes ignore case
 * and a trailing slash, Starlette decodes) and the decoded query parameters as a set (a
 * name spelled `%73essionId` is `sessionId`; order does not matter, a repeated or added
 * parameter makes another address). `key` names the address; `path` the message path.
 */
export function legacyAddressOf(url: string): Address | undefined {
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
  return {
    path,
    ancestry: ancestryOf(path),
    key: `legacy ${JSON.stringify([path, parameters])}`,
    parameters: parameters.filter(([, value]) => value.length >= SESSION_PARAMETER_LENGTH).map(parameterKey),
  };
}

/** What a session parameter of an endpoint address is bound under. */
function parameterKey(parameter: [string, string]): string {
  return `parameter ${JSON.stringify(parameter)}`;
}

/**
 * "/messages/x/y" → ["/messages/x/y", "/messages", "/messages/x"] (the path, then the paths
 * above it from the top, MESSAGE_PATH_DEPTH at most). "/" is left out above any other path:
 * a server announcing "/" as its message path would otherwise claim every path.
 */
function ancestryOf(path: string): string[] {
  const ancestry = [path];
  let at = 0;
  for (let depth = 0; depth < MESSAGE_PATH_DEPTH; depth++) {
    at = path.indexOf("/", at + 1);
    if (at === -1) break;
    ancestry.push(path.slice(0, at));
  }
  return ancestry;
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
  /** Paths the store said neither they nor a path above them were announced, for session.cache_ttl. */
  readonly #otherPaths: TtlCache<true>;
  /** Query parameters the store said were bound to no session (keys), for session.cache_ttl. */
  readonly #unboundParameters: TtlCache<true>;
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
    this.#unboundParameters = new TtlCache({ ttlMs: options.cacheTtlMs, maxEntries: CACHE_LIMIT, now: this.#now });
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
   * Whether a request (or an upgrade) to `url` naming the MCP session `requested` (its
   * Mcp-Session-Id, if any) may go on, and where its session lives. Every check applies,
   * whichever else does: the named session must be `owner`'s; a request to a message path (or
   * below one) must carry an HTTP+SSE address handed to `owner` (its session is then the one
   * pinned); and no session parameter of its query may be somebody else's.
   */
  async requestAdmission(
    url: string,
    requested: string | undefined,
    owner: McpSessionOwner,
  ): Promise<SessionAdmission> {
    const address = this.#addressOf(url);
    if (!address) return NOT_ADMITTED;
    const named = requested === undefined ? undefined : await this.#check(requested, owner);
    if (named && !named.admitted) return named;
    if (await this.#isMessagePath(address)) {
      const admission = await this.#check(address.key, owner);
      return admission.admitted ? { ...admission, legacy: true } : admission;
    }
    if (!(await this.#parametersAdmit(address.parameters, owner))) return NOT_ADMITTED;
    return named ?? ADMITTED;
  }

  /**
   * Whether a request is admitted from memory alone: it names no MCP session, has no session
   * parameter in its query, and goes to a path known to be no HTTP+SSE message path (nor below
   * one). Most requests are: they need no promise of their own.
   */
  admitsAtOnce(url: string, requested: string | undefined): boolean {
    if (requested !== undefined) return false;
    const address = this.#addressOf(url);
    return address !== undefined && address.parameters.length === 0 && this.#knownPlain(address);
  }

  /** Whether a request without Mcp-Session-Id is admitted (requestAdmission). */
  async admitsLegacy(url: string, owner: McpSessionOwner): Promise<boolean> {
    return (await this.requestAdmission(url, undefined, owner)).admitted;
  }

  /** The message path `address` is (or is below) as far as this replica knows. */
  #knownMessagePath(address: Address): string | undefined {
    for (const path of address.ancestry) if (this.#messagePaths.has(path)) return path;
    return undefined;
  }

  #knownPlain(address: Address): boolean {
    return this.#knownMessagePath(address) === undefined && this.#otherPaths.get(address.path) === true;
  }

  /** False when a session parameter of the query is bound to somebody else (and not shared). */
  async #parametersAdmit(parameters: string[], owner: McpSessionOwner): Promise<boolean> {
    if (parameters.length > SESSION_PARAMETER_LIMIT) return false;
    const admitted = await Promise.all(parameters.map((parameter) => this.#parameterAdmits(parameter, owner)));
    return admitted.every(Boolean);
  }

  async #parameterAdmits(parameter: string, owner: McpSessionOwner): Promise<boolean> {
    const key = this.#key(parameter);
    if (this.#unboundParameters.get(key)) return true;
    const record = this.#cache.get(key) ?? (await this.#read(key));
    if (!record || record.until <= this.#now()) {
      this.#unboundParameters.set(key, true);
      return true;
    }
    return record.shared === true || sameOwner(record, owner);
  }

  /** legacyAddressOf, remembered for the request targets clients send again and again (bounded). */
  #addressOf(url: string): Address | undefined {
    return this.#addresses.get(url);
  }

  /**
   * Binds the address of an HTTP+SSE stream's `endpoint` event, before the client sees it:
   * given the stream's chunks until its first event is whole (resolves true then). Rejects
   * (the stream is cut) when that event does not come within FIRST_EVENT_LIMIT bytes.
   */
  beforeFirstEvent(
    owner: McpSessionOwner,
    pinTo?: string,
    options: { lenient?: boolean } = {},
  ): (chunk: Buffer) => Promise<boolean> {
    const first = new FirstEvent();
    return async (chunk) => {
      first.feed(chunk);
      if (first.tooLong) {
        // A Streamable HTTP stream (lenient: the GET named its session) may open with a long
        // replayed event; the HTTP+SSE stream opens with its short endpoint event.
        if (options.lenient) return true;
        throw new Error("an event stream's first event is too long to be read");
      }
      if (!first.read) return false;
      const address = first.endpoint === undefined ? undefined : legacyAddressOf(first.endpoint);
      if (!address) return true;
      await this.#guard(() => this.#store.set(this.#pathKey(address.path), "1", Math.ceil(this.#ttlMs / 1000)));
      this.#rememberPath(address.path);
      await this.bind(address.key, owner, pinTo);
      for (const parameter of address.parameters) await this.#bindParameter(parameter, owner);
      return true;
    };
  }

  /** A session parameter is its owner's; one already another's is shared (no session's). */
  async #bindParameter(parameter: string, owner: McpSessionOwner): Promise<void> {
    const key = this.#key(parameter);
    this.#unboundParameters.delete(key);
    const prior = this.#cache.get(key) ?? (await this.#read(key));
    if (prior && prior.until > this.#now() && (prior.shared || !sameOwner(prior, owner))) {
      await this.#write(key, { ...prior, shared: true, until: this.#now() + this.#ttlMs });
      return;
    }
    await this.bind(parameter, owner);
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
   * Whether `address` goes to a message path or below one. Message paths are remembered for
   * good on the replica (a handful per MCP server); the store's record, renewed with every
   * stream, tells the other replicas. Any other path is remembered as neither one nor below
   * one for session.cache_ttl, so a proxied request costs no store round trip: a path another
   * replica announced holds here within that time, the same delay any change to a session
   * (sign-out, revocation) has across replicas; 0 asks every time. A path this replica learns
   * is a message path holds at once for every path below it (the memory is asked first).
   */
  async #isMessagePath(address: Address): Promise<boolean> {
    if (this.#knownMessagePath(address) !== undefined) return true;
    if (this.#otherPaths.get(address.path)) return false;
    const announced = await Promise.all(
      address.ancestry.map((path) => this.#guard(() => this.#store.get(this.#pathKey(path)))),
    );
    const at = announced.findIndex((value) => value !== undefined);
    if (at === -1) {
      this.#otherPaths.set(address.path, true);
      return false;
    }
    this.#rememberPath(address.ancestry[at] as string);
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
