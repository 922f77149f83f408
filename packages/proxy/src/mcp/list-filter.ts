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
}

function filterMessage(message: unknown, input: ListFilterInput): unknown {
  if (typeof message !== "object" || message === null) return message;
  const record = message as Record<string, unknown>;
  const method = input.lists.get(record.id as JsonRpcId);
  const result = record.result;
  if (method === undefined || typeof result !== "object" || result === null) return message;
  const list = LISTS[method] as (typeof LISTS)[string];
  const items = (result as Record<string, unknown>)[list.key];
  if (!Array.isArray(items)) return message;
  const kept = items.filter((item: unknown) => {
    const name = (item as Record<string, unknown> | null)?.[list.field];
    return typeof name === "string" && input.policy.decideOn(list.kind, name, input.caller).allowed;
  });
  const filtered: Record<string, unknown> = { ...(result as Record<string, unknown>), [list.key]: kept };
  if (input.modern) filtered.cacheScope = "private";
  return { ...record, result: filtered };
}

function filterJson(text: string, input: ListFilterInput): string {
  const value = JSON.parse(text) as unknown;
  const filtered = Array.isArray(value) ? value.map((m) => filterMessage(m, input)) : filterMessage(value, input);
  return JSON.stringify(filtered);
}

function eventText(event: EventSourceMessage, input: ListFilterInput): string {
  let data = event.data;
  try {
    data = filterJson(event.data, input);
  } catch {
    // Not JSON: not a list answer, relayed as it came.
  }
  const lines: string[] = [];
  if (event.id !== undefined) lines.push(`id: ${event.id}`);
  if (event.event !== undefined) lines.push(`event: ${event.event}`);
  for (const line of data.split("\n")) lines.push(`data: ${line}`);
  return `${lines.join("\n")}\n\n`;
}

/** The answer with every list filtered for the caller; throws when a JSON answer is not JSON. */
export function filterListAnswer(body: Buffer, contentType: string, input: ListFilterInput): Buffer {
  const text = body.toString("utf8");
  if (!contentType.toLowerCase().startsWith("text/event-stream")) return Buffer.from(filterJson(text, input));
  let out = "";
  const parser = createParser({
    onEvent: (event) => {
      out += eventText(event, input);
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
