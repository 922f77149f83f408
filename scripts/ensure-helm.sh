#!/usr/bin/env bash
# Builds the helm command the chart tests run, from the pinned Go module in e2e/helm, once
# per machine: the binary is cached outside the repo, keyed by its version. Prints its path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
module="$root/e2e/helm"
version="$(grep -oE 'helm\.sh/helm/v4 v[0-9][^ ]*' "$module/go.mod" | head -n 1 | cut -d' ' -f2)"
cache="${HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-oidc-proxy/helm-${version}}"

if [ -x "$cache/helm" ]; then
  echo "$cache/helm"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-helm: Go is needed to build helm (apt-get install golang, or go.dev)" >&2
  exit 1
fi
echo "ensure-helm: building helm $version (first run only; a minute or two)" >&2
mkdir -p "$cache.tmp"
cd "$module"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version" -o "$cache.tmp/helm" helm.sh/helm/v4/cmd/helm
rm -rf "$cache"
mv "$cache.tmp" "$cache"
echo "$cache/helm"
