// What the MCP server learns about the caller: the identity headers' values. (Client-sent
// copies, look-alikes and credentials are dropped by request-headers.ts, with the names
// proxy-headers.ts owns.) Names are resolved once at startup; a user's header values are
// computed once per session object (the hot path sees the same object while it is cached).
import type { SessionUser } from "../auth/session-user.ts";
import type { Config } from "../config/schema.ts";

/**
 * Characters sent as they are: printable ASCII except "%" (the escape itself) and "," (the
 * groups separator), with no space at either end (HTTP trims it). See README, "Identity headers".
 */
const NEEDS_ESCAPE = /[^\x20-\x24\x26-\x2b\x2d-\x7e]|^ | $/gu;
const utf8 = new TextEncoder();

/**
 * The header form of one identity value: percent-encoded UTF-8 for every character outside
 * the safe set, so `decodeURIComponent(header)` always gives the exact value back and no two
 * values share a form ("jürgen" → "j%C3%BCrgen", the literal "j%C3%BCrgen" → "j%25C3%25BCrgen").
 */
export function encodeIdentityValue(value: string): string {
  return value.replace(NEEDS_ESCAPE, (char) =>
    Array.from(utf8.encode(char), (byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
}

export class IdentityHeaders {
  readonly #names: { userId: string; email: string; name: string; groups: string; provider: string };
  readonly #valuesByUser = new WeakMap<SessionUser, [string, string][]>();

  constructor(headers: Config["headers"]) {
    this.#names = {
      userId: headers.user_id.toLowerCase(),
      email: headers.email.toLowerCase(),
      name: headers.name.toLowerCase(),
      groups: headers.groups.toLowerCase(),
      provider: headers.provider.toLowerCase(),
    };
  }

  /** [name, value] pairs describing `user` to the MCP server. */
  valuesFor(user: SessionUser): [string, string][] {
    let values = this.#valuesByUser.get(user);
    if (!values) {
      const n = this.#names;
      values = [
        [n.userId, encodeIdentityValue(user.id)],
        // Only a verified address: an MCP server may take it for who the caller is.
        ...(user.email && user.emailVerified ? [[n.email, encodeIdentityValue(user.email)] as [string, string]] : []),
        ...(user.name ? [[n.name, encodeIdentityValue(user.name)] as [string, string]] : []),
        // Each group encoded on its own, so a "," inside a group name cannot split it.
        ...(user.groups.length > 0
          ? [[n.groups, user.groups.map(encodeIdentityValue).join(",")] as [string, string]]
          : []),
        [n.provider, encodeIdentityValue(user.provider)],
      ];
      this.#valuesByUser.set(user, values);
    }
    return values;
  }
}
