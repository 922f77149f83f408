#!/usr/bin/env bash
# oauth2-proxy, which make bench measures beside mcp-oidc-proxy, built once per machine from the
# pinned Go module in e2e/oauth2-proxy (scripts/build-go-tool.sh). Prints the binary's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
module="$root/e2e/oauth2-proxy"
version="$(awk '{ for (i = 1; i < NF; i++) if ($i == "github.com/oauth2-proxy/oauth2-proxy/v7") { print $(i + 1); exit } }' "$module/go.mod")"
exec "$root/scripts/build-go-tool.sh" oauth2-proxy "$module" github.com/oauth2-proxy/oauth2-proxy/v7 "$version" \
  "-s -w -X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=${version#v}" "${OAUTH2_PROXY_CACHE:-}"
