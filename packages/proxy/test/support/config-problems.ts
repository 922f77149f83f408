// What the configuration unit tests share: the least OIDC settings a configuration loads with,
// and the problems a ConfigError lists (the messages a user reads), so each test asserts them.
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/load.ts";

export const OIDC = { OIDC_DISCOVERY_URL: "https://id.example.com", OIDC_CLIENT_ID: "proxy" };

/** The problems `run` refuses the configuration with; fails the test when it loads. */
export function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  assert.fail("expected a ConfigError");
}
