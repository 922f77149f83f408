#!/usr/bin/env bash
# Builds a real HashiCorp Vault server (the last MPL-2.0 release line) for the secret-source
# tests, from the Go module proxy, once per machine; the binary is cached outside the repo.
# Vault's module points its api/ and sdk/ at nested folders the module proxy leaves out, so
# the build uses the published api and sdk modules instead. Prints the binary's path.
set -euo pipefail
version="v1.14.10"
cache="${VAULT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-oidc-proxy/vault-${version}}"
if [ -x "$cache/vault" ]; then
  echo "$cache/vault"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-vault: Go is needed to build Vault (apt-get install golang, or go.dev)" >&2
  exit 1
fi
echo "ensure-vault: building Vault $version (first run only; several minutes)" >&2
source_dir="$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod go mod download -json "github.com/hashicorp/vault@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$source_dir/." "$work"
chmod -R u+w "$work"
cd "$work"
for nested in api api/auth/approle api/auth/kubernetes api/auth/userpass sdk; do
  go mod edit -dropreplace "github.com/hashicorp/vault/$nested"
done
mkdir -p "$cache.tmp"
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$cache.tmp/vault" .
rm -rf "$cache"
mv "$cache.tmp" "$cache"
echo "$cache/vault"
