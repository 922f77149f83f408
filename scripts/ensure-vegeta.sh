#!/usr/bin/env bash
# vegeta, the constant-rate load generator of make bench's latency rows, built once per machine
# from the pinned Go module in e2e/vegeta (scripts/build-go-tool.sh). Prints the binary's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
module="$root/e2e/vegeta"
version="$(awk '$1 == "require" && $2 == "github.com/tsenart/vegeta/v12" { print $3; exit }' "$module/go.mod")"
exec "$root/scripts/build-go-tool.sh" vegeta "$module" github.com/tsenart/vegeta/v12 "$version" \
  "-s -w -X main.Version=${version}" "${VEGETA_CACHE:-}"
