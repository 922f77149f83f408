#!/bin/sh
# The image's entrypoint: sizes V8's heap from the container's memory limit, then runs the
# command it is given (exec: node stays PID 1 and receives SIGTERM). Node sizes its heap from
# the machine's memory, not the container's, so a 256 MiB pod would grow its heap until the
# kernel kills it instead of collecting garbage first. The limit is MCP_MEMORY_LIMIT (bytes,
# as Kubernetes' downward API gives limits.memory) or else the cgroup's (v2, then v1). Half
# of it goes to the old generation: the rest is Node itself (~45 MiB), compiled code, socket
# buffers outside the heap and the young generation, whose semi-spaces get 1/64 of the limit
# (1–16 MiB; V8 grows them to 32 MiB otherwise, and fills them, even when idle). A flag
# NODE_OPTIONS already sets wins over the derived one (the operator's image sets a 1 MiB
# young generation; decision 023). glibc's malloc gets two arenas instead of eight per core:
# memory freed after a burst of requests then goes back to it instead of staying fragmented
# (~20 MiB less RSS after the bench's load), and fixed trim and mmap thresholds: by default
# glibc raises them after the first large block is freed (up to 32 and 64 MiB), and then
# keeps that much freed memory at the top of its heap (~6 MiB idle, ~5 after load). The trim
# threshold stays at 128 KiB; blocks of 32 KiB and more are mapped on their own, so the
# segments of V8's compiler zones (32 KiB each, ~30 MiB at their start-up peak) go back to
# the kernel when freed instead of leaving glibc's heap fragmented at ~11 MiB (4 MiB with
# it: ~6 MiB less idle, ~10 after load; ~0.2 mmap+munmap per proxied request).
# See docs/decisions/020-proxy-footprint.md, 026-idle-memory.md and 031-idle-module-graph.md.
set -eu
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-131072}"
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-32768}"
limit="${MCP_MEMORY_LIMIT:-}"
for file in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do
  [ -n "$limit" ] && break
  [ -r "$file" ] && limit="$(cat "$file")"
done
case "$limit" in
  '' | max | *[!0-9]*) ;; # no limit known: Node's defaults
  *)
    mib=$((limit / 1048576))
    # A limit at or above 64 GiB is "unlimited" (cgroup v1 reports a huge number).
    if [ "$mib" -ge 16 ] && [ "$mib" -lt 65536 ]; then
      semi=$((mib / 64))
      [ "$semi" -ge 1 ] || semi=1
      [ "$semi" -le 16 ] || semi=16
      flags=""
      case " ${NODE_OPTIONS:-} " in
        *" --max-old-space-size="*) ;;
        *) flags="--max-old-space-size=$((mib / 2))" ;;
      esac
      case " ${NODE_OPTIONS:-} " in
        *" --max-semi-space-size="*) ;;
        *) flags="${flags:+$flags }--max-semi-space-size=$semi" ;;
      esac
      [ -z "$flags" ] || export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }$flags"
    fi
    ;;
esac
exec "$@"
