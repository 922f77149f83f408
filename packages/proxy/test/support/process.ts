// A command run by a test as a user runs it: its exit and output, and its JSON log lines.
import type { ChildProcess } from "node:child_process";
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
