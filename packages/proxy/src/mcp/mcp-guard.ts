// The MCP policy on the request path: reads an MCP POST's JSON-RPC body (bounded), refuses
// what is malformed or whose 2026-07-28 routing headers disagree with it, decides every
// request of it (McpPolicy.decide), answers denials itself (nothing reaches the MCP server),
// arranges list answers to be filtered, and records each request in the audit trail and the
// per-method metrics. Used only while rules exist or the audit trail is on; otherwise POSTs
// stay on the zero-copy path (docs/decisions/016-mcp-policy.md). Meanwhile a body on another
// method is refused, as upgrades are (upgrades.ts): what it cannot read must not pass unseen.
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { ProtectedResource } from "../auth/protected-resource.ts";
import { forbidden, ProxyError } from "../errors.ts";
import type { ProxyMetrics } from "../observability/metrics.ts";
import { mcpAttributes } from "../observability/tracing.ts";
import { expectsContinue, type Who } from "../upstream/forwarder.ts";
import type { AuditDecision, AuditLog, AuditRecord } from "./audit-log.ts";
import {
  ClientGone,
  declaredOver,
  type JsonRpcId,
  JsonRpcRejection,
  jsonRpcError,
  type McpBody,
  type McpMessage,
  modernHeader,
  readMcpBody,
} from "./jsonrpc-reader.ts";
import { LegacyStreams } from "./legacy-streams.ts";
import { filteredList, filterListAnswer } from "./list-filter.ts";
import { McpNameLabels } from "./name-labels.ts";
import type { McpCaller, McpDecision, McpPolicy } from "./policy.ts";
import { listEventFilter } from "./stream-filter.ts";

/** The JSON-RPC error code of a call the policy denies. */
export const JSONRPC_POLICY_DENIED = -32003;

const KNOWN_METHODS = new Set([
  "initialize",
  "ping",
  "server/discover",
  "subscriptions/listen",
  "tools/list",
  "tools/call",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "prompts/list",
  "prompts/get",
  "completion/complete",
  "logging/setLevel",
  "tasks/get",
  "tasks/result",
  "tasks/list",
  "tasks/cancel",
  "notifications/initialized",
  "notifications/cancelled",
  "notifications/progress",
  "notifications/roots/list_changed",
]);

export interface McpGuardDeps {
  policy: () => McpPolicy;
  audit: () => AuditLog | undefined;
  metrics: ProxyMetrics;
  maxBodyBytes: () => number;
  /** Most messages in one JSON-RPC batch (docs/decisions/051). */
  maxBatchSize: () => number;
  maxListBytes: () => number;
  /** For step-up challenges (bearer tokens): WWW-Authenticate as the 401s have it. */
  protectedResource: ProtectedResource | undefined;
}

interface Judged {
  message: McpMessage;
  decision: McpDecision;
}

/**
 * What the audit line and the metric keep of a message: its arguments only as their HMAC,
 * so a POST answered with a stream does not hold its parsed body until the stream ends.
 */
interface Recorded {
  id: McpMessage["id"];
  method: McpMessage["method"];
  call: McpMessage["call"];
  argumentsHmac: string | undefined;
}

interface RecordedJudged {
  message: Recorded;
  decision: McpDecision;
}

/** What the MCP server answered (null: nothing was forwarded) and what the client got (null: nothing yet). */
interface Statuses {
  upstream: number | null;
  answered: number | null;
}

/**
 * Whether the client reads no answer from its POST's body: it went to an HTTP+SSE message path
 * (the binding knows), or it does not accept an event stream, which every Streamable HTTP
 * client must (servers answer 406 otherwise): a 2024-11-05 client sends no such Accept, and
 * where the proxy keeps no binding (bypass mode, one endpoint) this is how it is told.
 */
function answersOnItsStream(req: IncomingMessage, legacy: boolean): boolean {
  return legacy || !(req.headers.accept ?? "").includes("text/event-stream");
}

