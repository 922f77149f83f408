// The authorization server's signing key (ID tokens, JWKS), derived from the session secret
// with HKDF: every replica that shares the secret signs with the same key, no key file to
// distribute, and rotating the secret rotates the key.
import { createECDH, hkdfSync } from "node:crypto";
import { calculateJwkThumbprint, type JWK } from "jose";

// The order of P-256: a derived scalar must lie in [1, n-1].
const P256_ORDER = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

export async function deriveSigningKey(secret: string): Promise<JWK> {
  for (let counter = 0; ; counter++) {
    const scalar = Buffer.from(
      hkdfSync("sha256", secret, "mcp-oidc-proxy", `authorization server signing key ${counter}`, 32),
    );
    const value = BigInt(`0x${scalar.toString("hex")}`);
    if (value === 0n || value >= P256_ORDER) continue;
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(scalar);
    const point = ecdh.getPublicKey();
    const publicJwk: JWK = {
      kty: "EC",
      crv: "P-256",
      x: point.subarray(1, 33).toString("base64url"),
      y: point.subarray(33, 65).toString("base64url"),
    };
    return {
      ...publicJwk,
      d: scalar.toString("base64url"),
      kid: await calculateJwkThumbprint(publicJwk),
      alg: "ES256",
      use: "sig",
    };
  }
}
