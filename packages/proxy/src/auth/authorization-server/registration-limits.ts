// How much one dynamic client registration (RFC 7591) may hold. Registration is open to
// anyone, and every registered client is a record in the store, so without limits a 50 KB
// client_name or 2,000 redirect URIs were stored as sent (the security review of
// 2026-12-02). Real MCP clients register a name, a few redirect URIs and grant types: well
// inside these. The body is capped before oidc-provider reads it (a declared length) and
// once parsed (a chunked one); each field is checked in oidc-provider's metadata hook.
import type { NextFunction, Request, Response } from "express";
import { type Configuration, type KoaContextWithOIDC, errors as oidcErrors } from "oidc-provider";
import { OAuthError } from "../oauth-error.ts";

/** A registration request's body, in bytes (oidc-provider's own limit is 56 KiB). */
export const REGISTRATION_BODY_LIMIT = 16 * 1024;
/** Items in any list: redirect_uris, grant_types, contacts, ... */
export const LIST_LIMIT = 20;
/** Characters of a name shown to people (client_name on the consent page). */
export const NAME_LIMIT = 200;
/** Characters of any other string (a URI, a scope). */
export const STRING_LIMIT = 2048;

/**
 * RFC 7591 fields clients send that oidc-provider does not know (it dropped them). Kept
 * now, and the reason the metadata hook below runs: oidc-provider calls it only when some
 * extra property is declared.
 */
const EXTRA_PROPERTIES = ["software_id", "software_version"];

const tooLarge = (what: string) => new oidcErrors.InvalidClientMetadata(what);

function checkValue(key: string, value: unknown): void {
  if (typeof value === "string") {
    const limit = key === "client_name" ? NAME_LIMIT : STRING_LIMIT;
    if (value.length > limit) throw tooLarge(`${key} is longer than ${limit} characters`);
  } else if (Array.isArray(value)) {
    if (value.length > LIST_LIMIT) throw tooLarge(`${key} has more than ${LIST_LIMIT} entries`);
    for (const item of value) checkValue(key, item);
  }
}

/** The limits, on registration only: a client read from the store is not judged again. */
function checkRegistration(ctx: KoaContextWithOIDC | undefined, metadata: Record<string, unknown>): void {
  if (ctx?.oidc?.route !== "registration") return;
  for (const [key, value] of Object.entries(metadata)) checkValue(key, value);
  if (Buffer.byteLength(JSON.stringify(metadata)) > REGISTRATION_BODY_LIMIT)
    throw tooLarge(`the client metadata is larger than ${REGISTRATION_BODY_LIMIT} bytes`);
}

export const registrationMetadata: Configuration["extraClientMetadata"] = {
  properties: EXTRA_PROPERTIES,
  // Called once per extra property, with the whole metadata: check it once.
  validator: (ctx, key, _value, metadata) => {
    if (key === EXTRA_PROPERTIES[0]) checkRegistration(ctx, metadata as Record<string, unknown>);
  },
};

/** A body declared larger than the limit is refused before it is read: 413, in OAuth's words. */
export function registrationBodyCap(req: Request, res: Response, next: NextFunction): void {
  const length = Number(req.headers["content-length"] ?? 0);
  if (length <= REGISTRATION_BODY_LIMIT) {
    next();
    return;
  }
  res
    .status(413)
    .json(
      new OAuthError("invalid_client_metadata", `the registration is larger than ${REGISTRATION_BODY_LIMIT} bytes`),
    );
}
