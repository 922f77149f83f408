// The real kubectl (built beside kube-apiserver by scripts/ensure-kube-binaries.sh), run
// against a test API server. Every YAML file a user applies goes through it: kubectl reads
// YAML the 1.1 way (a plain `off` is the boolean false), which the yaml package the other
// helpers parse with does not, so only kubectl finds what a user's kubectl would refuse.
import { execFile } from "node:child_process";
import path from "node:path";
import { kubeBinariesDir, type TestApiServer } from "./kube-api-server.ts";
import type { Manifest } from "./manifests.ts";

export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (never throws for a non-zero exit), feeding `input` on stdin. */
export function run(binary: string, args: string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(binary, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") reject(error);
      else resolve({ status: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

let binary: string | undefined;
export function kubectlBinary(): string {
  binary ??= path.join(kubeBinariesDir(), "kubectl");
  return binary;
}

/** kubectl as the admin of `server`. */
export function kubectl(server: TestApiServer, args: string[], input?: string): Promise<CommandResult> {
  return run(kubectlBinary(), ["--kubeconfig", server.kubeConfigFile, ...args], input);
}

/** kubectl that must succeed: its stdout, or an error carrying what it printed. */
export async function kubectlOk(server: TestApiServer, args: string[], input?: string): Promise<string> {
  const result = await kubectl(server, args, input);
  if (result.status !== 0) {
    throw new Error(`kubectl ${args.join(" ")} exited with ${result.status}: ${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

/** What `kubectl apply -o json` printed: one object, or a List of them. */
function appliedObjects(json: string): Manifest[] {
  const output = JSON.parse(json) as Manifest & { items?: Manifest[] };
  return output.kind === "List" ? (output.items ?? []) : [output];
}

/** `-f FILE` for files and directories; `-f -` with the YAML text on stdin. */
export type Source = { file: string } | { yaml: string };

/**
 * `kubectl apply --server-side` of a file as a user runs it: a server dry run first, then
 * for real, then twice more. The API server settles some objects once (a CRD's
 * conditions), but a perpetual diff — what makes GitOps tools report OutOfSync forever —
 * would change the third apply too. Returns the objects as stored.
 */
export async function applyAndConverge(
  server: TestApiServer,
  source: Source,
  options: { fieldManager: string; dryRunFirst?: boolean },
): Promise<{ stored: Manifest[]; converged: boolean }> {
  const args = [
    "apply",
    "--server-side",
    `--field-manager=${options.fieldManager}`,
    "-f",
    "file" in source ? source.file : "-",
  ];
  const input = "yaml" in source ? source.yaml : undefined;
  if (options.dryRunFirst !== false) await kubectlOk(server, [...args, "--dry-run=server"], input);
  const stored = appliedObjects(await kubectlOk(server, [...args, "-o", "json"], input));
  const versions = async () =>
    appliedObjects(await kubectlOk(server, [...args, "-o", "json"], input)).map((o) => o.metadata.resourceVersion);
  const second = await versions();
  const third = await versions();
  return { stored, converged: JSON.stringify(second) === JSON.stringify(third) };
}
