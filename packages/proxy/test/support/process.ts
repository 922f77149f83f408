// A command run by a test as a user runs it: its exit and output, its JSON log lines, and an
// older Node to run it with (which makes the launcher start Node 24 as a child).
import { type ChildProcess, execFileSync } from "node:child_process";
import { createInterface } from "node:readline";

export async function finished(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d;
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stdout, stderr };
}

/** Resolves with the first JSON log line whose message matches. */
export function logLine(child: ChildProcess, message: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.message === message) {
          lines.close();
          resolve(entry);
        }
      } catch {
        // not a log line
      }
    });
  });
}

/** A Node older than 24 on this machine (Debian's), if any: run with it, a command's launcher starts Node 24 as a child. */
export function olderNode(): string | undefined {
  let found: string[] = [];
  try {
    found = execFileSync("which", ["-a", "node"], { encoding: "utf8" }).split("\n").filter(Boolean);
  } catch {
    return undefined;
  }
  return found.find((node) => {
    const version = execFileSync(node, ["-p", "process.versions.node"], { encoding: "utf8" });
    return Number(version.split(".")[0]) < 24;
  });
}
