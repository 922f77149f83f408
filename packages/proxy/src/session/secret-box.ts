// Encryption at rest for what the authorization server must read back but no one with a copy
// of the store should: the provider's tokens in account records, registered clients'
// secrets. The key is derived (HKDF) from the session secret and a purpose; every configured
// secret is tried on opening, so a rotation (new secret first) keeps older records readable.
import { hkdfSync } from "node:crypto";
import { CompactEncrypt, compactDecrypt } from "jose";

export class SecretBox {
  /** One key per session secret, the current one first. */
  readonly #keys: Uint8Array[];

  constructor(secrets: string[], purpose: string) {
    this.#keys = secrets.map((secret) => new Uint8Array(hkdfSync("sha256", secret, "mcp-oidc-proxy", purpose, 32)));
  }

  seal(text: string): Promise<string> {
    return new CompactEncrypt(new TextEncoder().encode(text))
      .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
      .encrypt(this.#keys[0] as Uint8Array);
  }

  /** The text, or undefined when no configured secret opens it (forged, or sealed with a removed secret). */
  async open(sealed: string): Promise<string | undefined> {
    for (const key of this.#keys) {
      try {
        return new TextDecoder().decode((await compactDecrypt(sealed, key)).plaintext);
      } catch {
        // another secret may have sealed it
      }
    }
    return undefined;
  }
}
