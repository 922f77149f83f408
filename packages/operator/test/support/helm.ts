// Helm for the chart tests: the binary scripts/ensure-helm.sh builds once per machine, run
// from the repository root (charts by their path there), or against a test API server.
// helm.test.ts and rbac-rules.test.ts each found and ran it their own way.
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import type { TestApiServer } from "./kube-api-server.ts";
import { run } from "./kubectl.ts";

const ROOT = path.resolve(import.meta.dirname, "../../../..");

let binary: string | undefined;

/** The cached helm binary's path (built on first use). */
export function helmBinary(): string {
  binary ??= execFileSync(path.join(ROOT, "scripts/ensure-helm.sh"), { encoding: "utf8" }).trim();
  return binary;
}

/** helm with these arguments, offline, from the repository root. */
export function helm(args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(helmBinary(), args, { encoding: "utf8", cwd: ROOT });
  return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}

/** helm with these arguments against the test API server (as its admin). */
export function helmAgainst(server: TestApiServer, args: string[]) {
  return run(helmBinary(), ["--kubeconfig", server.kubeConfigFile, ...args]);
}
