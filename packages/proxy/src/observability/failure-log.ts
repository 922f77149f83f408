// The log line of a request the proxy could not serve. A fault of the proxy's own (500) is
// an error, one line per request. A dependency that is down or silent (503: the session store,
// the provider) fails every request the same way: a line per request would bury the log
// under thousands of identical ones during the outage (a security review saw exactly that),
// so those are warnings, one per cause per interval, counting the requests since the last.
import type { ProxyError } from "../errors.ts";
import type { Logger } from "./logger.ts";

/** How often the same unavailable dependency is logged again while it stays so. */
export const OUTAGE_LOG_INTERVAL_MS = 10_000;
/** Causes remembered at once: beyond, the oldest is forgotten (and logged again when seen). */
const MAX_CAUSES = 64;

interface Repeats {
  loggedAt: number;
  since: number;
}

export type FailureLog = (failure: ProxyError) => void;

function causeOf(failure: ProxyError): string {
  return (failure.cause as Error | undefined)?.message ?? failure.message;
}

const perLogger = new WeakMap<Logger, FailureLog>();

/** The failure log of `logger`: one per logger, so every place that logs failures shares its counts. */
export function failureLogOf(logger: Logger): FailureLog {
  let log = perLogger.get(logger);
  if (!log) {
    log = failureLog(logger);
    perLogger.set(logger, log);
  }
  return log;
}

export function failureLog(logger: Logger, now: () => number = Date.now): FailureLog {
  const repeats = new Map<string, Repeats>();
  return (failure) => {
    const error = causeOf(failure);
    if (failure.status !== 503) {
      logger.error("request failed", { code: failure.code, error });
      return;
    }
    const key = `${failure.code} ${error}`;
    const seen = repeats.get(key);
    if (seen && now() - seen.loggedAt < OUTAGE_LOG_INTERVAL_MS) {
      seen.since += 1;
      return;
    }
    repeats.delete(key);
    if (repeats.size >= MAX_CAUSES) repeats.delete(repeats.keys().next().value as string);
    repeats.set(key, { loggedAt: now(), since: 0 });
    logger.warn("requests refused: a dependency is unavailable", {
      code: failure.code,
      error,
      // Those refused since this cause was last logged (0 the first time).
      refused_since_last: seen?.since ?? 0,
    });
  };
}
