// A process's resident memory as the memory benches print it: RSS from /proc/<pid>/status with
// its split into anonymous and file-backed pages, and the node binary's own pages among the
// latter (from /proc/<pid>/smaps). One owner for the figure memory.ts and library-floor.ts
// compare.
import { readFileSync } from "node:fs";

export interface ProcessMemory {
  rss: number;
  anon: number;
  file: number;
  binary: number;
}

/** Resident memory of `pid`, in MiB. */
export function processMemory(pid: number | undefined): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  let binary = 0;
  let current = "";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) current = mapping[1] ?? "";
    else if (line.startsWith("Rss:") && current.endsWith("/node")) binary += Number(line.split(/\s+/)[1]) / 1024;
  }
  return { rss: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile"), binary };
}

export function formatMemory(memory: ProcessMemory): string {
  const mib = (value: number) => value.toFixed(0);
  return `RSS ${mib(memory.rss)} MiB (anon ${mib(memory.anon)}, file ${mib(memory.file)} of which node binary ${mib(memory.binary)})`;
}
