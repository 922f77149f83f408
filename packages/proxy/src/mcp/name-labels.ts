// The `name` label of mcp_proxy_mcp_requests_total: bounded, and given only to names the MCP
// server is known to have, so no caller can use the label budget up with made-up names
// (docs/decisions/049). A name is learned when it appears in a list answer the proxy read
// (tools/list, prompts/list, resources/list, resources/templates/list of a kind the policy
// governs: the server's own names), or, for a kind no rule names (the proxy reads no list of
// it), when a call of it was allowed and answered below 400. Denied and unknown names are
// counted as "_other" until then; a learned name keeps its label.

/** Distinct names a replica reports before folding further ones into "_other". */
export const NAME_LABEL_LIMIT = 200;
/** Longer names are never a label of their own. */
export const NAME_LABEL_LENGTH = 80;

export class McpNameLabels {
  readonly #names = new Set<string>();

  /** A name the MCP server has (it listed it): it gets a label while there is room. */
  learn(name: string): void {
    if (this.#names.size >= NAME_LABEL_LIMIT || name.length > NAME_LABEL_LENGTH) return;
    this.#names.add(name);
  }

  /** The label of `name`: itself once learned, else "_other"; `known`: learn it now (a call the server answered). */
  label(name: string, known: boolean): string {
    if (known) this.learn(name);
    return this.#names.has(name) ? name : "_other";
  }
}
