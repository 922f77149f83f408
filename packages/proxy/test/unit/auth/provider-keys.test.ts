// The provider's keys while the provider cannot hand them out (decision 050), through the
// verifier that uses them: a good token is a 503 (the client keeps it), never a 401; keys
// fetched before stay in use while a refetch fails; while the provider fails nobody waits
// for it. The provider is a fetch the test answers; the clock is the test's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { BearerError, BearerVerifier } from "../../../src/auth/bearer-verifier.ts";
import { KEYS_MAX_AGE_MS, KEYS_RETRY_MS } from "../../../src/auth/provider-keys.ts";
import { ProxyError } from "../../../src/errors.ts";

const ISSUER = "https://id.example";
const JWKS_URI = new URL(`${ISSUER}/jwks`);

async function signingKey(kid: string) {
  const pair = await generateKeyPair("RS256");
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid, alg: "RS256", use: "sig" };
  const sign = (now: number) =>
    new SignJWT({ scope: "mcp" })
      .setProtectedHeader({ alg: "RS256", kid })
      .setIssuer(ISSUER)
      .setSubject("alice")
      .setAudience("https://mcp.example")
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(now / 1000) + 3600)
      .sign(pair.privateKey);
  return { jwk, sign };
}

/** The provider as the verifier's fetch: it serves `keys`, or (down) fails as a refused connection does. */
function provider(keys: JWK[]) {
  const state = { keys, down: false, status: 200, requests: 0, answered: Promise.resolve() };
  const fetch = (_url: string | URL, _init?: RequestInit): Promise<Response> => {
    state.requests++;
    const answer = state.down
      ? Promise.reject(new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED") }))
      : Promise.resolve(Response.json({ keys: state.keys }, { status: state.status }));
    // A settled promise the test can await before looking (the fetch ran behind a request).
    state.answered = answer.then(
      () => undefined,
      () => undefined,
    );
    return answer;
  };
  return { state, fetch };
}

function verifierWith(fetch: ReturnType<typeof provider>["fetch"], clock: { now: number }) {
  const warnings: string[] = [];
  const logger = { warn: (message: string) => warnings.push(message), info: () => undefined } as never;
  const verifier = new BearerVerifier({
    jwksUri: JWKS_URI,
    issuer: ISSUER,
    mapping: { groupsClaim: "groups", provider: ISSUER, trustEmailWithoutVerifiedClaim: false },
    cacheTtlMs: 0,
    jwksCooldownMs: 30_000,
    fetch,
    logger,
    now: () => clock.now,
  });
  return { verifier, warnings };
}

/** The verifier's rejection, asserted to be a 503 for the provider (not a BearerError about the token). */
async function assertUnavailable(promise: Promise<unknown>) {
  const error = await promise.then(
    () => assert.fail("the token was accepted"),
    (e: unknown) => e,
  );
  assert.ok(!(error instanceof BearerError), `a ${String(error)} about the token`);
  assert.ok(error instanceof ProxyError);
  assert.equal(error.status, 503);
  assert.equal(error.retryAfter, KEYS_RETRY_MS / 1000);
}

/** Lets a fetch started behind a request settle, and the verifier take its outcome. */
async function settled(state: { answered: Promise<void> }) {
  await state.answered;
  await new Promise((resolve) => setImmediate(resolve));
}

describe("ProviderKeys: the provider's keys while it cannot hand them out", () => {
  it("a good token meets a provider that never handed its keys out: 503, and at once the next time (no second fetch)", async () => {
    const key = await signingKey("key-a");
    const idp = provider([key.jwk]);
    idp.state.down = true;
    const clock = { now: Date.now() };
    const { verifier, warnings } = verifierWith(idp.fetch, clock);
    const token = await key.sign(clock.now);
    await assertUnavailable(verifier.verify(token));
    await assertUnavailable(verifier.verify(token));
    assert.equal(idp.state.requests, 1, "the second request waited for no fetch of its own");
    assert.deepEqual(warnings, ["identity provider's signing keys could not be fetched"]);

    idp.state.down = false;
    clock.now += KEYS_RETRY_MS;
    // The first request after the retry time starts a fetch behind it and is not kept waiting.
    await assertUnavailable(verifier.verify(token));
    await settled(idp.state);
    assert.equal((await verifier.verify(token)).user.id, "alice");
  });

  it("keys fetched before stay in use while their refetch fails; the refetch runs behind the requests", async () => {
    const key = await signingKey("key-a");
    const idp = provider([key.jwk]);
    const clock = { now: Date.now() };
    const { verifier, warnings } = verifierWith(idp.fetch, clock);
    assert.equal((await verifier.verify(await key.sign(clock.now))).user.id, "alice");

    idp.state.down = true;
    clock.now += KEYS_MAX_AGE_MS;
    const token = await key.sign(clock.now);
    assert.equal((await verifier.verify(token)).user.id, "alice");
    await settled(idp.state);
    assert.equal(idp.state.requests, 2, "the refetch was tried");
    assert.equal((await verifier.verify(token)).user.id, "alice");
    assert.equal(idp.state.requests, 2, "not again within the retry time");
    assert.deepEqual(warnings, ["identity provider's signing keys could not be fetched"]);
  });

  it("a provider answering other than 200 is a 503 too", async () => {
    const key = await signingKey("key-a");
    const idp = provider([key.jwk]);
    idp.state.status = 500;
    const clock = { now: Date.now() };
    await assertUnavailable(verifierWith(idp.fetch, clock).verifier.verify(await key.sign(clock.now)));
  });

  it("a rotated key is fetched; an unknown key within the cooldown is the token's fault (401)", async () => {
    const keyA = await signingKey("key-a");
    const keyB = await signingKey("key-b");
    const idp = provider([keyA.jwk]);
    const clock = { now: Date.now() };
    const { verifier } = verifierWith(idp.fetch, clock);
    await verifier.verify(await keyA.sign(clock.now));
    const tokenB = await keyB.sign(clock.now);
    await assert.rejects(verifier.verify(tokenB), (e: unknown) => e instanceof BearerError && e.status === 401);

    idp.state.keys = [keyA.jwk, keyB.jwk];
    clock.now += 30_000;
    assert.equal((await verifier.verify(tokenB)).user.id, "alice");
  });

  it("an unknown key while the provider does not answer is a 503: it may be a rotation", async () => {
    const keyA = await signingKey("key-a");
    const keyB = await signingKey("key-b");
    const idp = provider([keyA.jwk]);
    const clock = { now: Date.now() };
    const { verifier } = verifierWith(idp.fetch, clock);
    await verifier.verify(await keyA.sign(clock.now));
    idp.state.down = true;
    clock.now += 30_000;
    await assertUnavailable(verifier.verify(await keyB.sign(clock.now)));
    assert.equal((await verifier.verify(await keyA.sign(clock.now))).user.id, "alice", "known keys still pass");
  });
});
