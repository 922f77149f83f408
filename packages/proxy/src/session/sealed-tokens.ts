// The provider's tokens in a browser session (ID token, refresh token, expiry) are sealed
// before the session record goes to Redis and opened when it is read back: whoever reads
// the store (a backup, a replica, KEYS and GET) gets nothing that works at the provider. The
// same secret box as the authorization server's account records, with its own purpose: the
// key comes from session.secret, and every configured secret opens, so a rotation (new
// secret first) keeps sessions readable. The rest of the record (the user, timestamps) stays
// readable for operators. A record written before sealing existed is read as it is and
// sealed on its next write.
import type { SessionData, Store } from "express-session";
import { SecretBox } from "./secret-box.ts";

type StoredRecord = SessionData & { sealedTokens?: string };

/** `store` with its get and set sealing and opening the session's tokens. */
export function sealingTokens(store: Store, secrets: readonly string[]): Store {
  const box = new SecretBox([...secrets], "session-tokens");
  const get = store.get.bind(store);
  const set = store.set.bind(store);
  store.set = (sid, session, callback) => {
    seal(box, session).then(
      (sealed) => set(sid, sealed, callback),
      (error: unknown) => callback?.(error),
    );
  };
  store.get = (sid, callback) => {
    get(sid, (error, record) => {
      if (error || !record) return callback(error, record);
      open(box, record as StoredRecord).then(
        (session) => callback(null, session),
        (failure: unknown) => callback(failure),
      );
    });
  };
  return store;
}

/** A copy without `tokens` (the session object itself is express-session's, left as it is). */
async function seal(box: SecretBox, session: SessionData): Promise<StoredRecord> {
  const { tokens, ...rest } = session;
  if (tokens === undefined) return rest as SessionData;
  return { ...(rest as SessionData), sealedTokens: await box.seal(JSON.stringify(tokens)) };
}

/** The session with its tokens; without them when no configured secret opens them any more. */
async function open(box: SecretBox, record: StoredRecord): Promise<SessionData> {
  const { sealedTokens, ...rest } = record;
  if (sealedTokens === undefined) return rest as SessionData;
  const tokens = await box.open(sealedTokens);
  return tokens === undefined ? (rest as SessionData) : { ...(rest as SessionData), tokens: JSON.parse(tokens) };
}
