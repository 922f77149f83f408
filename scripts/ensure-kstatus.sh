#!/usr/bin/env bash
# Builds e2e/kstatus (cli-utils' kstatus, what Flux and cli-utils read from a resource's
# status) once per machine, cached outside the repo by the pinned version. Prints the
# binary's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
module="$root/e2e/kstatus"
version="$(awk '$1 == "sigs.k8s.io/cli-utils" && $2 ~ /^v/ {print $2; exit}' "$module/go.mod")"
binary="${XDG_CACHE_HOME:-$HOME/.cache}/mcp-oidc-proxy/kstatus-${version}"

if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-kstatus: Go is needed to build kstatus (apt-get install golang, or go.dev)" >&2
  exit 1
fi
mkdir -p "$(dirname "$binary")"
cd "$module"
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$binary.tmp" .
mv "$binary.tmp" "$binary"
echo "$binary"
