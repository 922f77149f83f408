#!/usr/bin/env bash
# Builds a Go tool that only make bench needs (oauth2-proxy, vegeta) from its pinned module in
# e2e/, once per machine: the binary is cached outside the repo, keyed by its version and by
# how it is built (the link flags and the module's go.sum). Concurrent callers wait for one
# build. Prints the path of the binary. Called by scripts/ensure-<tool>.sh, which say which
# version and flags:
#   build-go-tool.sh NAME MODULE_DIR PACKAGE VERSION LDFLAGS [CACHE_DIR]
set -euo pipefail
name="$1" module="$2" package="$3" version="$4" ldflags="$5"
recipe="$(printf '%s\n' "$ldflags" | cat - "$module/go.sum" | sha256sum | cut -c1-8)"
cache="${6:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-oidc-proxy/${name}-${version}-${recipe}}"
binary="$cache/$name"

if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-$name: Go is needed to build $name for make bench (apt-get install golang, or go.dev)" >&2
  exit 1
fi
mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
flock 9
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
echo "ensure-$name: building $name $version (first run only; a minute or a few)" >&2
staging="$(mktemp -d "$cache.tmp.XXXXXX")"
chmod 755 "$staging"
trap 'rm -rf "$staging"' EXIT
cd "$module"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
go build -trimpath -ldflags "$ldflags" -o "$staging/$name" "$package"
rm -rf "$cache"
mv "$staging" "$cache"
echo "$binary"
