// One full garbage collection once the proxy is ready. Start-up (evaluating the modules,
// building the configuration's schemas, discovery) leaves ~15 MiB of garbage behind and V8's
// young generation grown to its maximum; V8 collects them only when the heap grows again,
// which an idle proxy never does, so they would stay resident: an idle proxy then sat at
// ~115 MiB instead of ~98. Node exposes a collection only behind --expose-gc, so the flag is
// set just long enough to take the function from a fresh context (nothing else sees a
// global `gc`). See docs/decisions/026-idle-memory.md.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

interface GcOptions {
  type: "major";
  execution: "sync";
  /** "last-resort": collect until nothing more is freed, and give the emptied pages back. */
  flavor: "last-resort";
}

export function collectStartupGarbage(): void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (options: GcOptions) => void;
  setFlagsFromString("--no-expose-gc");
  gc({ type: "major", execution: "sync", flavor: "last-resort" });
}
