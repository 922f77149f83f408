// The single binary's entry point (make binary): the same command as bin/mcp-oidc-proxy.
import { main } from "../src/main.ts";

main(process.argv).catch((error: unknown) => {
  process.stderr.write(`mcp-oidc-proxy: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
