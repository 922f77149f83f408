// Identity assertions shared by the tests: the identity headers the MCP server must receive
// for the dev provider's users, read from a recorded request or from the demo server's whoami
// tool (which echoes the identity headers it got).
import assert from "node:assert/strict";

/** Alice of the dev provider (dev/oidc-provider), as the MCP server receives her. */
export const ALICE = {
  "x-user-id": "alice",
  "x-user-email": "alice@example.com",
  "x-user-groups": "mcp-users,admins",
} as const;

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** Every expected header has exactly the expected value (undefined: the header is absent). */
export function assertIdentity(
  headers: Headers | undefined,
  expected: Readonly<Record<string, string | undefined>>,
): void {
  assert.ok(headers, "a request reached the MCP server");
  for (const [name, value] of Object.entries(expected)) assert.equal(headers[name], value, name);
}

/** The identity headers the demo server's whoami tool reported. */
export function whoamiIdentity(result: Record<string, unknown>): Record<string, string> {
  return JSON.parse((result.content as { text: string }[] | undefined)?.[0]?.text ?? "{}") as Record<string, string>;
}
