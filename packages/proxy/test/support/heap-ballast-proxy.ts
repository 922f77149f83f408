// Run as a child process by memory-pressure.test.ts (with a small heap and --expose-gc): a
// bypass proxy in front of argv[2] whose process can be brought near V8's heap limit on
// demand. Lines on stdin: "fill" keeps live arrays until the heap is 90 % used, "release"
// drops them and collects. Each answers with a JSON line on stdout, the first gives the URL.
import { createInterface } from "node:readline";
import v8 from "node:v8";
import { startBypassProxy } from "./bypass-proxy.ts";

const target = process.argv[2] as string;
const { proxy } = await startBypassProxy("{}\n", target);
let ballast: number[][] = [];

function fill(): void {
  const { heap_size_limit: limit } = v8.getHeapStatistics();
  while (v8.getHeapStatistics().used_heap_size < 0.9 * limit) ballast.push(new Array(16_384).fill(1.5));
}

function release(): void {
  ballast = [];
  (globalThis as { gc?: () => void }).gc?.();
}

const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
say({ url: proxy.url });
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "fill") fill();
  else if (line === "release") release();
  say({ done: line, heap_used: v8.getHeapStatistics().used_heap_size });
});
process.stdin.once("end", () => void proxy.shutdown().then(() => process.exit(0)));
