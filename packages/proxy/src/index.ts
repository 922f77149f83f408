// Public entry points of the proxy package (used by tests, the demo and the serverless handler).
export { ConfigError, loadConfig } from "./config/load.ts";
export { type Config, type ConfigInput, configSchema } from "./config/schema.ts";
export { createLogger } from "./observability/logger.ts";
export { type RunningProxy, startProxy } from "./proxy-server.ts";
export { VERSION } from "./version.ts";
