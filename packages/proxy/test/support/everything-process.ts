// Starting and stopping test/support/everything-server.ts (the SDK's "everything" MCP server
// on a loopback port) as its own process: the tests that need a real, stateful MCP server
// with tools, resources, prompts and resumable streams share this.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";

const EVERYTHING = path.resolve(import.meta.dirname, "everything-server.ts");

export interface Everything {
  /** Its MCP endpoint, http://127.0.0.1:<port>/mcp. */
  url: string;
  /** Its origin: the proxy and the client both add the path /mcp. */
  origin: string;
  child: ChildProcess;
}

/** `address`: an optional loopback address and port (several "pods" of one DNS name). */
export async function startEverything(address: string[] = []): Promise<Everything> {
  const child = spawn(process.execPath, [EVERYTHING, ...address], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      if (line.startsWith("listening ")) resolve(line.slice("listening ".length).trim());
    });
    child.once("exit", (code) => reject(new Error(`everything server exited (${code})`)));
  });
  return { url, origin: new URL(url).origin, child };
}

export async function stopEverything(server: Everything | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}
