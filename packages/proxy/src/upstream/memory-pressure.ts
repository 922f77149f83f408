// Whether the process is close to its memory limit, so that new event streams are refused
// (503 + Retry-After) instead of being taken until V8 runs out of heap or the kernel kills the
// container, which would end every stream already open (issue 14: a held stream costs ~16 KB
// of heap and ~20 KB of RSS, so a 256 MiB container holds ~5,000 of them). Two limits, as an
// overload manager keeps them: V8's heap (used against heap_size_limit, which the image's
// entrypoint sizes from the container's limit) and the process's resident memory against the
// container's limit (MCP_MEMORY_LIMIT, else the cgroup's). Read at most every
// READ_INTERVAL_MS, and only when a stream is asked for: no timer, nothing on plain requests.
// docs/decisions/028-streams-refused-near-the-memory-limit.md.
import v8 from "node:v8";

/**
 * Heap in use past this share of V8's limit. Not closer to it: streams already open keep
 * growing with their events and plain requests need room too (at 85 % a bench with 7,000
 * streams open and 50 connections of requests still ran out of heap).
 */
export const HEAP_SHARE = 0.75;
/** Resident memory past this share of the cgroup's limit: close to the kernel's OOM kill. */
export const RSS_SHARE = 0.9;
const READ_INTERVAL_MS = 250;
/** constrainedMemory() gives a huge value (or 0) where no limit is set: above this is none. */
const NO_LIMIT = 2 ** 50;

export interface MemoryReadings {
  heapUsed(): number;
  heapLimit(): number;
  rss(): number;
  /** The container's limit in bytes; 0 or a huge value when there is none. */
  limit(): number;
}

/**
 * The limit the image's entrypoint sized V8's heap from (deployments/docker/node-memory.sh):
 * MCP_MEMORY_LIMIT (bytes, Kubernetes' downward API gives limits.memory) or the cgroup's.
 */
function containerLimit(): number {
  const given = Number(process.env.MCP_MEMORY_LIMIT);
  return Number.isFinite(given) && given > 0 ? given : process.constrainedMemory();
}

const processReadings: MemoryReadings = {
  heapUsed: () => v8.getHeapStatistics().used_heap_size,
  heapLimit: () => v8.getHeapStatistics().heap_size_limit,
  rss: () => process.memoryUsage.rss(),
  limit: () => containerLimit(),
};

export class MemoryPressure {
  readonly #readings: MemoryReadings;
  /** The container's limit does not change while the process runs: read once. */
  readonly #limit: number;
  readonly #now: () => number;
  #readAt = Number.NEGATIVE_INFINITY;
  #high = false;

  constructor(readings: MemoryReadings = processReadings, now: () => number = Date.now) {
    this.#readings = readings;
    this.#limit = readings.limit();
    this.#now = now;
  }

  /** Whether memory is too short for one more stream (the last reading, at most 250 ms old). */
  high(): boolean {
    const now = this.#now();
    if (now - this.#readAt >= READ_INTERVAL_MS) {
      this.#readAt = now;
      this.#high = this.#read();
    }
    return this.#high;
  }

  #read(): boolean {
    const readings = this.#readings;
    if (readings.heapUsed() > HEAP_SHARE * readings.heapLimit()) return true;
    const limit = this.#limit;
    return limit > 0 && limit < NO_LIMIT && readings.rss() > RSS_SHARE * limit;
  }
}
