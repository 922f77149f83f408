// The state of a login between the redirect to the provider and /callback: PKCE verifier,
// state, nonce and the page to return to. It rides in a short-lived encrypted cookie named
// after the state (proxy-cookies.ts), so unauthenticated traffic writes nothing to the session store and
// several tabs can log in at once.
import { hkdfSync } from "node:crypto";
import { EncryptJWT, jwtDecrypt } from "jose";

export interface LoginTransaction {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
}

export const LOGIN_TRANSACTION_TTL_SECONDS = 600;
/**
 * Sign-ins open at once per browser (tabs). Each costs ~450 bytes of /callback's request
 * headers; without a bound, abandoned ones (an attacker's popup can start 40 in seconds)
 * grow them past Node's 16 KiB limit and lock the browser out until they expire.
 */
export const MAX_OPEN_SIGN_INS = 5;
export class TransactionSealer {
  readonly #key: Uint8Array;

  constructor(secret: string) {
    this.#key = new Uint8Array(hkdfSync("sha256", secret, "mcp-oidc-proxy", "login-transaction", 32));
  }

  seal(transaction: LoginTransaction): Promise<string> {
    return new EncryptJWT({ ...transaction })
      .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
      .setIssuedAt()
      .setExpirationTime(`${LOGIN_TRANSACTION_TTL_SECONDS}s`)
      .encrypt(this.#key);
  }

  /** The transaction, or undefined when the cookie is forged, tampered with or expired. */
  async open(sealed: string): Promise<LoginTransaction | undefined> {
    try {
      const { payload } = await jwtDecrypt(sealed, this.#key);
      const { state, nonce, codeVerifier, returnTo } = payload;
      if ([state, nonce, codeVerifier, returnTo].every((v) => typeof v === "string")) {
        return { state, nonce, codeVerifier, returnTo } as LoginTransaction;
      }
    } catch {
      // fall through: an unreadable transaction is the same as none
    }
    return undefined;
  }
}
