// What kstatus — the status library of Flux and cli-utils — concludes from an object,
// computed by the real library (e2e/kstatus, built once by scripts/ensure-kstatus.sh).
import { execFileSync } from "node:child_process";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dirname, "../../../..");
let binary: string | undefined;

export function kstatus(object: unknown): { status: string; message: string } {
  binary ??= execFileSync(path.join(repoRoot, "scripts/ensure-kstatus.sh"), { encoding: "utf8" }).trim();
  const [status = "", message = ""] = execFileSync(binary, { input: JSON.stringify(object), encoding: "utf8" })
    .trim()
    .split("\t");
  return { status, message };
}