/** Whether a request announces a body (a length above 0, or a chunked one). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
}

function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The fast 503 of an MCP POST while its audit lines cannot be written (docs/decisions/049, 051). */
function unrecordable(): ProxyError {
  return new ProxyError("INTERNAL_ERROR", 503, "The MCP audit trail cannot be written; try again shortly", {
    details: { reason: "audit_unwritable" },
  });
}

/**
 * What a subscriptions/listen subscribes to, for its audit line: `name` is its first URI, so
 * the line also counts them and hashes the set (sorted, distinct), and an investigator can
 * tell two listens apart and match one to the URIs a server log shows.
 */
function subscriptionsOf(uris: readonly string[]): Pick<AuditRecord, "uris" | "uris_sha256"> {
  const distinct = [...new Set(uris)].sort();
  return { uris: distinct.length, uris_sha256: createHash("sha256").update(distinct.join("\n")).digest("hex") };
}

export class McpGuard {
  readonly #deps: McpGuardDeps;
  readonly #names = new McpNameLabels();
  /** The HTTP+SSE streams relayed here, where denials of their message POSTs are sent. */
  readonly #legacyStreams = new LegacyStreams();
  /** Hands list names to #names: one function for every list filtered. */
  readonly #learn = (name: string): void => this.#names.learn(name);

  constructor(deps: McpGuardDeps) {
    this.#deps = deps;
  }

  /** True when POST bodies must be read: rules exist or the audit trail is on. */
  get enabled(): boolean {
    return this.#deps.policy().active || this.#deps.audit() !== undefined;
  }

  /**
   * A request body on any method but POST (PUT, PATCH, a GET or DELETE with a body): it would
   * reach the MCP server neither judged nor recorded (an MCP server reads a JSON-RPC body
   * whatever the method says), so it is refused (403) while the guard is enabled.
   */
  refuseUnjudgedBody(req: IncomingMessage, caller: McpCaller, requestId: string): void {
    if (req.method === "POST" || !hasBody(req)) return;
    this.#recordRefusal(requestId, caller, req.method ?? "", `a request body on ${req.method} (judged on POST only)`);
    throw forbidden("While an MCP policy or audit trail is configured, request bodies are accepted on POST only", {
      reason: "mcp_policy",
      method: req.method,
    });
  }

  /** An upgrade while the guard is enabled: its messages would pass unjudged (upgrades.ts). Recorded, then refused. */
  refuseUpgrade(caller: McpCaller, requestId: string): never {
    this.#recordRefusal(requestId, caller, "GET", "a WebSocket upgrade (its messages could not be judged)");
    throw forbidden("WebSocket upgrades are refused while an MCP policy or audit trail is configured", {
      reason: "mcp_policy",
    });
  }

  /**
   * Fail closed (docs/decisions/049): while the audit trail cannot be written, no MCP POST is
   * judged or forwarded, since it would go unrecorded; a fast 503, as for a failing store.
   */
  #refuseUnrecordable(): void {
    if (this.#deps.audit()?.problem() !== undefined) throw unrecordable();
  }

