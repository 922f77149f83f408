// The keys of a JSON-RPC message the policy reads, in one spelling only. Go's encoding/json
// (the MCP Go SDK until 2026, and other servers) matches object keys regardless of case and
// folds "ſ" to "s" and the Kelvin sign to "k": {"name":"echo","Name":"admin_wipe"} was judged
// here as echo and ran admin_wipe there, {"method":"ping","Method":"tools/call"} as a ping,
// and {"Notifications":{…}} was no subscription here and one there (a security review). A
// key that folds to one the policy reads but is spelled otherwise is refused, whatever the
// server would make of it.

/** Keys of the message itself. */
const MESSAGE_KEYS = ["jsonrpc", "id", "method", "params", "result", "error"] as const;
/** Keys of a judged request's params, and of the objects in them the policy reads. */
const PARAMS_KEYS = ["name", "uri", "ref", "notifications", "arguments"] as const;
const REF_KEYS = ["type", "uri", "name"] as const;
const NOTIFICATIONS_KEYS = ["resourceSubscriptions"] as const;

/** A key as a case- and compatibility-folding decoder compares it. */
const fold = (key: string) => key.normalize("NFKC").toLowerCase();

function recordOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The first key of `object` spelled unlike the one of `keys` it folds to, and that one. */
function misspelled(
  object: Record<string, unknown> | undefined,
  keys: readonly string[],
): [string, string] | undefined {
  if (!object) return undefined;
  for (const key of Object.keys(object)) {
    if (keys.includes(key)) continue;
    const folded = fold(key);
    const meant = keys.find((known) => fold(known) === folded);
    if (meant) return [key, meant];
  }
  return undefined;
}

/**
 * Why a message is refused for a key spelled like one the policy reads, or undefined. The
 * params (and the ref and notifications in them) are checked when `judged`: the method is one
 * whose params the policy reads (policy.ts JUDGED_METHODS), whatever they hold.
 */
export function keySpellingProblem(message: Record<string, unknown>, judged: boolean): string | undefined {
  const found = misspelled(message, MESSAGE_KEYS) ?? (judged ? judgedParamsMisspelled(message.params) : undefined);
  return found ? `the key "${found[0]}" is spelled unlike "${found[1]}", which some MCP servers read it as` : undefined;
}

function judgedParamsMisspelled(params: unknown): [string, string] | undefined {
  const record = recordOf(params);
  return (
    misspelled(record, PARAMS_KEYS) ??
    misspelled(recordOf(record?.ref), REF_KEYS) ??
    misspelled(recordOf(record?.notifications), NOTIFICATIONS_KEYS)
  );
}
