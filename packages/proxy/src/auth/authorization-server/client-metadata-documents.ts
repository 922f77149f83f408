// Client ID metadata documents (MCP authorization 2025-11-25): a client may use an https URL
// as its client_id, where its metadata is published, instead of registering. The proxy
// fetches the document carefully: https only, no redirects, a size and time limit, and never
// from private or loopback addresses unless the configuration allows them: a host name is
// checked where the connection is made (so DNS rebinding cannot sneak one in), an IP literal
// in any spelling (2130706433, 0x7f.1, [::ffff:127.0.0.1]) before any connection, since Node
// resolves literals without the lookup hook. Documents are cached in the store.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { readFileSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import { rootCertificates } from "node:tls";
import type { AdapterPayload } from "oidc-provider";
import { Agent, fetch as undiciFetch } from "undici";
import type { Logger } from "../../observability/logger.ts";
import type { KeyValueStore } from "../../session/key-value.ts";

const MAX_DOCUMENT_BYTES = 5 * 1024;
const FETCH_TIMEOUT_MS = 5000;
const CACHE_SECONDS = 300;
const ALLOWED_GRANTS = new Set(["authorization_code", "refresh_token"]);

/**
 * Addresses a fetch on a client's behalf must never reach: this host, private networks,
 * link-local (cloud metadata at 169.254.169.254), shared, reserved and multicast ranges, and
 * the IPv6 forms that carry an IPv4 address (IPv4-mapped ones BlockList matches itself).
 */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  PRIVATE.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  // Unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d.
  ["::", 96],
  ["64:ff9b::", 96], // NAT64
  ["64:ff9b:1::", 48], // local NAT64
  ["100::", 64], // discard
  ["2001::", 32], // Teredo
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const) {
  PRIVATE.addSubnet(network, prefix, "ipv6");
}

/** Whether `address` (an IP address as a resolver returns it) is one a fetch must not reach; not an address → true. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * The IP address a URL's host names literally, in its normalized form: WHATWG URL turns
 * 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 into 127.0.0.1 and [::ffff:127.0.0.1] into
 * [::ffff:7f00:1]. Undefined for a host name.
 */
export function literalAddress(url: URL): string | undefined {
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) === 0 ? undefined : host;
}

/** A client_id that names a metadata document: an https URL with a path. */
export function isDocumentClientId(id: string): boolean {
  const url = URL.parse(id);
  return url !== null && url.protocol === "https:" && url.pathname !== "/" && !url.hash && !url.username;
}

export class DocumentError extends Error {}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export class ClientMetadataDocuments {
  readonly #store: KeyValueStore;
  readonly #logger: Logger;
  readonly #dispatcher: Agent;

  readonly #allowPrivate: boolean;

  constructor(options: { store: KeyValueStore; logger: Logger; caFile?: string; allowPrivateAddresses: boolean }) {
    this.#store = options.store;
    this.#logger = options.logger;
    const allowPrivate = options.allowPrivateAddresses;
    this.#allowPrivate = allowPrivate;
    // Every address the host resolves to is checked where the connection is made.
    const lookup = (hostname: string, lookupOptions: LookupOptions, callback: LookupCallback) => {
      dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
        if (error) return callback(error, []);
        const refused = allowPrivate ? undefined : addresses.find((entry) => isPrivateAddress(entry.address));
        if (refused) return callback(new DocumentError(`${hostname} resolves to a private address`), []);
        if (lookupOptions.all) return callback(null, addresses);
        const first = addresses[0] as LookupAddress;
        callback(null, first.address, first.family);
      });
    };
    this.#dispatcher = new Agent({
      connect: {
        lookup: lookup as never,
        ...(options.caFile ? { ca: [...rootCertificates, readFileSync(options.caFile, "utf8")] } : {}),
      },
      connectTimeout: FETCH_TIMEOUT_MS,
    });
  }

  /** The client's metadata in oidc-provider's terms, or undefined when there is no valid document. */
  async find(clientId: string): Promise<AdapterPayload | undefined> {
    const cached = await this.#store.get(`client-document:${clientId}`);
    if (cached !== undefined) return JSON.parse(cached) as AdapterPayload;
    let metadata: AdapterPayload;
    try {
      metadata = this.#validate(clientId, await this.#fetch(clientId));
    } catch (error) {
      this.#logger.warn("client metadata document refused", {
        client_id: clientId.slice(0, 300),
        error: (error as Error).message,
      });
      return undefined;
    }
    await this.#store.set(`client-document:${clientId}`, JSON.stringify(metadata), CACHE_SECONDS);
    return metadata;
  }

  async #fetch(url: string): Promise<unknown> {
    const literal = literalAddress(new URL(url));
    if (literal !== undefined && !this.#allowPrivate && isPrivateAddress(literal)) {
      throw new DocumentError(`${literal} is a private address`);
    }
    const response = await undiciFetch(url, {
      dispatcher: this.#dispatcher,
      redirect: "error",
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      headers: { accept: "application/json" },
    });
    if (response.status !== 200) throw new DocumentError(`the document answered ${response.status}`);
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > MAX_DOCUMENT_BYTES) throw new DocumentError("the document is too large");
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of response.body ?? []) {
      size += chunk.byteLength;
      if (size > MAX_DOCUMENT_BYTES) throw new DocumentError("the document is too large");
      chunks.push(chunk);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      throw new DocumentError("the document is not JSON");
    }
  }

  /** Only what a public client may say about itself; the document must name itself. */
  #validate(clientId: string, document: unknown): AdapterPayload {
    if (typeof document !== "object" || document === null || Array.isArray(document)) {
      throw new DocumentError("the document is not a JSON object");
    }
    const doc = document as Record<string, unknown>;
    if (doc.client_id !== clientId) throw new DocumentError("the document's client_id is not its own URL");
    if ("client_secret" in doc) throw new DocumentError("a metadata document must not carry a client_secret");
    const method = doc.token_endpoint_auth_method ?? "none";
    if (method !== "none") throw new DocumentError(`token_endpoint_auth_method ${String(method)} is not supported`);
    const redirectUris = doc.redirect_uris;
    if (
      !Array.isArray(redirectUris) ||
      redirectUris.length === 0 ||
      !redirectUris.every((u) => typeof u === "string")
    ) {
      throw new DocumentError("redirect_uris must be a non-empty list of URLs");
    }
    const grants = Array.isArray(doc.grant_types)
      ? doc.grant_types.filter((g): g is string => typeof g === "string" && ALLOWED_GRANTS.has(g))
      : ["authorization_code", "refresh_token"];
    const text = (name: string) => (typeof doc[name] === "string" ? { [name]: doc[name] as string } : {});
    return {
      client_id: clientId,
      redirect_uris: redirectUris as string[],
      grant_types: grants.length > 0 ? grants : ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      application_type: "native",
      ...text("client_name"),
      ...text("client_uri"),
      ...text("logo_uri"),
    };
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}
