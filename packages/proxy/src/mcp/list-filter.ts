// Filters list answers (tools/list, resources/list, resources/templates/list, prompts/list)
// down to what the caller may use, as JSON or as an SSE stream. Only these answers are ever
// buffered, bounded by the caller (forwarder). Everything else in the answer is kept:
// pagination (nextCursor), other messages of an SSE stream (progress, server requests), ids.
// A filtered 2026-07-28 result is marked cacheScope "private": it differs per caller.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { JsonRpcId } from "./jsonrpc-reader.ts";
import type { McpCaller, McpKind, McpPolicy } from "./policy.ts";

const LISTS: Readonly<Record<string, { kind: McpKind; key: string; field: string }>> = {
  "tools/list": { kind: "tool", key: "tools", field: "name" },
  "prompts/list": { kind: "prompt", key: "prompts", field: "name" },
  "resources/list": { kind: "resource", key: "resources", field: "uri" },
  // A template is judged by its URI template text: "file:///docs/{path}" against the globs.
  "resources/templates/list": { kind: "resource", key: "resourceTemplates", field: "uriTemplate" },
};

/** The list a method answers with, when the policy governs its kind. */
export function filteredList(method: string | undefined, policy: McpPolicy): string | undefined {
  const list = method === undefined ? undefined : LISTS[method];
  return list && policy.governs(list.kind) ? method : undefined;
}

export interface ListFilterInput {
  policy: McpPolicy;
  caller: McpCaller;
  /** The list requests of the body, by their JSON-RPC id. */
  lists: Map<JsonRpcId, string>;
  modern: boolean;
  /** Told every name of a list read (kept or not): the server's names, for the metrics (name-labels.ts). */
  learn?: ((name: string) => void) | undefined;
}

/** The list a result object holds, by shape: an array under a list key whose kind is governed. */
function listOfShape(result: Record<string, unknown>, policy: McpPolicy): string | undefined {
  for (const [method, list] of Object.entries(LISTS)) {
    if (Array.isArray(result[list.key]) && policy.governs(list.kind)) return method;
  }
  return undefined;
}

function filterResult(record: Record<string, unknown>, method: string, input: ListFilterInput): unknown {
  const result = record.result as Record<string, unknown>;
  const list = LISTS[method] as (typeof LISTS)[string];
  const items = result[list.key];
  if (!Array.isArray(items)) return record;
  const kept = items.filter((item: unknown) => {
    const name = (item as Record<string, unknown> | null)?.[list.field];
    if (typeof name !== "string") return false;
    input.learn?.(name);
    // As a call naming it is judged (a resource URI in one spelling only): a list shows
    // nothing its caller would be refused.
    return input.policy.decide({ method: method, kind: list.kind, name }, input.caller).allowed;
  });
  const filtered: Record<string, unknown> = { ...result, [list.key]: kept };
  if (input.modern) filtered.cacheScope = "private";
  return { ...record, result: filtered };
}

function filterMessage(message: unknown, input: ListFilterInput): unknown {
  if (typeof message !== "object" || message === null) return message;
  const record = message as Record<string, unknown>;
  const method = input.lists.get(record.id as JsonRpcId);
  if (method === undefined || typeof record.result !== "object" || record.result === null) return message;
  return filterResult(record, method, input);
}

export interface ShapeFilterInput {
  policy: McpPolicy;
  caller: McpCaller;
  modern: boolean;
  learn?: ((name: string) => void) | undefined;
}

/**
 * A JSON-RPC message (or batch) with every list-shaped result filtered, whatever request it
 * answers: for streams where the request is not known (GET streams). Undefined when nothing
 * in it is a list of a governed kind (the event is relayed as it came).
 */
export function filterListShaped(value: unknown, input: ShapeFilterInput): unknown {
  let changed = false;
  const one = (message: unknown): unknown => {
    const result = (message as Record<string, unknown> | null)?.result;
    if (typeof result !== "object" || result === null || Array.isArray(result)) return message;
    const method = listOfShape(result as Record<string, unknown>, input.policy);
    if (method === undefined) return message;
    changed = true;
    const modern = input.modern || "cacheScope" in result || "ttlMs" in result;
    return filterResult(message as Record<string, unknown>, method, { ...input, lists: new Map(), modern });
  };
  const filtered = Array.isArray(value) ? value.map(one) : one(value);
  return changed ? filtered : undefined;
}

function filterJson(text: string, input: ListFilterInput): string {
  const value = JSON.parse(text) as unknown;
  const filtered = Array.isArray(value) ? value.map((m) => filterMessage(m, input)) : filterMessage(value, input);
  return JSON.stringify(filtered);
}

/** An event as SSE text, with its id and type as they came. */
export function eventText(event: EventSourceMessage, data: string): string {
  const lines: string[] = [];
  if (event.id !== undefined) lines.push(`id: ${event.id}`);
  if (event.event !== undefined) lines.push(`event: ${event.event}`);
  for (const line of data.split("\n")) lines.push(`data: ${line}`);
  return `${lines.join("\n")}\n\n`;
}

function filteredEventText(event: EventSourceMessage, input: ListFilterInput): string {
  let data = event.data;
  try {
    data = filterJson(event.data, input);
  } catch {
    // Not JSON: not a list answer, relayed as it came.
  }
  return eventText(event, data);
}

/** The answer with every list filtered for the caller; throws when a JSON answer is not JSON. */
export function filterListAnswer(body: Buffer, contentType: string, input: ListFilterInput): Buffer {
  const text = body.toString("utf8");
  if (!contentType.toLowerCase().startsWith("text/event-stream")) return Buffer.from(filterJson(text, input));
  let out = "";
  const parser = createParser({
    onEvent: (event) => {
      out += filteredEventText(event, input);
    },
    onRetry: (retry) => {
      out += `retry: ${retry}\n\n`;
    },
  });
  parser.feed(text);
  // A last event without its blank line still counts as sent.
  parser.feed("\n\n");
  return Buffer.from(out);
}
