// Why a call to the identity provider failed, in words an operator can act on, and what a
// client is told then. Node's fetch says only "fetch failed" and keeps the reason (refused,
// DNS, TLS, timeout) in error.cause; every outbound provider call (discovery, JWKS, code
// exchange, refresh, userinfo) goes through provider-fetch.ts, which turns such a failure into
// a ProviderUnreachable worded here, so each log line names the cause the same way.
import { ProxyError } from "../errors.ts";

type NetworkError = Error & {
  code?: string;
  address?: string;
  port?: number;
  hostname?: string;
  errors?: NetworkError[];
};

/** Error codes of a TLS handshake the proxy refused (OpenSSL's verify codes and Node's own). */
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_|^ERR_TLS_|^ERR_SSL_|^EPROTO$/;

/** host:port of a URL, with the scheme's port when the URL names none. */
function placeOf(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
}

/** The addresses a connection was tried to: one, or for several (an AggregateError) each of them. */
function addressesOf(cause: NetworkError, url: URL): string {
  const tried = cause.errors?.length ? cause.errors : [cause];
  const places = tried
    .filter((each) => each.address !== undefined)
    .map((each) => (each.port === undefined ? each.address : `${each.address}:${each.port}`));
  return places.length > 0 ? [...new Set(places)].join(", ") : placeOf(url);
}

/** The plain words for a network failure's cause (undici's error.cause, or the abort reason). */
function causeWords(cause: NetworkError, url: URL): string {
  const code = cause.code ?? cause.errors?.[0]?.code;
  if (cause.name === "TimeoutError" || code === "UND_ERR_CONNECT_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT") {
    return `timed out: ${placeOf(url)} did not answer in time`;
  }
  if (code === "ECONNREFUSED") return `connection refused by ${addressesOf(cause, url)} (ECONNREFUSED)`;
  if (code === "ENOTFOUND") return `DNS name ${cause.hostname ?? url.hostname} not found (ENOTFOUND)`;
  if (code === "EAI_AGAIN") return `DNS lookup of ${cause.hostname ?? url.hostname} failed for now (EAI_AGAIN)`;
  if (code && TLS_CODE.test(code)) {
    return `TLS certificate of ${placeOf(url)} not accepted: ${cause.message} (${code}); oidc.ca_file names a CA bundle to trust`;
  }
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") {
    return `connection closed by ${placeOf(url)} before it answered (${code})`;
  }
  return code && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message || String(code);
}

/**
 * A provider call that got no usable answer (refused, DNS, TLS, timeout, or a JWKS the
 * provider would not serve). A TypeError, as fetch's own network failures are, so that
 * openid-client passes it on unwrapped; its message is the whole explanation for the log.
 */
export class ProviderUnreachable extends TypeError {
  readonly url: string;

  constructor(url: URL, failure: unknown) {
    // Origin and path only: a query string may carry what the log must not.
    const where = `${url.origin}${url.pathname}`;
    super(`${where}: ${ProviderUnreachable.words(failure, url)}`, { cause: failure });
    this.name = "ProviderUnreachable";
    this.url = where;
  }

  /** fetch's "fetch failed" says nothing: its cause does; other failures speak for themselves. */
  static words(failure: unknown, url: URL): string {
    if (!(failure instanceof Error)) return String(failure);
    if (failure.name === "TimeoutError" || failure.name === "AbortError") return causeWords(failure, url);
    const cause = failure.cause;
    return failure instanceof TypeError && cause instanceof Error ? causeWords(cause, url) : failure.message;
  }
}

/**
 * What a client is told when the provider could not be asked: a failing dependency, so a
 * 503 with Retry-After (never a 401 that would make an MCP client drop a good token).
 */
export function providerUnavailable(cause: ProviderUnreachable): ProxyError {
  return new ProxyError("OIDC_ERROR", 503, "The identity provider is not reachable; try again shortly", { cause });
}
