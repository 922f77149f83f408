#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd the operator tests run against, from the pinned Go
# module in e2e/kube-binaries, once per machine: the binaries are cached outside the repo,
# keyed by the module's versions. Prints the directory that holds them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
module="$root/e2e/kube-binaries"
kube_version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$module/go.mod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" && $2 ~ /^v/ {print $2; exit}' "$module/go.mod")"
cache="${KUBE_BINARIES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-oidc-proxy/kube-${kube_version}-etcd-${etcd_version}}"

if [ -x "$cache/kube-apiserver" ] && [ -x "$cache/etcd" ]; then
  echo "$cache"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-kube-binaries: Go is needed to build kube-apiserver and etcd (apt-get install golang, or go.dev)" >&2
  exit 1
fi
echo "ensure-kube-binaries: building kube-apiserver $kube_version and etcd $etcd_version (first run only; several minutes)" >&2
mkdir -p "$cache.tmp"
cd "$module"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
go build -trimpath -ldflags "-s -w" -o "$cache.tmp/etcd" go.etcd.io/etcd/server/v3
go build -trimpath -ldflags "-s -w" -o "$cache.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
rm -rf "$cache"
mv "$cache.tmp" "$cache"
echo "$cache"
