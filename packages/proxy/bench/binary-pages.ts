// Which parts of the node binary a process has paged in: its resident pages (from
// /proc/<pid>/pagemap) attributed to the binary's symbols (nm) and grouped by C++ namespace.
// The binary's own pages are over half of the idle proxy's RSS (docs/performance.md); this says
// which of V8's compilers, WebAssembly, ICU or Node's built-in modules put them there.
// `BENCH_MEMORY_BINARY=1 make bench-memory` prints it beside the bare Node server's.
import { execFileSync } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync } from "node:fs";

const PAGE = 4096;

interface Section {
  name: string;
  address: number;
  offset: number;
  size: number;
}
interface SymbolRange {
  start: number;
  end: number;
  group: string;
}

function sections(binary: string): Section[] {
  const found: Section[] = [];
  for (const line of execFileSync("readelf", ["-S", "-W", binary], { encoding: "utf8" }).split("\n")) {
    const match = /\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (!match?.[1] || !match[2] || !match[3] || !match[4]) continue;
    const address = Number.parseInt(match[2], 16);
    if (address > 0) {
      found.push({
        name: match[1],
        address,
        offset: Number.parseInt(match[3], 16),
        size: Number.parseInt(match[4], 16),
      });
    }
  }
  return found;
}

/** A symbol's group: V8's builtins together, else its namespace three levels deep. */
function groupOf(name: string): string {
  if (name.startsWith("Builtins_")) return "V8 embedded builtins";
  if (name.startsWith("icudt")) return "ICU data";
  const parts = name.replace(/[(<].*$/, "").split("::");
  return parts.slice(0, Math.max(1, Math.min(3, parts.length - 1))).join("::");
}

function symbols(binary: string): SymbolRange[] {
  const listing = execFileSync("nm", ["-S", "-C", "--defined-only", binary], { encoding: "utf8", maxBuffer: 1 << 30 });
  const found: SymbolRange[] = [];
  for (const line of listing.split("\n")) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) \S (.*)$/.exec(line);
    if (!match?.[1] || !match[2] || match[3] === undefined) continue;
    const start = Number.parseInt(match[1], 16);
    const size = Number.parseInt(match[2], 16);
    if (size > 0) found.push({ start, end: start + size, group: groupOf(match[3]) });
  }
  return found.sort((a, b) => a.start - b.start);
}

/** Virtual addresses (in the binary's own layout) of the process's resident pages of it. */
function residentPages(pid: number, binary: string): { address: number; section: Section }[] {
  const layout = sections(binary);
  const pagemap = openSync(`/proc/${pid}/pagemap`, "r");
  const entry = Buffer.alloc(8);
  const pages: { address: number; section: Section }[] = [];
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
      const [range, , offset, , , file] = line.split(/\s+/);
      if (file !== binary || !range || !offset) continue;
      const [start = 0, end = 0] = range.split("-").map((hex) => Number.parseInt(hex, 16));
      for (let page = start; page < end; page += PAGE) {
        readSync(pagemap, entry, 0, 8, (page / PAGE) * 8);
        if (!(entry.readBigUInt64LE() >> 63n)) continue;
        const fileOffset = Number.parseInt(offset, 16) + (page - start);
        const section = layout.find((s) => fileOffset >= s.offset && fileOffset < s.offset + s.size);
        if (section) pages.push({ address: section.address + (fileOffset - section.offset), section });
      }
    }
  } finally {
    closeSync(pagemap);
  }
  return pages;
}

/** MiB of the binary resident in the process, per "section group". */
export function binaryPages(pid: number): Map<string, number> {
  const binary = nodeBinaryOf(pid);
  const ranges = symbols(binary);
  const totals = new Map<string, number>();
  const add = (key: string, bytes: number) => totals.set(key, (totals.get(key) ?? 0) + bytes / 2 ** 20);
  for (const { address, section } of residentPages(pid, binary)) {
    let first = lowerBound(ranges, address);
    let attributed = 0;
    for (; first < ranges.length && (ranges[first]?.start ?? Infinity) < address + PAGE; first++) {
      const range = ranges[first] as SymbolRange;
      const overlap = Math.min(address + PAGE, range.end) - Math.max(address, range.start);
      if (overlap > 0) add(`${section.name} ${range.group}`, overlap);
      attributed += Math.max(0, overlap);
    }
    if (attributed < PAGE) add(`${section.name} (no symbol)`, PAGE - attributed);
  }
  return totals;
}

function nodeBinaryOf(pid: number): string {
  for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
    const file = line.split(/\s+/)[5];
    if (file?.endsWith("/node")) return file;
  }
  throw new Error(`process ${pid} maps no node binary`);
}

/** The first range ending after address (symbols of one page may start before it). */
function lowerBound(ranges: SymbolRange[], address: number): number {
  let low = 0;
  let high = ranges.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((ranges[middle]?.end ?? 0) <= address) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The groups where `pages` exceeds `baseline` most, one line each. */
export function binaryPagesReport(pages: Map<string, number>, baseline: Map<string, number>, lines = 12): string {
  const rows = [...new Set([...pages.keys(), ...baseline.keys()])]
    .map((group) => ({ group, mib: pages.get(group) ?? 0, more: (pages.get(group) ?? 0) - (baseline.get(group) ?? 0) }))
    .sort((a, b) => b.more - a.more)
    .slice(0, lines);
  return rows
    .map(({ group, mib, more }) => `  ${more.toFixed(1).padStart(5)} MiB more (${mib.toFixed(1)} in all)  ${group}`)
    .join("\n");
}
