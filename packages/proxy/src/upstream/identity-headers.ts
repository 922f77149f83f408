// What the MCP server learns about the caller: the identity headers' values. (Client-sent
// copies, look-alikes and credentials are dropped by request-headers.ts, with the names
// proxy-headers.ts owns.) Names are resolved once at startup; a user's header values are
// computed once per session object (the hot path sees the same object while it is cached).
import type { SessionUser } from "../auth/session-user.ts";
import type { Config } from "../config/schema.ts";

/** Header values must be visible ASCII; anything else (e.g. a Japanese name) is percent-encoded. */
function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
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
        [n.userId, headerValue(user.id)],
        ...(user.email ? [[n.email, headerValue(user.email)] as [string, string]] : []),
        ...(user.name ? [[n.name, headerValue(user.name)] as [string, string]] : []),
        ...(user.groups.length > 0 ? [[n.groups, headerValue(user.groups.join(","))] as [string, string]] : []),
        [n.provider, headerValue(user.provider)],
      ];
      this.#valuesByUser.set(user, values);
    }
    return values;
  }
}
