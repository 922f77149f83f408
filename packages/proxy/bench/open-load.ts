// The open-model load of make bench's latency rows: vegeta (Go, built once per machine by
// scripts/ensure-vegeta.sh) sends requests at a constant rate whatever the answers, as clients
// arriving independently do, where autocannon's closed loop (and its bursty -R) waits for
// answers and so hides the queueing a slow answer causes. Latency is counted from each
// request's scheduled send time: vegeta times a request from when it actually sent it, so the
// time it sent late (a busy machine, its own scheduler) is added back and cannot hide a queue
// (no coordinated omission). How late it sent and the CPU it used are returned beside, so a
// reader can tell the generator from what it measures. Every answer must be a 2xx. The targets
// take turns in one-second slices (decision 027).
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "csv-parse/sync";

/** Each target's turn: a slice of this many ms, after a warm-up whose requests are not counted. */
const SLICE_MS = 1000;
/** Long enough for vegeta's first connections to be open (the first requests of a slice open them). */
const WARM_UP_MS = 100;

/** The cached vegeta binary (built on first use: a minute). */
export function vegetaBinary(): string {
  const script = path.resolve(import.meta.dirname, "../../../scripts/ensure-vegeta.sh");
  return execFileSync(script, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

export interface OpenLoadFigures {
  name: string;
  /** Latency percentiles in ms, from each request's scheduled send time. */
  p50: number;
  p99: number;
  p999: number;
  /** Requests sent and answered, counted slices only, against what the rate asks for (the generator kept up). */
  sent: number;
  scheduled: number;
  /** How late the generator sent, p99, in ms (already inside the percentiles above). */
  lateP99: number;
  /** The generator's CPU time over the run, as a share of one core. */
  generatorCores: number;
}

/** CPU seconds of this process's children that have exited and been waited for (vegeta's, once it ends). */
function exitedChildrenCpuSeconds(): number {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime, clock ticks (USER_HZ = 100)
}

/** The `quantile` (0–1) of sorted values, nearest rank. */
export function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

/** The timings of one attack on one target: latencies from scheduled send time and lateness, ms. */
interface Samples {
  latency: number[];
  late: number[];
  cpuSeconds: number;
}

/**
 * POSTs `body` to `url` at `rate` requests a second for one slice (and its warm-up) with vegeta,
 * then reads every result. The caller makes sure no other child process exits meanwhile: its CPU
 * would count as vegeta's.
 */
async function attack(
  vegeta: string,
  name: string,
  url: string,
  options: { rate: number; headers: Record<string, string>; body: string; maxConnections?: number | undefined },
): Promise<Samples> {
  const dir = mkdtempSync(path.join(tmpdir(), "bench-vegeta-"));
  try {
    const header = Object.fromEntries(Object.entries(options.headers).map(([key, value]) => [key, [value]]));
    const target = { method: "POST", url, header, body: Buffer.from(options.body).toString("base64") };
    writeFileSync(path.join(dir, "targets.json"), `${JSON.stringify(target)}\n`);
    const cpuBefore = exitedChildrenCpuSeconds();
    const child = spawn(
      vegeta,
      [
        "attack",
        "-format=json",
        `-targets=${path.join(dir, "targets.json")}`,
        `-rate=${options.rate}/1s`,
        `-duration=${WARM_UP_MS + SLICE_MS}ms`,
        "-timeout=10s",
        ...(options.maxConnections ? [`-max-connections=${options.maxConnections}`] : []),
        `-output=${path.join(dir, "results.bin")}`,
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    const [code] = await once(child, "exit");
    if (code !== 0) throw new Error(`${name}: vegeta attack exited with ${code}`);
    const cpuSeconds = exitedChildrenCpuSeconds() - cpuBefore;
    const csv = execFileSync(vegeta, ["encode", "-to=csv", path.join(dir, "results.bin")], {
      encoding: "utf8",
      maxBuffer: 2 ** 30,
    });
    return { cpuSeconds, ...samplesOf(name, parse(csv) as string[][], options.rate) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Timings from vegeta's CSV results (columns: timestamp ns, status, latency ns, bytes out,
 * bytes in, error, body, attack, seq, …). Its constant pacer schedules request `seq` at
 * start + seq × interval; the start is taken from the request sent least late.
 */
export function samplesOf(name: string, records: string[][], rate: number): Omit<Samples, "cpuSeconds"> {
  const failed = records.filter(([, status, , , , error]) => !status?.startsWith("2") || error);
  if (failed.length > 0 || records.length === 0)
    throw new Error(`${name}: ${failed.length} of ${records.length} failed (${failed[0]?.[5] || failed[0]?.[1]})`);
  const interval = Math.floor(1e9 / rate); // vegeta's own rounding of the interval, ns
  // Timestamps in ns since the first result (exact as numbers: epoch ns are not).
  const first = BigInt(records[0]?.[0] ?? 0);
  const behind = records.map((record) => Number(BigInt(record[0] ?? 0) - first) - Number(record[8]) * interval);
  const start = behind.reduce((least, at) => Math.min(least, at));
  const warmUp = (rate * WARM_UP_MS) / 1000;
  const late: number[] = [];
  const latency: number[] = [];
  records.forEach((record, i) => {
    if (Number(record[8]) < warmUp) return;
    const lateMs = ((behind[i] ?? start) - start) / 1e6;
    late.push(lateMs);
    latency.push(Number(record[2]) / 1e6 + lateMs);
  });
  return { late, latency };
}

export interface OpenLoadTarget {
  name: string;
  url: string;
  headers: Record<string, string>;
  /**
   * A cap on vegeta's connections, for a target past its saturation: it would otherwise get
   * a connection per queued request, each left in TIME_WAIT (with oauth2-proxy's own churn
   * upstream, Go keeping 2 idle connections per host, that used up loopback's ephemeral
   * ports: "bind: address already in use"). Requests past it wait in vegeta, their wait
   * counted in their latency. Not for the others: a cap turns a short stall into a queue.
   */
  maxConnections?: number;
}

/**
 * The same constant rate through each target for `seconds` in all, in one-second slices taken in
 * turn (a slice of each target, then the next round), so that the shared machine's busy moments
 * fall on every target alike rather than on whichever ran then; each slice follows a warm-up of
 * its own, not counted. Percentiles over all the slices, the warm-ups left out.
 */
export async function openLoad<K extends string>(
  targets: Record<K, OpenLoadTarget>,
  options: { rate: number; seconds: number; body: string },
): Promise<Record<K, OpenLoadFigures>> {
  const vegeta = vegetaBinary();
  const rate = Math.round(options.rate);
  const keys = Object.keys(targets) as K[];
  const samples = new Map<K, Samples[]>(keys.map((key) => [key, []]));
  for (let round = 0; round < Math.max(1, Math.round((options.seconds * 1000) / SLICE_MS)); round++) {
    for (const key of keys) {
      const { name, url, headers, maxConnections } = targets[key];
      samples.get(key)?.push(await attack(vegeta, name, url, { rate, headers, body: options.body, maxConnections }));
    }
  }
  const figures = (key: K): OpenLoadFigures => {
    const slices = samples.get(key) ?? [];
    const latency = Float64Array.from(slices.flatMap((slice) => slice.latency)).sort();
    const late = Float64Array.from(slices.flatMap((slice) => slice.late)).sort();
    const cpuSeconds = slices.reduce((sum, slice) => sum + slice.cpuSeconds, 0);
    return {
      name: targets[key].name,
      p50: quantile(latency, 0.5),
      p99: quantile(latency, 0.99),
      p999: quantile(latency, 0.999),
      sent: latency.length,
      scheduled: Math.round((slices.length * rate * SLICE_MS) / 1000),
      lateP99: quantile(late, 0.99),
      generatorCores: cpuSeconds / ((slices.length * (WARM_UP_MS + SLICE_MS)) / 1000),
    };
  };
  return Object.fromEntries(keys.map((key) => [key, figures(key)])) as Record<K, OpenLoadFigures>;
}
