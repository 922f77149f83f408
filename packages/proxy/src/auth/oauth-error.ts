// An OAuth error answer (RFC 6749 §5.2, RFC 7591 §3.2.2): `{"error", "error_description"}`.
// The authorization server's own answers (rate limit, store down, errors oidc-provider renders)
// are built from it, so their shape lives in one place; JSON.stringify (Express' res.json,
// Koa's body) serializes it through toJSON.

export class OAuthError {
  readonly error: string;
  readonly description: string | undefined;

  constructor(error: string, description?: string) {
    this.error = error;
    this.description = description;
  }

  toJSON(): { error: string; error_description?: string } {
    return { error: this.error, ...(this.description ? { error_description: this.description } : {}) };
  }
}
