// The MCP server's address across sources. target.url stands for target.host, target.port
// and target.protocol together, so a plain key-by-key merge would let a file's url silently
// outrank --target-host or MCP_TARGET_PORT: "flags > environment > files" would not hold.
// Here a host, port or protocol set by a later source than the url is written into that url
// (its path and the rest kept); the same source setting both keeps the url, as documented.
import type { RawTree, SourceLayer } from "./sources.ts";

const PARTS = ["host", "port", "protocol"] as const;
type Part = (typeof PARTS)[number];

function targetOf(tree: RawTree): RawTree | undefined {
  const target = tree.target;
  return typeof target === "object" && target !== null && !Array.isArray(target) ? (target as RawTree) : undefined;
}

/** The index of the last layer that sets target.<key>, or -1. */
function lastSetting(layers: readonly SourceLayer[], key: string): number {
  return layers.findLastIndex((layer) => targetOf(layer.tree)?.[key] !== undefined);
}

/** scheme://authority at the start of a URL, then the "/" that begins its path, if written. */
const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)(\/?)/i;

/**
 * url with the given parts replaced, in the form it was written: URL.href adds a "/" to a
 * URL without a path (http://a:1 became http://b:2/), which the forwarder reads as no base
 * path all the same, but the configuration then shows what nobody wrote. Undefined when url
 * does not parse (the schema says so).
 */
function withParts(url: unknown, parts: Partial<Record<Part, unknown>>): string | undefined {
  if (typeof url !== "string" || !URL.canParse(url)) return undefined;
  const out = new URL(url);
  if (parts.protocol !== undefined) out.protocol = String(parts.protocol);
  if (parts.host !== undefined) {
    const host = String(parts.host);
    out.hostname = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  }
  if (parts.port !== undefined) out.port = String(parts.port);
  const written = AUTHORITY.exec(url)?.[2];
  return written === "" ? out.href.replace(AUTHORITY, "$1") : out.href;
}

/**
 * Applies a later source's target host/port/protocol to an earlier source's target.url in the
 * merged tree; a problem (naming both sources) when the earlier source gave target.urls, whose
 * several endpoints one host cannot stand for.
 */
export function applyTargetPrecedence(
  merged: RawTree,
  layers: readonly SourceLayer[],
  originOf: (field: string) => string | undefined,
): string[] {
  const target = targetOf(merged);
  if (!target) return [];
  const overriding = (key: "url" | "urls") =>
    PARTS.filter((part) => lastSetting(layers, part) > lastSetting(layers, key) && lastSetting(layers, key) >= 0);
  const overUrls = overriding("urls");
  const listsUrls = Array.isArray(target.urls) ? target.urls.length > 0 : String(target.urls ?? "").trim() !== "";
  if (overUrls.length > 0 && listsUrls) {
    return overUrls.map(
      (part) =>
        `target.${part}: set by ${originOf(`target.${part}`)}, but target.urls (from ${originOf("target.urls")}) lists the endpoints; set target.urls there instead (MCP_TARGET_URLS)`,
    );
  }
  const overUrl = overriding("url");
  if (overUrl.length === 0 || target.url === undefined) return [];
  const rewritten = withParts(target.url, Object.fromEntries(overUrl.map((part) => [part, target[part]])));
  // A copy: the merged tree may share this object with the layer it came from.
  if (rewritten !== undefined) merged.target = { ...target, url: rewritten };
  return [];
}
