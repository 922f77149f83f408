#!/usr/bin/env bash
# Builds oauth2-proxy, which make bench measures beside mcp-oidc-proxy, from the pinned Go module
# in e2e/oauth2-proxy, once per machine: the binary is cached outside the repo, keyed by its
# version and by how it is built. Only make bench needs it (never make test). Concurrent
# callers wait for one build. Prints the path of the binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
module="$root/e2e/oauth2-proxy"
version="$(awk '{ for (i = 1; i < NF; i++) if ($i == "github.com/oauth2-proxy/oauth2-proxy/v7") { print $(i + 1); exit } }' "$module/go.mod")"
ldflags="-s -w -X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=${version#v}"
recipe="$(printf '%s\n' "$ldflags" | cat - "$module/go.sum" | sha256sum | cut -c1-8)"
cache="${OAUTH2_PROXY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-oidc-proxy/oauth2-proxy-${version}-${recipe}}"
binary="$cache/oauth2-proxy"

if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-oauth2-proxy: Go is needed to build oauth2-proxy for make bench (apt-get install golang, or go.dev)" >&2
  exit 1
fi
mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
flock 9
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
echo "ensure-oauth2-proxy: building oauth2-proxy $version (first run only; a few minutes)" >&2
staging="$(mktemp -d "$cache.tmp.XXXXXX")"
chmod 755 "$staging"
trap 'rm -rf "$staging"' EXIT
cd "$module"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
go build -trimpath -ldflags "$ldflags" -o "$staging/oauth2-proxy" github.com/oauth2-proxy/oauth2-proxy/v7
rm -rf "$cache"
mv "$staging" "$cache"
echo "$binary"
