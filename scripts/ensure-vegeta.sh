#!/usr/bin/env bash
# Builds vegeta, the constant-rate load generator of make bench's latency rows, from the pinned
# Go module in e2e/vegeta, once per machine: the binary is cached outside the repo, keyed by its
# version and by how it is built. Only make bench needs it (never make test). Concurrent callers
# wait for one build. Prints the path of the binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
module="$root/e2e/vegeta"
version="$(awk '$1 == "require" && $2 == "github.com/tsenart/vegeta/v12" { print $3; exit }' "$module/go.mod")"
ldflags="-s -w -X main.Version=${version}"
recipe="$(printf '%s\n' "$ldflags" | cat - "$module/go.sum" | sha256sum | cut -c1-8)"
cache="${VEGETA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-oidc-proxy/vegeta-${version}-${recipe}}"
binary="$cache/vegeta"

if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-vegeta: Go is needed to build vegeta for make bench (apt-get install golang, or go.dev)" >&2
  exit 1
fi
mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
flock 9
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
echo "ensure-vegeta: building vegeta $version (first run only; a minute)" >&2
staging="$(mktemp -d "$cache.tmp.XXXXXX")"
chmod 755 "$staging"
trap 'rm -rf "$staging"' EXIT
cd "$module"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
go build -trimpath -ldflags "$ldflags" -o "$staging/vegeta" github.com/tsenart/vegeta/v12
rm -rf "$cache"
mv "$staging" "$cache"
echo "$binary"