  /**
   * Fail closed (docs/decisions/051): the lines of a POST about to be forwarded are written
   * first (stage "admitted"); when one cannot be, the POST is refused (503), so no call runs
   * unrecorded, also when the disk fills between two requests. Its "done" lines follow.
   */
  #writeAhead(requestId: string, caller: McpCaller, started: number, judged: RecordedJudged[]): void {
    const audit = this.#deps.audit();
    if (!audit) return;
    const statuses = { upstream: null, answered: null };
    for (const { message, decision } of judged) {
      if (message.method === undefined) continue;
      const line = this.#line(requestId, caller, started, message, "allow", decision.reason, statuses, decision.rule);
      if (!audit.write({ ...line, stage: "admitted" })) throw unrecordable();
    }
  }

  /**
   * Judges an MCP POST. Returns true when it may be forwarded (who then carries the read body
   * and, for lists, their filter); false when the proxy answered it itself. `legacy`: the POST
   * goes to an HTTP+SSE message path, whose client reads no answer from the POST's body.
   */
  async admit(
    req: IncomingMessage,
    res: ServerResponse,
    caller: McpCaller,
    who: Who,
    legacy = false,
  ): Promise<boolean> {
    this.#refuseUnrecordable();
    const started = performance.now();
    const policy = this.#deps.policy();
    let body: McpBody;
    const limit = this.#deps.maxBodyBytes();
    // The request is authenticated by now: a client waiting for 100 Continue may send its
    // body, unless its declared length is refused anyway (413 without it being sent).
    if (expectsContinue(req) && !declaredOver(req, limit)) res.writeContinue();
    try {
      body = await readMcpBody(req, { bytes: limit, batch: this.#deps.maxBatchSize() });
    } catch (error) {
      if (error instanceof ClientGone) return false;
      if (!(error instanceof JsonRpcRejection)) throw error;
      const subject = error.subject ? [this.#recorded(error.subject)] : [];
      const statuses = { upstream: null, answered: error.status };
      this.#record(who.requestId, caller, started, subject, error.decision, error.message, statuses);
      // 413: the rest of the body is never read, so the connection cannot be reused.
      writeJson(res, error.status, jsonRpcError(error.id, error.code, error.message), {
        ...(error.status === 413 ? { connection: "close" } : {}),
      });
      return false;
    }
    who.trace?.annotate(mcpAttributes(body.messages.map((message) => message.call)));
    const judged: Judged[] = body.messages.map((message) => ({
      message,
      decision: policy.decide(message.call, caller),
    }));
    if (judged.some((j) => !j.decision.allowed)) {
      const onStream = answersOnItsStream(req, legacy) ? (req.url ?? "/") : undefined;
      const answered = this.#deny(res, body, judged, caller, onStream);
      this.#recordJudged(who.requestId, caller, started, this.#recordedAll(judged), { upstream: null, answered });
      return false;
    }
    const requestId = who.requestId;
    const recorded = this.#recordedAll(judged);
    this.#writeAhead(requestId, caller, started, recorded);
    who.body = body.bytes;
    this.#filterLists(who, judged, { policy, caller, modern: body.modern });
    // on, not once: 'close' comes once, and a POST answered with a stream would hold once()'s
    // wrappers. Neither `who` (the body, the hooks) nor the parsed messages are held till then.
    const statuses: Statuses = { upstream: null, answered: null };
    who.upstreamAnswered = (status) => {
      statuses.upstream = status;
    };
    res.on("close", () => {
      statuses.answered = res.headersSent ? res.statusCode : null;
      this.#recordJudged(requestId, caller, started, recorded, statuses);
    });
    return true;
  }

  /** Arranges the answers to the body's list requests (of governed kinds) to be filtered for the caller. */
  #filterLists(who: Who, judged: Judged[], about: { policy: McpPolicy; caller: McpCaller; modern: boolean }): void {
    let lists: Map<JsonRpcId, string> | undefined;
    for (const { message } of judged) {
      const list = filteredList(message.method, about.policy);
      if (list === undefined || message.id === undefined) continue;
      lists ??= new Map();
      lists.set(message.id, list);
    }
    if (!lists) return;
    const input = { ...about, lists, learn: this.#learn };
    who.rewriteAnswer = {
      limit: this.#deps.maxListBytes(),
      rewrite: (answer, contentType) => filterListAnswer(answer, contentType, input),
    };
  }

  /**
   * A GET (an event stream the proxy cannot tie to a request: the HTTP+SSE transport's, a
   * resumed one): while the policy governs a listed kind, every list result on it is
   * filtered for its owner, by the policy in force when the event arrives (a reload applies
   * to open streams). The caller is the stream's owner: the MCP session binding lets nobody
   * else open it. An HTTP+SSE stream is remembered by the address it announces (#deny).
   */
  watchStream(req: IncomingMessage, res: ServerResponse, caller: McpCaller, who: Who): void {
    const policy = this.#deps.policy();
    if (!(["tool", "resource", "prompt"] as const).some((kind) => policy.governs(kind))) return;
    const deps = this.#deps;
    const input = {
      get policy() {
        return deps.policy();
      },
      caller,
      modern: modernHeader(req.headers["mcp-protocol-version"]),
      learn: this.#learn,
    };
    const filter = listEventFilter(input, deps.maxListBytes(), (address) =>
      this.#legacyStreams.add(address, res, filter),
    );
    who.filterEvents = filter;
  }

  /**
   * Answers a denied body: a step-up challenge where a scope would grant it, else JSON-RPC
   * errors. A 2024-11-05 (HTTP+SSE) client reads answers only from its GET stream, so there
   * (`legacy` is the POST's target) they go on that stream, as the MCP server's would, and the
   * POST gets 202; when this replica does not relay that stream, or its client has left more
   * than max_list_size unread there (decision 052), a 403 with the errors as body fails the
   * client's send at once (docs/decisions/049). Returns the POST's status.
   */
  #deny(res: ServerResponse, body: McpBody, judged: Judged[], caller: McpCaller, legacy?: string): number {
    const denied = judged.filter((j) => !j.decision.allowed);
    const needed = denied.flatMap((j) => j.decision.stepUpScopes ?? []);
    // The scopes the token has plus those it lacks: a client that asks for just the missing
    // ones would lose the others (SEP-835 lets the challenge name the whole set).
    const stepUp = [...new Set([...(caller.scopes ?? []), ...needed])];
    const challengeable =
      this.#deps.protectedResource !== undefined &&
      caller.scopes !== undefined &&
      needed.length > 0 &&
      denied.every((j) => j.decision.stepUpScopes !== undefined);
    const errorOf = (j: Judged) =>
      j.decision.allowed
        ? jsonRpcError(j.message.id ?? null, JSONRPC_POLICY_DENIED, "Not run: another request of the batch was denied")
        : jsonRpcError(j.message.id ?? null, JSONRPC_POLICY_DENIED, `Forbidden: ${j.decision.reason}`, {
            reason: j.decision.reason,
            ...(j.decision.rule ? { rule: j.decision.rule } : {}),
            ...(j.decision.stepUpScopes ? { required_scopes: j.decision.stepUpScopes } : {}),
          });
    // Notifications and responses get no answer (JSON-RPC); a batch answers every request in it.
    const answers = judged.filter((j) => j.message.method !== undefined && j.message.id !== undefined).map(errorOf);
    // Only notifications (and responses): no request to answer. The transport's "cannot accept
    // the input" is an HTTP error status, its body one JSON-RPC error without id (decision 047).
    if (answers.length === 0 && !challengeable) {
      writeJson(res, 403, errorOf(denied[0] as Judged));
      return 403;
    }
    const payload = body.batch && answers.length > 0 ? answers : (answers[0] ?? errorOf(denied[0] as Judged));
    if (challengeable && this.#deps.protectedResource) {
      const challenge = this.#deps.protectedResource.challenge(
        "insufficient_scope",
        "This call needs more scope",
        stepUp,
      );
      writeJson(res, 403, payload, { "www-authenticate": challenge });
      return 403;
    }
    if (legacy !== undefined && this.#legacyStreams.send(legacy, answers)) {
      res.writeHead(202, { "content-type": "text/plain", "content-length": 8 });
      res.end("Accepted");
      return 202;
    }
    const status = legacy !== undefined ? 403 : 200;
    writeJson(res, status, payload);
    return status;
  }

  #recorded(message: McpMessage): Recorded {
    const { id, method, call, params } = message;
    return { id, method, call, argumentsHmac: this.#deps.audit()?.argumentsHash(params) };
  }

  #recordedAll(judged: Judged[]): RecordedJudged[] {
    return judged.map(({ message, decision }) => ({ message: this.#recorded(message), decision }));
  }

  #recordJudged(
    requestId: string,
    caller: McpCaller,
    started: number,
    judged: RecordedJudged[],
    statuses: Statuses,
  ): void {
    const anyDenied = judged.some((j) => !j.decision.allowed);
    for (const j of judged) {
      if (j.message.method === undefined) continue;
      const decision: AuditDecision = j.decision.allowed && !anyDenied ? "allow" : "deny";
      const reason = j.decision.allowed && anyDenied ? "another request of the batch was denied" : j.decision.reason;
      this.#record(requestId, caller, started, [j.message], decision, reason, statuses, j.decision.rule);
    }
  }

  #record(
    requestId: string,
    caller: McpCaller,
    started: number,
    messages: Recorded[],
    decision: AuditDecision,
    reason: string,
    statuses: Statuses,
    rule?: string,
  ): void {
    const message = messages[0];
    const method = message?.method;
    this.#deps.metrics.mcpRequests.inc({
      method: method === undefined ? "_invalid" : KNOWN_METHODS.has(method) ? method : "_other",
      name: this.#nameLabel(message, decision, statuses.upstream),
      decision,
    });
    const line = this.#line(requestId, caller, started, message, decision, reason, statuses, rule);
    this.#deps.audit()?.write({ ...line, stage: "done" });
  }

  /** A message's audit line but for its stage. */
  #line(
    requestId: string,
    caller: McpCaller,
    started: number,
    message: Recorded | undefined,
    decision: AuditDecision,
    reason: string,
    statuses: Statuses,
    rule?: string,
  ): Omit<AuditRecord, "stage"> {
    const hash = message?.argumentsHmac;
    const uris = message?.call.uris;
    return {
      time: new Date().toISOString(),
      request_id: requestId,
      user: caller.user?.id ?? null,
      provider: caller.user?.provider ?? null,
      client_id: caller.clientId ?? null,
      method: message?.method ?? null,
      name: message?.call.name ?? null,
      jsonrpc_id: message?.id ?? null,
      decision,
      rule: rule ?? null,
      reason,
      upstream_status: statuses.upstream,
      status: statuses.answered,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      ...(hash ? { arguments_hmac: hash } : {}),
      ...(uris ? subscriptionsOf(uris) : {}),
    };
  }

  /** A request refused unread (a body on another method, an upgrade): its own audit line and count. */
  #recordRefusal(requestId: string, caller: McpCaller, httpMethod: string, reason: string): void {
    this.#deps.metrics.mcpRequests.inc({ method: "_invalid", name: "", decision: "deny" });
    this.#deps.audit()?.write({
      time: new Date().toISOString(),
      stage: "done",
      request_id: requestId,
      user: caller.user?.id ?? null,
      provider: caller.user?.provider ?? null,
      client_id: caller.clientId ?? null,
      http_method: httpMethod,
      method: null,
      name: null,
      jsonrpc_id: null,
      decision: "deny",
      rule: null,
      reason,
      upstream_status: null,
      status: 403,
      duration_ms: 0,
    });
  }

  /**
   * A bounded label (name-labels.ts): a name the server listed; for a kind no rule names (no
   * list of it is read), one whose call was allowed and answered below 400; else "_other".
   */
  #nameLabel(message: Recorded | undefined, decision: AuditDecision, status: number | null): string {
    const kind = message?.call.kind;
    const name = kind ? message?.call.name : undefined;
    if (kind === undefined || name === undefined) return "";
    const answered = decision === "allow" && status !== null && status < 400;
    return this.#names.label(name, answered && !this.#deps.policy().governs(kind));
  }
}
