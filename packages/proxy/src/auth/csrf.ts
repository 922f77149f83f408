// Anti-forgery tokens of the proxy's own forms (consent, sign-out, connected clients): a random
// token kept in the server-side session and repeated in the form; a post without the same
// token changes nothing. Compared in constant time.
import { randomBytes, timingSafeEqual } from "node:crypto";

export function newCsrfToken(): string {
  return randomBytes(24).toString("base64url");
}

export function sameCsrfToken(expected: string | undefined, sent: unknown): boolean {
  if (expected === undefined || typeof sent !== "string") return false;
  const left = Buffer.from(expected);
  const right = Buffer.from(sent);
  return left.length === right.length && timingSafeEqual(left, right);
}
