// The proxy's version, from its package.json (inlined when bundled into the single binary).
import packageJson from "../package.json" with { type: "json" };

export const VERSION: string = packageJson.version;
